package controllers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

const repairType = "uk.org.riverside.repair.completed"

// postRepairs posts repair events for tenancies to the response service, as a repairs system
// (or a Knative trigger) would, and expects them taken.
func postRepairs(ns, credential string, at time.Time, tenancies ...string) {
	var events []string
	for _, t := range tenancies {
		events = append(events, fmt.Sprintf(`{"specversion":"1.0","id":"job-%s","source":"https://repairs.riverside.example/jobs","type":%q,`+
			`"time":%q,"data":{"tenancy_ref":%q,"email":"%s@example.org","tenure":"general-needs","contractor":"Dyfed Plumbing"}}`,
			t, repairType, at.UTC().Format(time.RFC3339), t, strings.ToLower(t)))
	}
	req, err := http.NewRequest(http.MethodPost, serviceURL+responseapi.RouteEvents.Path(ns), strings.NewReader("["+strings.Join(events, ",")+"]"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	resp, err := http.DefaultClient.Do(req)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var got responseapi.EventsAccepted
	ExpectWithOffset(1, json.NewDecoder(resp.Body).Decode(&got)).To(Succeed())
	ExpectWithOffset(1, got).To(Equal(responseapi.EventsAccepted{Events: len(tenancies), New: len(tenancies)}), "status %s", resp.Status)
}

func touchPointCampaign(ns, name string) *v1alpha1.SurveyCampaign {
	return newCampaign(ns, name, func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Audience.Source.SecretRef = nil
		c.Spec.Audience.Source.Events = &v1alpha1.EventsSource{Types: []v1alpha1.EventTypeSelector{{Type: repairType}},
			Delay: "2h", MaxAge: "72h", Attributes: []string{"contractor"}}
		c.Spec.Schedule = &v1alpha1.Schedule{TimeZone: "Europe/London", ResponseWindow: "168h"}
	})
}

var _ = Describe("A touch-point campaign", Ordered, func() {
	var stop func()
	BeforeAll(func() { stop = startManager() })
	AfterAll(func() { stop() })
	BeforeEach(func() { clk.SetTime(time.Now()) })

	It("registers its events, and starts one sending Job for what is due, in the day's wave, one at a time", func() {
		ns := namespace()
		c := touchPointCampaign(ns, "post-repair")
		uid := string(get(c).UID)

		// Registered: the response service takes its events. Nothing is due: no Job, Ready.
		Eventually(func() error { _, err := service.DueTouchPoints(ctx, ns, uid); return err }).Should(Succeed())
		Eventually(conditionOf(v1alpha1.ConditionReady)).WithArguments(c).Should(Equal(metav1.ConditionTrue))
		Consistently(jobNames(ns), "1s").Should(BeEmpty())

		// The producers' Secret: an events credential for the namespace, and where to post.
		var secret corev1.Secret
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: campaign.EventsSecretName(c.Name)}, &secret)
		}).Should(Succeed())
		Expect(string(secret.Data[campaign.EventsSecretURL])).To(Equal("https://listen.example.org" + responseapi.RouteEvents.Path(ns)))
		Expect(string(secret.Data[campaign.EventsSecretInternalURL])).To(Equal("http://collector.test:8080" + responseapi.RouteEvents.Path(ns)))
		Expect(secret.OwnerReferences).To(HaveLen(1))
		credential := string(secret.Data[campaign.EventsSecretToken])
		Expect(string(secret.Data[campaign.EventsSecretAuthorization])).To(Equal("Bearer " + credential))

		happened := clk.Now()
		postRepairs(ns, credential, happened, "T-1", "T-2")
		// Before the delay, nothing is due.
		clk.SetTime(happened.Add(time.Hour))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(BeEmpty())

		// Two hours on: one Job for both, named by the minute, without an audience volume.
		clk.SetTime(happened.Add(2*time.Hour + time.Second))
		poke(c)
		first := campaign.TouchPointJobName(c.Name, clk.Now())
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		j := jobs(ns)[0]
		Expect(j.Labels).To(HaveKeyWithValue(campaign.LabelWave, campaign.TouchPointsLabel))
		for _, v := range j.Spec.Template.Spec.Volumes {
			Expect(v.Name).NotTo(Equal("audience"))
		}
		var cfg jobfile.Config
		Expect(json.Unmarshal([]byte(j.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg)).To(Succeed())
		Expect(cfg.WaveID).To(BeEmpty())
		london, err := time.LoadLocation("Europe/London")
		Expect(err).NotTo(HaveOccurred())
		wave := campaign.TouchPointWave(clk.Now(), london, 168*time.Hour)
		Expect(cfg.Audience.Events).To(Equal(&jobfile.EventsConfig{Attributes: []string{"contractor"}, TimeZone: "Europe/London", Window: "168h",
			Until: clk.Now().UTC(), Waves: []string{wave.ID}}))

		// The day's wave (in London) is registered with the response service and collecting.
		Eventually(func() v1alpha1.WavePhase { return waveOf(c, wave.ID).Phase }).Should(Equal(v1alpha1.WaveCollecting))
		Expect(waveOf(c, wave.ID).CloseTime.Time).To(BeTemporally("==", wave.Closes))
		_, err = responses.GetWave(ctx, uid, wave.ID)
		Expect(err).NotTo(HaveOccurred())

		// One Job at a time: while it runs, no second, whatever is due.
		clk.SetTime(clk.Now().Add(time.Minute))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(ConsistOf(first))

		// This Job sent nothing (there is no kubelet here): its events are still due, and once
		// it ends the next minute's Job takes them.
		completeJob(ns, first)
		second := campaign.TouchPointJobName(c.Name, clk.Now())
		Eventually(jobNames(ns)).Should(ConsistOf(first, second))

		// A sender decides both (nobody to invite): once its Job ends, nothing is due, and no
		// Job follows.
		_, err = service.Decide(ctx, ns, uid, responseapi.DecideRequest{Decisions: []responseapi.Decision{
			{Source: "https://repairs.riverside.example/jobs", ID: "job-T-1", Outcome: responseapi.OutcomeNoSegment, Due: happened.Add(2 * time.Hour)},
			{Source: "https://repairs.riverside.example/jobs", ID: "job-T-2", Outcome: responseapi.OutcomeNoSegment, Due: happened.Add(2 * time.Hour)},
		}})
		Expect(err).NotTo(HaveOccurred())
		completeJob(ns, second)
		clk.SetTime(clk.Now().Add(time.Minute))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(ConsistOf(first, second))
		Expect(condition(c, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	})

	It("sends a day's reminder round from the end of that day", func() {
		ns := namespace()
		c := newCampaign(ns, "post-repair", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Audience.Source.SecretRef = nil
			c.Spec.Audience.Source.Events = &v1alpha1.EventsSource{Types: []v1alpha1.EventTypeSelector{{Type: repairType}}, Delay: "0s", MaxAge: "72h"}
			c.Spec.Schedule = &v1alpha1.Schedule{TimeZone: "UTC", ResponseWindow: "168h", Reminders: []v1alpha1.Duration{"24h"}}
		})
		Eventually(func() error { _, err := service.DueTouchPoints(ctx, ns, string(get(c).UID)); return err }).Should(Succeed())
		postRepairs(ns, apiToken, clk.Now(), "T-1")
		clk.SetTime(clk.Now().Add(time.Second))
		poke(c)
		first := campaign.TouchPointJobName(c.Name, clk.Now())
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		wave := campaign.TouchPointWave(clk.Now(), time.UTC, 168*time.Hour)
		Eventually(func() v1alpha1.SurveyCampaignStatus { return get(c).Status }).Should(HaveField("Waves", ContainElement(HaveField("ID", wave.ID))), func() string { b, _ := json.Marshal(get(c).Status); return string(b) })
		completeJob(ns, first)

		// Not before the day's end and a day: then one Job for the round.
		dayEnd := wave.Scheduled.AddDate(0, 0, 1)
		clk.SetTime(dayEnd.Add(24*time.Hour - time.Minute))
		poke(c)
		reminder := campaign.JobName(c.Name, wave.ID, 1)
		Consistently(jobNames(ns), "1s").ShouldNot(ContainElement(reminder))
		clk.SetTime(dayEnd.Add(24*time.Hour + time.Second))
		poke(c)
		Eventually(jobNames(ns)).Should(ContainElement(reminder))
		Eventually(func() int32 { return waveOf(c, wave.ID).RemindersSent }).Should(Equal(int32(1)))
	})

	It("reports a failed sending Job once, and the next Job takes its events", func() {
		ns := namespace()
		c := touchPointCampaign(ns, "post-complaint")
		Eventually(func() error { _, err := service.DueTouchPoints(ctx, ns, string(get(c).UID)); return err }).Should(Succeed())
		happened := clk.Now()
		postRepairs(ns, apiToken, happened, "T-3")
		clk.SetTime(happened.Add(3 * time.Hour))
		poke(c)
		first := campaign.TouchPointJobName(c.Name, clk.Now())
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		failJob(ns, first, `{"audience":1,"invited":0,"sent":0,"failed":{},"skipped":{},"error":"asking the response service for the events due: 503","durationSeconds":1}`)
		Eventually(func() []string { return events(ns, v1alpha1.EventSendingFailed) }).
			Should(ConsistOf(ContainSubstring("asking the response service for the events due: 503")))
		clk.SetTime(clk.Now().Add(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(2))
		Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveCollecting), "a failed Job does not fail the day's wave")
		Consistently(func() []string { return events(ns, v1alpha1.EventSendingFailed) }, "1s").Should(HaveLen(1), "reported once")
	})
})
