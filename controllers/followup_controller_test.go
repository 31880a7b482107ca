package controllers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

func newFollowUp(ns, name, campaignName string, mutate func(*v1alpha1.FollowUp)) *v1alpha1.FollowUp {
	fu := &v1alpha1.FollowUp{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.FollowUpSpec{
			CampaignRef: v1alpha1.LocalObjectReference{Name: campaignName},
			Trigger:     v1alpha1.Trigger{Type: v1alpha1.TriggerResponse, When: "response.answers.tp01 <= 2"},
			Channels:    []string{"sms", "email"},
			Message:     v1alpha1.Message{Body: "We are sorry. Someone from our team will call you within two working days: {{ .Link }}"},
			SLA:         &v1alpha1.SLA{ContactWithin: "48h", ResolveWithin: "240h"},
		},
	}
	if mutate != nil {
		mutate(fu)
	}
	Expect(k8sClient.Create(ctx, fu)).To(Succeed())
	return fu
}

func getFU(fu *v1alpha1.FollowUp) *v1alpha1.FollowUp {
	var out v1alpha1.FollowUp
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(fu), &out)).To(Succeed())
	return &out
}

func fuCondition(fu *v1alpha1.FollowUp, t string) metav1.Condition {
	for _, c := range getFU(fu).Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}

// fuKstatus computes the FollowUp's status as Flux does, and checks that the Argo CD health
// check in config/argocd agrees.
func fuKstatus(fu *v1alpha1.FollowUp) status.Status {
	obj := getFU(fu)
	obj.APIVersion, obj.Kind = v1alpha1.GroupVersion.String(), "FollowUp"
	u, err := toUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	argoAgrees(u, res.Status)
	return res.Status
}

// answerOnPage answers a wave's survey on the response service's page, as a resident would.
func answerOnPage(c *v1alpha1.SurveyCampaign, wave, who string, form url.Values) {
	tok, err := tokenKeys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: string(c.UID), Wave: wave, Recipient: who,
		Segment: "general-needs", Channel: "sms", Expiry: clk.Now().Add(30 * 24 * time.Hour)})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(serviceURL+"/s/"+tok, form)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	resp.Body.Close()
	ExpectWithOffset(1, resp.StatusCode).To(Equal(http.StatusSeeOther))
}

