//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/demo"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/testbrowser"
	"github.com/surveyops/survey-operator/internal/token"
)

// httpClient reaches Services by cluster IP from the host. It opens a connection per request:
// a request made before kube-proxy routes a new Service leaves the host by its default route
// (here the sandbox's network answers it, 404), and a kept-alive connection would stay there,
// never NATed, however long one waited.
var httpClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// programme is one spec's namespace: a mail sink, an audience of synthetic tenants and the
// demo's tenant satisfaction campaign sending to the sink, one wave at creation.
type programme struct {
	ns, mailURL, surveyURL string
	campaign               *v1alpha1.SurveyCampaign
}

func newProgramme(name string, tenants int, mutate func(*v1alpha1.SurveyCampaign)) *programme {
	p := &programme{ns: fmt.Sprintf("e2e-%s-%04d", name, rand.IntN(10000))}
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}})).To(Succeed())
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			dump(p.ns)
		}
		_, _ = kubectlOut("", "delete", "namespace", p.ns, "--wait=false")
	})
	sink, err := os.ReadFile("../../config/demo/riverside/mailsink.yaml")
	Expect(err).NotTo(HaveOccurred())
	_, err = kubectlOut(string(sink), "-n", p.ns, "apply", "-f", "-")
	Expect(err).NotTo(HaveOccurred())

	var audience bytes.Buffer
	Expect(demo.WriteAudience(&audience, tenants, rand.Uint64())).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: "riverside-tenants"},
		Data: map[string][]byte{"tenants.csv": audience.Bytes()}})).To(Succeed())

	data, err := os.ReadFile("../../config/demo/riverside/campaign.yaml")
	Expect(err).NotTo(HaveOccurred())
	c := &v1alpha1.SurveyCampaign{}
	Expect(yaml.UnmarshalStrict(data, c)).To(Succeed())
	c.Namespace = p.ns
	c.Spec.Channels[0].Email.SMTP.Host = "mailsink." + p.ns + ".svc"
	// No cron: one wave, at creation.
	c.Spec.Schedule.Cron, c.Spec.Schedule.TimeZone, c.Spec.Schedule.Reminders = "", "", nil
	if mutate != nil {
		mutate(c)
	}
	p.campaign = c

	run("-n", p.ns, "rollout", "status", "deployment/mailsink", "--timeout", "120s")
	p.mailURL = "http://" + clusterIP(p.ns, "mailsink") + ":8025"
	p.surveyURL = "http://" + clusterIP(system, "survey-operator-collector") + ":8080"
	return p
}

func clusterIP(ns, name string) string {
	var svc corev1.Service
	ExpectWithOffset(2, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc)).To(Succeed())
	return svc.Spec.ClusterIP
}

func (p *programme) start() { Expect(k8s.Create(ctx, p.campaign)).To(Succeed()) }

func (p *programme) get() *v1alpha1.SurveyCampaign {
	var c v1alpha1.SurveyCampaign
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(p.campaign), &c)).To(Succeed())
	return &c
}

// wave is the campaign's one wave (empty until it starts).
func (p *programme) wave() v1alpha1.WaveStatus {
	if ws := p.get().Status.Waves; len(ws) > 0 {
		return ws[0]
	}
	return v1alpha1.WaveStatus{}
}

// mails reads the mail sink (for Eventually: an error until the Service answers).
func (p *programme) mails() ([]demo.Mail, error) { return demo.Mailbox(ctx, httpClient, p.mailURL) }

func (p *programme) mustMails() []demo.Mail {
	m, err := p.mails()
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return m
}

func (p *programme) count() (int, error) {
	m, err := p.mails()
	return len(m), err
}

func (p *programme) jobs() []string {
	var jobs batchv1.JobList
	ExpectWithOffset(1, k8s.List(ctx, &jobs, client.InNamespace(p.ns))).To(Succeed())
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
	}
	return names
}

