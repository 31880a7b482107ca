//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

const (
	repairCompleted = "uk.org.riverside.repair.completed"
	complaintClosed = "uk.org.riverside.complaint.closed"
	jobsSource      = "https://repairs.riverside-homes.example/jobs"
)

// postRepairSample is config/samples' post-repair campaign, in ns, sending by email to the
// namespace's mail sink (the sample's SMS gateway is not on this cluster).
func postRepairSample(ns string) v1alpha1.SurveyCampaign {
	data, err := os.ReadFile("../../config/samples/surveys_v1alpha1_surveycampaign_post_repair.yaml")
	Expect(err).NotTo(HaveOccurred())
	var c v1alpha1.SurveyCampaign
	Expect(yaml.UnmarshalStrict(data, &c)).To(Succeed())
	c.Namespace = ns
	c.Spec.Channels = []v1alpha1.Channel{{Name: "email", Email: &v1alpha1.EmailChannel{
		SMTP: v1alpha1.SMTPSettings{Host: "mailsink." + ns + ".svc", Port: 1025, TLS: v1alpha1.SMTPNoTLS},
		From: "Riverside Homes Repairs <repairs@riverside-homes.example>"}}}
	for i := range c.Spec.Audience.Segments {
		c.Spec.Audience.Segments[i].Channels = []string{"email"}
	}
	c.Spec.Schedule.QuietHours = nil // the spec runs at any hour; the second campaign holds quiet hours
	return c
}

var _ = Describe("Touch-point events", func() {
	It("invite each tenant once after the delay, posted by the CloudEvents SDK's client to the sample campaign; quiet hours hold; another namespace's credential is refused", func() {
		p := newProgramme("events", 1, func(c *v1alpha1.SurveyCampaign) { *c = postRepairSample(c.Namespace) })
		ns := p.ns
		// A second campaign takes closed complaints, under quiet hours that hold now.
		quiet := postRepairSample(ns)
		quiet.Name = "post-complaint"
		quiet.Spec.Audience.Source.Events = &v1alpha1.EventsSource{Types: []v1alpha1.EventTypeSelector{{Type: complaintClosed}}, Delay: "0s", MaxAge: "72h"}
		now := time.Now().UTC()
		quiet.Spec.Schedule = &v1alpha1.Schedule{TimeZone: "UTC", ResponseWindow: "168h", QuietHours: &v1alpha1.QuietHours{
			Start: now.Add(-time.Hour).Format("15:04"), End: now.Add(time.Hour).Format("15:04")}}
		p.start()
		Expect(k8s.Create(ctx, &quiet)).To(Succeed())

		target := p.surveyURL + responseapi.RouteEvents.Path(ns)
		credential := apitoken.Credential([]byte(apiToken), apitoken.Events, ns)
		happening := func(id, typ, tenancy string, at time.Time) event.Event {
			e := cloudevents.NewEvent()
			e.SetID(id)
			e.SetSource(jobsSource)
			e.SetType(typ)
			e.SetTime(at)
			Expect(e.SetData(cloudevents.ApplicationJSON, map[string]any{"tenancy": tenancy, "email": strings.ToLower(tenancy) + "@example.org",
				"priority": "emergency", "repairType": "plumbing", "contractor": "Dyfed Plumbing"})).To(Succeed())
			return e
		}
		post := func(credential string, events ...event.Event) (int, responseapi.EventsAccepted) {
			req, err := cehttp.NewHTTPRequestFromEvents(ctx, target, events)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", "Bearer "+credential)
			resp, err := httpClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			var got responseapi.EventsAccepted
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusAccepted {
				Expect(json.Unmarshal(body, &got)).To(Succeed())
			}
			return resp.StatusCode, got
		}

		By("A's repair, due in 10 seconds (done 2h ago less 10s, the sample's delay 2h): stored once the manager has registered the campaign")
		aDue := time.Now().Add(10 * time.Second)
		a := happening(fmt.Sprintf("job-%d", rand.Uint64()), repairCompleted, "T-A", aDue.Add(-2*time.Hour))
		Eventually(func() responseapi.EventsAccepted { _, got := post(credential, a); return got }, "60s", "1s").
			Should(Equal(responseapi.EventsAccepted{Events: 1, New: 1}))

		// The quiet campaign is registered too once its producers' Secret is made.
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: campaign.EventsSecretName(quiet.Name)}, &corev1.Secret{})
		}, "60s", "1s").Should(Succeed())

		By("B's repair, due already, by the SDK's client in binary mode")
		protocol, err := cehttp.New(cehttp.WithTarget(target), cehttp.WithHeader("Authorization", "Bearer "+credential))
		Expect(err).NotTo(HaveOccurred())
		client, err := cloudevents.NewClient(protocol)
		Expect(err).NotTo(HaveOccurred())
		result := client.Send(ctx, happening(fmt.Sprintf("job-%d", rand.Uint64()), repairCompleted, "T-B", time.Now().Add(-3*time.Hour)))
		Expect(cloudevents.IsACK(result)).To(BeTrue(), "%v", result)

		By("a batch: A again, B's second repair, C's repair due in 2 hours, a type nobody takes, D's complaint (quiet hours)")
		status, got := post(credential, a,
			happening(fmt.Sprintf("job-%d", rand.Uint64()), repairCompleted, "T-B", time.Now().Add(-150*time.Minute)),
			happening(fmt.Sprintf("job-%d", rand.Uint64()), repairCompleted, "T-C", time.Now()),
			happening(fmt.Sprintf("job-%d", rand.Uint64()), "uk.org.riverside.tenancy.started", "T-E", time.Now()),
			happening(fmt.Sprintf("job-%d", rand.Uint64()), complaintClosed, "T-D", time.Now().Add(-time.Hour)))
		Expect(status).To(Equal(http.StatusAccepted))
		Expect(got).To(Equal(responseapi.EventsAccepted{Events: 5, New: 3, Ignored: 1}))

		By("A and B each get one invitation, A's after its delay")
		var aAt time.Time
		Eventually(func() map[string]int {
			_, count := recipients(p.mustMails())
			if count["t-a@example.org"] > 0 && aAt.IsZero() {
				aAt = time.Now()
			}
			return count
		}, "3m", "1s").Should(SatisfyAll(HaveKeyWithValue("t-a@example.org", 1), HaveKeyWithValue("t-b@example.org", 1)))
		Expect(aAt).To(BeTemporally(">", aDue), "A was invited before its delay")
		fmt.Printf("A's event fell due at %s; its invitation reached the mail sink %s later\n",
			aDue.Format(time.TimeOnly), aAt.Sub(aDue).Round(time.Second))

		By("nobody else, nor twice: C is not due; D's campaign waits for its quiet hours; the ignored type invites no one")
		Consistently(func() map[string]int { _, count := recipients(p.mustMails()); return count }, "8s", "1s").
			Should(Equal(map[string]int{"t-a@example.org": 1, "t-b@example.org": 1}))
		for _, j := range p.jobs() {
			Expect(j).NotTo(HavePrefix(quiet.Name+"-"), "a Job of the campaign in its quiet hours")
		}

		By("another namespace's events credential is refused")
		status, _ = post(apitoken.Credential([]byte(apiToken), apitoken.Events, ns+"-other"), a)
		Expect(status).To(Equal(http.StatusForbidden))
	})
})