var _ = Describe("FollowUp reconciler", Ordered, func() {
	var stop func()
	BeforeAll(func() { stop = startManager() })
	AfterAll(func() { stop() })
	BeforeEach(func() { clk.SetTime(time.Now()) })

	It("is Stalled naming the field while its campaign is missing or the spec does not fit it, and recovers", func() {
		ns := namespace()
		fu := newFollowUp(ns, "detractors", "later", nil)
		Eventually(func() string { return fuCondition(fu, v1alpha1.ConditionStalled).Message }).
			Should(Equal(`spec.campaignRef.name: SurveyCampaign "later" not found`))
		Expect(fuKstatus(fu)).To(Equal(status.FailedStatus))
		Eventually(func() []string { return events(ns, v1alpha1.EventInvalidSpec) }).Should(HaveLen(1))

		c := newCampaign(ns, "later", nil)
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		Expect(fuCondition(fu, v1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionFalse))
		Expect(fuCondition(fu, v1alpha1.ConditionReady).ObservedGeneration).To(Equal(getFU(fu).Generation))
		Expect(fuKstatus(fu)).To(Equal(status.CurrentStatus))
		Expect(getFU(fu).Finalizers).To(ContainElement("surveys.surveyops.io/deactivate-rule"))
		rules, err := responses.FollowUpRules(ctx, string(get(c).UID))
		Expect(err).NotTo(HaveOccurred())
		Expect(rules).To(HaveLen(1))
		Expect(rules[0].UID).To(Equal(string(getFU(fu).UID)))
		Expect(rules[0].When).To(Equal("response.answers.tp01 <= 2"))
		Expect(rules[0].ContactWithin).To(Equal(48 * time.Hour))

		// A ticket webhook whose Secret is missing; created, the key reaches the response
		// service, which checks the helpdesk's callbacks with it.
		ticketed := newFollowUp(ns, "ticketed", "later", func(f *v1alpha1.FollowUp) {
			f.Spec.Ticket = &v1alpha1.Ticket{Webhook: v1alpha1.WebhookChannel{URL: "https://crm.example.org/cases",
				SecretRef: &v1alpha1.LocalObjectReference{Name: "crm"}}}
		})
		Eventually(func() string { return fuCondition(ticketed, v1alpha1.ConditionStalled).Message }).
			Should(Equal(`spec.ticket.webhook.secretRef: Secret "crm" not found`))
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: ns},
			Data: map[string][]byte{"hmacKey": []byte("helpdesk-callback-key")}})).To(Succeed())
		Eventually(func() metav1.ConditionStatus { return fuCondition(ticketed, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		rule, err := responses.GetFollowUp(ctx, string(getFU(ticketed).UID))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(rule.TicketKey)).To(Equal("helpdesk-callback-key"))

		for _, tc := range []struct {
			mutate func(*v1alpha1.FollowUp)
			want   string
		}{
			{func(f *v1alpha1.FollowUp) { f.Spec.Trigger.When = "response.answers.tp99 <= 2" },
				`spec.trigger.when: the survey has no question "tp99"`},
			{func(f *v1alpha1.FollowUp) { f.Spec.Channels = []string{"fax"} },
				`spec.channels[0]: the campaign has no channel "fax"`},
			{func(f *v1alpha1.FollowUp) { f.Spec.Segments = []string{"leaseholders"} },
				`spec.segments[0]: the campaign has no segment "leaseholders"`},
			{func(f *v1alpha1.FollowUp) { f.Spec.Message.Body = "{{ .Lnk }}" },
				`spec.message: `},
		} {
			bad := newFollowUp(ns, "bad-"+strings.ToLower(strings.Fields(tc.want)[0][5:9]), "later", tc.mutate)
			Eventually(func() string { return fuCondition(bad, v1alpha1.ConditionStalled).Message }).Should(HavePrefix(tc.want))
		}
	})

	It("opens a case for each detractor, contacts them in one Job, and shows an SLA breach on the clock until they are contacted", func() {
		ns := namespace()
		c := get(newCampaign(ns, "quarterly", nil))
		fu := newFollowUp(ns, "detractors", "quarterly", func(f *v1alpha1.FollowUp) {
			f.Spec.Ticket = &v1alpha1.Ticket{Webhook: v1alpha1.WebhookChannel{URL: "https://crm.example.org/cases",
				BodyTemplate: `{"caseId": {{json .CaseID}}}`, SecretRef: &v1alpha1.LocalObjectReference{Name: "sms-gateway"}}}
		})
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		// The campaign's first wave starts (and with it the sender Secret its Jobs mount).
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf("quarterly-" + waveID(0)))

		Expect(service.PutWave(ctx, string(c.UID), "w1", responseapi.WaveRegistration{Namespace: ns, Campaign: c.Name,
			Definition: campaign.Definition(&c.Spec.Survey), OpensAt: clk.Now(), ClosesAt: clk.Now().Add(30 * 24 * time.Hour)})).To(Succeed())
		answerOnPage(c, "w1", "T-1", url.Values{"q.tp01": {"1"}})
		answerOnPage(c, "w1", "T-2", url.Values{"q.tp01": {"5"}})
		answerOnPage(c, "w1", "T-3", url.Values{"q.tp01": {"2"}, "q.tp02": {"4"}})
		answerOnPage(c, "w1", "T-1", url.Values{"q.tp01": {"1"}, "q.tp02": {"1"}}) // changed answers: still one case
		Eventually(func() int64 { return getFU(fu).Status.Matched }).Should(Equal(int64(2)))
		Expect(fuCondition(fu, v1alpha1.ConditionSLABreached).Status).To(Equal(metav1.ConditionFalse))

		// One contact Job for the two, owned by the FollowUp, in follow-up mode.
		contact := "detractors-contact-1"
		Eventually(jobNames(ns)).Should(ContainElement(contact))
		var j batchv1.Job
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: contact}, &j)).To(Succeed())
		Expect(j.OwnerReferences[0].Kind).To(Equal("FollowUp"))
		var cfg jobfile.Config
		Expect(json.Unmarshal([]byte(j.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg)).To(Succeed())
		Expect(cfg.FollowUp).NotTo(BeNil())
		Expect(cfg.FollowUp.UID).To(Equal(string(getFU(fu).UID)))
		Expect(cfg.FollowUp.Channels).To(Equal([]string{"sms", "email"}))
		Expect(cfg.FollowUp.Ticket.HMACKeyFile).To(Equal("/var/run/survey/ticket/hmacKey"))
		Expect(cfg.Audience.File).To(Equal("/var/run/survey/audience/audience"))
		Eventually(func() string { return fuCondition(fu, v1alpha1.ConditionReconciling).Reason }).Should(Equal(v1alpha1.ReasonContacting))
		Expect(fuKstatus(fu)).To(Equal(status.InProgressStatus))
		// Never a second while it runs, however the clock moves.
		clk.SetTime(clk.Now().Add(10 * time.Minute))
		Consistently(func() []string { return jobNames(ns)() }, "2s").Should(HaveLen(2))
		clk.SetTime(clk.Now().Add(-10 * time.Minute))

		// Two days and an hour later nobody has called: both cases are overdue.
		opened := clk.Now()
		clk.SetTime(opened.Add(49 * time.Hour))
		Eventually(func() int64 { return getFU(fu).Status.Overdue }).Should(Equal(int64(2)))
		Expect(fuCondition(fu, v1alpha1.ConditionSLABreached).Status).To(Equal(metav1.ConditionTrue))
		Expect(fuCondition(fu, v1alpha1.ConditionSLABreached).Message).To(HavePrefix("2 cases are past their service standard"))
		Eventually(func() []string { return events(ns, v1alpha1.EventSLABreached) }).Should(HaveLen(1))
		Expect(gaugeFU("overdue", ns, "detractors")).To(Equal(2.0))

		// The contact Job reaches both (its sender's part is played here on the store) and
		// completes: the breach clears, the record keeps that the standard was missed, and no
		// other Job is made.
		for _, who := range []string{"T-1", "T-3"} {
			Expect(responses.MarkContacted(ctx, []store.CaseKey{{FollowUpUID: string(getFU(fu).UID), CampaignUID: string(c.UID),
				WaveID: "w1", RecipientKey: who}}, clk.Now())).To(Succeed())
		}
		completeJob(ns, contact)
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionSLABreached).Status }).Should(Equal(metav1.ConditionFalse))
		Eventually(func() string { return fuCondition(fu, v1alpha1.ConditionReconciling).Reason }).Should(Equal(v1alpha1.ReasonFollowing))
		Consistently(func() []string { return jobNames(ns)() }, "2s").Should(HaveLen(2))
		st := getFU(fu).Status
		Expect(st.Contacted).To(Equal(int64(2)))
		Expect(st.Breaches).To(Equal(int64(2)))
		Expect(st.TimeToContact.Median.Duration).To(BeNumerically("~", 49*time.Hour, time.Minute))
		Eventually(func() []string { return events(ns, v1alpha1.EventSLARestored) }).Should(HaveLen(1))

		// T-1 says on their link that it is sorted: resolved, with its time to resolve.
		caseTok, err := tokenKeys.SignCase(token.Case{FollowUpUID: string(getFU(fu).UID), CampaignUID: string(c.UID),
			WaveID: "w1", RecipientKey: "T-1"}, clk.Now().Add(30*24*time.Hour))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.PostForm(serviceURL+"/f/"+caseTok, url.Values{})
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Eventually(func() int64 { return getFU(fu).Status.Resolved }).Should(Equal(int64(1)))
		Expect(getFU(fu).Status.TimeToResolve.Median.Duration).To(BeNumerically("~", 49*time.Hour, time.Minute))

		// A new detractor: the next batch at once (the last was long ago)...
		answerOnPage(c, "w1", "T-4", url.Values{"q.tp01": {"1"}})
		Eventually(jobNames(ns)).Should(ContainElement("detractors-contact-2"))
		Eventually(func() int32 { return getFU(fu).Status.ContactJobs }).Should(Equal(int32(2)))
		Expect(responses.MarkContacted(ctx, []store.CaseKey{{FollowUpUID: string(getFU(fu).UID), CampaignUID: string(c.UID),
			WaveID: "w1", RecipientKey: "T-4"}}, clk.Now())).To(Succeed())
		completeJob(ns, "detractors-contact-2")
		// ...and another: not before the contact interval (a minute here) has passed.
		answerOnPage(c, "w1", "T-5", url.Values{"q.tp01": {"2"}})
		Eventually(func() int64 { return getFU(fu).Status.Matched }).Should(Equal(int64(4)))
		Consistently(jobNames(ns), "2s").ShouldNot(ContainElement("detractors-contact-3"))
		clk.SetTime(clk.Now().Add(time.Minute))
		Eventually(jobNames(ns)).Should(ContainElement("detractors-contact-3"))
	})

	It("never makes a second contact Job for a batch after a restart that lost the status", func() {
		ns := namespace()
		c := get(newCampaign(ns, "restarted", nil))
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		fu := newFollowUp(ns, "detractors", "restarted", nil)
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		Expect(service.PutWave(ctx, string(c.UID), "w1", responseapi.WaveRegistration{Namespace: ns, Campaign: c.Name,
			Definition: campaign.Definition(&c.Spec.Survey), OpensAt: clk.Now(), ClosesAt: clk.Now().Add(30 * 24 * time.Hour)})).To(Succeed())
		answerOnPage(c, "w1", "T-1", url.Values{"q.tp01": {"1"}})
		Eventually(jobNames(ns)).Should(ContainElement("detractors-contact-1"))

		stop()
		lost := getFU(fu)
		lost.Status.ContactJobs, lost.Status.LastContactTime = 0, nil
		Expect(k8sClient.Status().Update(ctx, lost)).To(Succeed())
		stop = startManager()
		Eventually(func() int32 { return getFU(fu).Status.ContactJobs }).Should(Equal(int32(1)))
		Consistently(jobNames(ns), "2s").Should(ConsistOf("restarted-"+waveID(0), "detractors-contact-1"))
	})

	It("follows up those who have not answered after the delay", func() {
		ns := namespace()
		c := get(newCampaign(ns, "silent", nil))
		fu := newFollowUp(ns, "non-responders", "silent", func(f *v1alpha1.FollowUp) {
			f.Spec.Trigger = v1alpha1.Trigger{Type: v1alpha1.TriggerNonResponse, After: "72h"}
			f.Spec.SLA = &v1alpha1.SLA{ContactWithin: "24h"}
		})
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		Expect(service.PutWave(ctx, string(c.UID), "w1", responseapi.WaveRegistration{Namespace: ns, Campaign: c.Name,
			Definition: campaign.Definition(&c.Spec.Survey), OpensAt: clk.Now(), ClosesAt: clk.Now().Add(30 * 24 * time.Hour)})).To(Succeed())
		invite(c, "w1", "general-needs", "sms", "T-1", "T-2")
		answer(c, "w1", "general-needs", "sms", "T-1", 4)
		Consistently(func() int64 { return getFU(fu).Status.Matched }, "2s").Should(BeZero())
		clk.SetTime(clk.Now().Add(73 * time.Hour))
		Eventually(func() int64 { return getFU(fu).Status.Matched }).Should(Equal(int64(1)))
		Eventually(func() []string { return events(ns, v1alpha1.EventCasesOpened) }).Should(HaveLen(1))
	})

	It("stops its rule when deleted and keeps the cases for the campaign's reports", func() {
		ns := namespace()
		c := get(newCampaign(ns, "reported", nil))
		fu := newFollowUp(ns, "detractors", "reported", nil)
		Eventually(func() metav1.ConditionStatus { return fuCondition(fu, v1alpha1.ConditionReady).Status }).Should(Equal(metav1.ConditionTrue))
		Expect(service.PutWave(ctx, string(c.UID), "w1", responseapi.WaveRegistration{Namespace: ns, Campaign: c.Name,
			Definition: campaign.Definition(&c.Spec.Survey), OpensAt: clk.Now(), ClosesAt: clk.Now().Add(30 * 24 * time.Hour)})).To(Succeed())
		answerOnPage(c, "w1", "T-1", url.Values{"q.tp01": {"1"}})
		uid := string(getFU(fu).UID)
		Eventually(func() int64 { return getFU(fu).Status.Matched }).Should(Equal(int64(1)))

		Expect(k8sClient.Delete(ctx, fu)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(fu), &v1alpha1.FollowUp{}))
		}).Should(BeTrue())
		rules, err := responses.FollowUpRules(ctx, string(c.UID))
		Expect(err).NotTo(HaveOccurred())
		Expect(rules).To(BeEmpty())
		answerOnPage(c, "w1", "T-2", url.Values{"q.tp01": {"1"}})
		stats, err := responses.CaseStats(ctx, uid, clk.Now())
		Expect(err).NotTo(HaveOccurred())
		Expect(stats.Matched).To(Equal(1))
	})
})