// recipients maps each survey link to the address it was sent to, and counts messages per address.
func recipients(mails []demo.Mail) (map[string]string, map[string]int) {
	to, count := map[string]string{}, map[string]int{}
	for _, m := range mails {
		for _, r := range m.To {
			count[r]++
			for _, l := range demo.SurveyLinks([]demo.Mail{m}) {
				to[l] = r
			}
		}
	}
	return to, count
}

// answerAll answers every link with the given mood, one every pace, retrying each until the
// service acknowledges it; acked counts the acknowledged links, failed the attempts refused or
// unanswered.
func answerAll(p *programme, links []string, mood func(i int) int, pace time.Duration, acked, failed *atomic.Int32) error {
	r := &demo.Respondent{Base: p.surveyURL, Client: httpClient}
	for i, l := range links {
		deadline := time.Now().Add(4 * time.Minute)
		for {
			err := r.Answer(ctx, l, mood(i))
			if err == nil {
				break
			}
			failed.Add(1)
			if time.Now().After(deadline) {
				return fmt.Errorf("link %d never acknowledged: %w", i, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		acked.Add(1)
		time.Sleep(pace)
	}
	return nil
}

// answerInBrowser opens a survey link in headless Chromium, as a respondent of the demo does:
// through `kubectl port-forward` to localhost (browsers send the Sec-Fetch-Site header that the
// form's cross-origin protection relies on only to HTTPS or localhost), chooses "Very
// satisfied" for the first question and sends the form: the thank-you page must follow.
func answerInBrowser(link string) {
	GinkgoHelper()
	pf := exec.Command(kubectl, "-n", system, "port-forward", "svc/survey-operator-collector", ":8080")
	stdout, err := pf.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(pf.Start()).To(Succeed())
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n') // Forwarding from 127.0.0.1:NNNNN -> 8080
	Expect(err).NotTo(HaveOccurred())
	port := regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindStringSubmatch(line)
	Expect(port).To(HaveLen(2), line)

	r := &demo.Respondent{Base: "http://127.0.0.1:" + port[1]}
	page, err := r.Rebase(link)
	Expect(err).NotTo(HaveOccurred())
	bctx, cancel, err := testbrowser.New(ctx, GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, time.Minute)
	defer cancelTimeout()
	Expect(chromedp.Do(bctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.Click(chromedp.CSS(`input[name="q.tp01"][value="5"]`)),
		chromedp.Click(chromedp.CSS(`input[name="q.repair"][value="1"]`)), // no repair: the repairs questions stay hidden
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)).To(Succeed())
	heading, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".notice h2")))
	Expect(err).NotTo(HaveOccurred())
	Expect(heading).To(Equal("Thank you"))
}

var _ = Describe("survey-operator on a cluster", func() {
	It("runs the whole loop: apply, Job, mail, answers, scores; and follows a detractor up", func() {
		p := newProgramme("loop", 40, nil)
		fu := &v1alpha1.FollowUp{}
		data, err := os.ReadFile("../../config/demo/riverside/followup.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.UnmarshalStrict(data, fu)).To(Succeed())
		fu.Namespace = p.ns
		Expect(k8s.Create(ctx, fu)).To(Succeed())
		p.start()

		By("the sending Job delivering one invitation to each tenant")
		Eventually(func() v1alpha1.WavePhase { return p.wave().Phase }).Should(Equal(v1alpha1.WaveCollecting))
		Expect(p.jobs()).To(ConsistOf(campaign.JobName(p.campaign.Name, p.wave().ID, 0)))
		Eventually(p.mails).Should(HaveLen(40))
		mails := p.mustMails()
		to, count := recipients(mails)
		Expect(count).To(HaveLen(40))
		for _, m := range mails {
			Expect(m.Subject).To(Equal("How are we doing? Your views on Riverside Homes"))
			Expect(m.Text).To(ContainSubstring("/o/"), "the opt-out link")
		}
		links := demo.SurveyLinks(mails)
		Expect(links).To(HaveLen(40))
		Expect(links[0]).To(HavePrefix("http://localhost:8080/s/"), "links carry the public URL")

		By("30 tenants answering over HTTP, the first of them very dissatisfied")
		var acked, failed atomic.Int32
		moods := []int{1, 5, 4, 4, 5, 4, 3, 4, 5, 4}
		Expect(answerAll(p, links[:30], func(i int) int { return moods[i%len(moods)] }, 0, &acked, &failed)).To(Succeed())
		Expect(failed.Load()).To(BeZero())

		By("one more tenant answering in a real browser (headless Chromium) on the deployed page")
		answerInBrowser(links[30])

		By("the campaign's status: Ready, response rate and score with its margin")
		run("-n", p.ns, "wait", "--for=condition=Ready", "surveycampaign/"+p.campaign.Name, "--timeout=180s")
		Eventually(func() int64 { return p.wave().Responded }).Should(BeEquivalentTo(31))
		c := p.get()
		Expect(c.Status.ResponseRate).To(BeEquivalentTo("77.5"))
		Expect(c.Status.Score).To(MatchRegexp(`^\d+\.\d% ±\d+\.\d$`))
		out := run("get", "surveys", "-n", p.ns)
		Expect(out).To(ContainSubstring("77.5"))

		By("kubectl survey: the results at a glance, and the wave exported through the campaign's export Secret")
		Expect(survey("results", p.campaign.Name, "-n", p.ns)).To(ContainSubstring("31 of 40 responded (77.5%)"))
		records, err := csv.NewReader(strings.NewReader(survey("export", p.campaign.Name, "-n", p.ns, "--url", p.surveyURL))).ReadAll()
		Expect(err).NotTo(HaveOccurred())
		Expect(records).To(HaveLen(1+31), "a header and one row per respondent")
		tp01 := slices.Index(records[0], "tp01")
		Expect(tp01).To(BeNumerically(">", 0))
		veryDissatisfied := 0
		for _, r := range records[1:] {
			Expect(r[0]).To(HavePrefix("p-"), "a pseudonym, never the tenancy reference")
			if r[tp01] == "1" {
				veryDissatisfied++
			}
		}
		Expect(veryDissatisfied).To(Equal(3), "the three tenants who answered 1 (very dissatisfied)")

		By("the detractor's case: matched, contacted by a contact Job, a message with the resolution link")
		get := func() v1alpha1.FollowUpStatus {
			var f v1alpha1.FollowUp
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(fu), &f)).To(Succeed())
			return f.Status
		}
		Eventually(func() int64 { return get().Matched }).Should(BeEquivalentTo(3)) // mood 1 at 0, 10, 20
		Eventually(func() int64 { return get().Contacted }).Should(BeEquivalentTo(3))
		detractor := to[links[0]]
		var followUps []demo.Mail
		for _, m := range p.mustMails() {
			if strings.Contains(m.Text, "/f/") {
				followUps = append(followUps, m)
			}
		}
		Expect(followUps).To(HaveLen(3))
		Expect(followUps).To(ContainElement(HaveField("To", ConsistOf(detractor))))
	})

	It("survives the manager's pod deleted mid-wave: no second Job, no second mail", func() {
		p := newProgramme("manager", 300, func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Channels[0].RateLimit = &v1alpha1.RateLimit{PerSecond: 10}
		})
		p.start()
		Eventually(p.count).Should(BeNumerically(">=", 20))
		Eventually(func() v1alpha1.WavePhase { return p.wave().Phase }, "20s").Should(Equal(v1alpha1.WaveSending))
		run("-n", system, "delete", "pod", "-l", "app.kubernetes.io/component=manager", "--wait=false")

		Eventually(func() v1alpha1.WavePhase { return p.wave().Phase }, 5*time.Minute).Should(Equal(v1alpha1.WaveCollecting))
		Expect(p.jobs()).To(HaveLen(1))
		Expect(p.get().Status.Waves).To(HaveLen(1))
		Eventually(p.count).Should(Equal(300))
		Consistently(p.count, "5s").Should(Equal(300))
		_, count := recipients(p.mustMails())
		Expect(count).To(HaveLen(300), "every tenant got exactly one invitation")
		run("-n", system, "rollout", "status", "deployment/survey-operator-controller-manager", "--timeout", "120s")
	})

	It("loses no acknowledged response when the collector's pod is deleted under submissions", func() {
		p := newProgramme("collector", 100, nil)
		p.start()
		Eventually(p.mails).Should(HaveLen(100))
		links := demo.SurveyLinks(p.mustMails())
		var acked, failed atomic.Int32
		done := make(chan error, 1)
		go func() {
			defer GinkgoRecover()
			done <- answerAll(p, links, func(int) int { return 4 }, 200*time.Millisecond, &acked, &failed)
		}()
		Eventually(acked.Load).Should(BeNumerically(">=", 15))
		run("-n", system, "delete", "pod", "-l", "app.kubernetes.io/component=collector", "--wait=false")
		var err error
		Eventually(done, 6*time.Minute).Should(Receive(&err))
		Expect(err).NotTo(HaveOccurred())
		Expect(acked.Load()).To(BeEquivalentTo(100))
		Expect(failed.Load()).To(BeNumerically(">", 0), "some submissions met the restart (else the test proved nothing)")
		GinkgoWriter.Printf("%d submission attempts failed during the restart and were retried\n", failed.Load())

		By("every acknowledged response is in the restarted service")
		api := responseapi.NewClient(p.surveyURL, apiToken, httpClient)
		c := p.get()
		Eventually(func() (int, error) {
			sum, err := api.Summary(ctx, string(c.UID), c.Status.Waves[0].ID, "tp01")
			total := 0
			for _, r := range sum.Responded {
				total += r.Count
			}
			return total, err
		}).Should(Equal(100))
		Eventually(func() int64 { return p.wave().Responded }).Should(BeEquivalentTo(100))
	})

	It("keeps namespaces apart: a campaign's Secret reaches only its own namespace's data and links", func() {
		a, b := newProgramme("tenant-a", 3, nil), newProgramme("tenant-b", 3, nil)
		a.start()
		b.start()
		Eventually(a.mails).Should(HaveLen(3))
		Eventually(b.mails).Should(HaveLen(3))
		ca, cb := a.get(), b.get()
		waveA, waveB := ca.Status.Waves[0].ID, cb.Status.Waves[0].ID

		By("the sender credential in namespace A's Secret")
		var secret corev1.Secret
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: campaign.SecretName(ca.Name)}, &secret)).To(Succeed())
		Expect(string(secret.Data[campaign.SecretAPIToken])).NotTo(Equal(apiToken), "the master token left the operator's namespace")
		sender := responseapi.NewClient(a.surveyURL, string(secret.Data[campaign.SecretAPIToken]), httpClient)
		forbidden := func(err error) {
			GinkgoHelper()
			var se *responseapi.StatusError
			Expect(errors.As(err, &se)).To(BeTrue(), "%v", err)
			Expect(se.Status).To(Equal(http.StatusForbidden))
		}
		_, err := sender.Contacted(ctx, a.ns, []string{"RH-0001"}, time.Now().Add(-time.Hour), "", "")
		Expect(err).NotTo(HaveOccurred(), "its own namespace's ledger")
		_, err = sender.Contacted(ctx, b.ns, []string{"RH-0001"}, time.Now().Add(-time.Hour), "", "")
		forbidden(err)
		_, err = sender.Unanswered(ctx, string(cb.UID), waveB, []string{"RH-0001"})
		forbidden(err)
		_, err = sender.Reserve(ctx, []responseapi.Invitation{{CampaignUID: string(cb.UID), WaveID: waveB, RecipientKey: "RH-9999",
			Namespace: b.ns, Segment: "general-needs", Channel: "email"}})
		forbidden(err)
		_, err = sender.Summary(ctx, string(ca.UID), waveA, "tp01")
		forbidden(err) // a sender reads no figures, not even its own

		By("the link keys in namespace A's Secret sign links for A's campaign only")
		var keys []token.Key
		for k, v := range secret.Data {
			if id, ok := strings.CutPrefix(k, campaign.SecretTokenPrefix); ok {
				keys = append(keys, token.Key{ID: id, Secret: v})
			}
		}
		ring, err := token.NewKeyRing(keys...)
		Expect(err).NotTo(HaveOccurred())
		sign := func(c *v1alpha1.SurveyCampaign, wave string) string {
			tok, err := ring.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: string(c.UID), Wave: wave,
				Recipient: "RH-0001", Segment: "general-needs", Channel: "email", Expiry: time.Now().Add(time.Hour)})
			Expect(err).NotTo(HaveOccurred())
			return tok
		}
		status := func(tok string) int {
			resp, err := httpClient.Get(a.surveyURL + "/s/" + tok)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			return resp.StatusCode
		}
		Expect(status(sign(ca, waveA))).To(Equal(http.StatusOK), "a link for A's own campaign")
		Expect(status(sign(cb, waveB))).To(Equal(http.StatusNotFound), "a link for B's campaign signed with A's keys")

		By("the export credential in namespace A's export Secret exports A's wave, never B's")
		var export corev1.Secret
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: campaign.ExportSecretName(ca.Name)}, &export)).To(Succeed())
		exportStatus := func(c *v1alpha1.SurveyCampaign, wave string) int {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.surveyURL+responseapi.RouteExport.Path(string(c.UID), wave), nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", "Bearer "+string(export.Data[campaign.ExportSecretToken]))
			resp, err := httpClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			return resp.StatusCode
		}
		Expect(exportStatus(ca, waveA)).To(Equal(http.StatusOK), "A's own wave")
		Expect(exportStatus(cb, waveB)).To(Equal(http.StatusForbidden), "B's wave with A's export credential")
	})

	It("refuses an invalid campaign at apply, naming the field", func() {
		ns := fmt.Sprintf("e2e-invalid-%04d", rand.IntN(10000))
		run("create", "namespace", ns)
		DeferCleanup(func() { _, _ = kubectlOut("", "delete", "namespace", ns, "--wait=false") })
		base := `apiVersion: surveys.surveyops.io/v1alpha1
kind: SurveyCampaign
metadata:
  name: broken
spec:
  survey:
    title: Broken
    primaryQuestion: tp01
    questions:
      - id: tp01
        kind: CSAT
        text: How satisfied or dissatisfied are you with our service?
  audience:
    source:
      secretRef: {name: tenants, key: tenants.csv}
      idField: ref
      contact: {email: email}
    segments:
      - name: everyone
        channels: [email]
`
		for _, tc := range []struct{ yaml, want string }{
			{base + `  channels:
    - name: email
      email: {smtp: {host: smtp.example}, from: a@example.org}
      webhook: {url: "https://sms.example/v1", secretRef: {name: sms}}
`, "spec.channels[0]: Invalid value: a channel must have exactly one of email and webhook"},
			{base + `  channels:
    - name: email
      email: {smtp: {host: smtp.example}, from: a@example.org}
  schedule:
    cron: "0 10 1 * *"
    quietHours: {start: "20:00", end: "20:00"}
`, "quietHours.start and quietHours.end must differ"},
			{base + `  channels:
    - name: email
      email: {smtp: {host: smtp.example}, from: a@example.org}
  schedul: {cron: "0 10 1 * *"}
`, `unknown field "spec.schedul"`},
		} {
			_, err := kubectlOut(tc.yaml, "-n", ns, "apply", "-f", "-")
			Expect(err).To(MatchError(ContainSubstring(tc.want)))
		}
		_, err := kubectlOut("", "-n", ns, "get", "surveycampaign", "broken")
		Expect(err).To(MatchError(ContainSubstring("NotFound")))
	})
})
