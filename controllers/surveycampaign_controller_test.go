package controllers_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/controllers"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/tests3"
)

const residents = `tenancy_ref,email,mobile,tenure,age
T-1,one@example.org,+447700900001,general-needs,34
T-2,two@example.org,,general-needs,71
T-3,three@example.org,+447700900003,shared-ownership,52
T-4,four@example.org,,shared-ownership,45
T-5,,+447700900005,general-needs,29
`

var nsCounter atomic.Int32

// namespace makes a fresh namespace with the audience and the SMS gateway's Secret.
func namespace() string {
	ns := fmt.Sprintf("landlord-%d", nsCounter.Add(1))
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tenants", Namespace: ns},
		Data: map[string][]byte{"tenants.csv": []byte(residents)}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sms-gateway", Namespace: ns},
		Data: map[string][]byte{"hmacKey": []byte("gateway-signing-key")}})).To(Succeed())
	return ns
}

func newCampaign(ns, name string, mutate func(*v1alpha1.SurveyCampaign)) *v1alpha1.SurveyCampaign {
	c := &v1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SurveyCampaignSpec{
			Survey: v1alpha1.Survey{Title: "Riverside Homes tenant survey", Questions: []v1alpha1.Question{
				{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied or dissatisfied are you with our service?", Required: true},
				{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied or dissatisfied are you with the repairs service?"},
			}},
			Audience: v1alpha1.Audience{
				Source: v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"},
					IDField: "tenancy_ref", Contact: v1alpha1.ContactColumns{Email: "email", Phone: "mobile"}},
				Segments: []v1alpha1.Segment{
					{Name: "general-needs", Match: `attrs.tenure == "general-needs"`, Channels: []string{"sms", "email"}},
					{Name: "shared-ownership", Channels: []string{"email"}},
				},
			},
			Channels: []v1alpha1.Channel{
				{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org"}, From: "listening@riverside.example"}},
				{Name: "sms", Webhook: &v1alpha1.WebhookChannel{URL: "https://sms.example.org/send", SecretRef: &v1alpha1.LocalObjectReference{Name: "sms-gateway"}}},
			},
			Schedule: &v1alpha1.Schedule{Cron: fmt.Sprintf("0 %d * * *", due0.Hour()), TimeZone: "UTC", ResponseWindow: "72h"},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	Expect(k8sClient.Create(ctx, c)).To(Succeed())
	return c
}

func get(c *v1alpha1.SurveyCampaign) *v1alpha1.SurveyCampaign {
	var out v1alpha1.SurveyCampaign
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKeyFromObject(c), &out)).To(Succeed())
	return &out
}

func waveOf(c *v1alpha1.SurveyCampaign, id string) v1alpha1.WaveStatus {
	for _, w := range get(c).Status.Waves {
		if w.ID == id {
			return w
		}
	}
	return v1alpha1.WaveStatus{}
}

// latest is the newest wave in status (empty when there is none yet).
func latest(c *v1alpha1.SurveyCampaign) v1alpha1.WaveStatus {
	if ws := get(c).Status.Waves; len(ws) > 0 {
		return ws[0]
	}
	return v1alpha1.WaveStatus{}
}

var pokes atomic.Int64

// poke makes the reconciler look again, as the requeue at the fake clock's time would.
func poke(c *v1alpha1.SurveyCampaign) {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.surveyops.io/poke":"%d"}}}`, pokes.Add(1))
	ExpectWithOffset(1, k8sClient.Patch(ctx, &v1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace}},
		client.RawPatch("application/merge-patch+json", []byte(patch)))).To(Succeed())
}

func jobs(ns string) []batchv1.Job {
	var list batchv1.JobList
	ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	return list.Items
}

func jobNames(ns string) func() []string {
	return func() []string {
		var names []string
		for _, j := range jobs(ns) {
			names = append(names, j.Name)
		}
		return names
	}
}

func condition(c *v1alpha1.SurveyCampaign, t string) metav1.Condition {
	if cond := meta.FindStatusCondition(get(c).Status.Conditions, t); cond != nil {
		return *cond
	}
	return metav1.Condition{}
}

func conditionOf(t string) func(*v1alpha1.SurveyCampaign) metav1.ConditionStatus {
	return func(c *v1alpha1.SurveyCampaign) metav1.ConditionStatus { return condition(c, t).Status }
}

// kstatus computes the campaign's status as Flux does, and checks that the Argo CD health check
// in config/argocd agrees.
func kstatus(c *v1alpha1.SurveyCampaign) status.Status {
	obj := get(c)
	obj.APIVersion, obj.Kind = v1alpha1.GroupVersion.String(), "SurveyCampaign"
	u, err := toUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	argoAgrees(u, res.Status)
	return res.Status
}

// health is Argo CD's health of the campaign.
func health(c *v1alpha1.SurveyCampaign) string {
	obj := get(c)
	obj.APIVersion, obj.Kind = v1alpha1.GroupVersion.String(), "SurveyCampaign"
	u, err := toUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	h, _ := argoHealth(u)
	return h
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, u.UnmarshalJSON(data)
}

// completeJob plays the Job controller: the Job ran to completion.
func completeJob(ns, name string) {
	var j batchv1.Job
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	now := metav1.NewTime(time.Now())
	j.Status.StartTime = &now
	j.Status.CompletionTime = &now
	j.Status.Succeeded = 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, &j)).To(Succeed())
}

// failJob plays the Job controller and the kubelet: the sender's pod ended with a termination
// message, and the Job failed.
func failJob(ns, name, message string) {
	senderPod(ns, name, message, 1)
	now := metav1.NewTime(time.Now())
	var j batchv1.Job
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
	j.Status.StartTime = &now
	j.Status.Failed = 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
	}
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, &j)).To(Succeed())
}

// senderPod plays the kubelet: the Job's sender pod ended with a termination message.
func senderPod(ns, job, message string, exit int32) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job + "-x1", Namespace: ns, Labels: map[string]string{"batch.kubernetes.io/job-name": job}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "sender", Image: "survey-operator:test"}}}}
	ExpectWithOffset(2, k8sClient.Create(ctx, pod)).To(Succeed())
	now := metav1.NewTime(time.Now())
	pod.Status.Phase = corev1.PodSucceeded
	if exit != 0 {
		pod.Status.Phase = corev1.PodFailed
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "sender", Image: "survey-operator:test",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: message, FinishedAt: now, StartedAt: now}}}}
	ExpectWithOffset(2, k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// report reads a wave's report ConfigMap, checking it is the campaign's.
func report(c *v1alpha1.SurveyCampaign, wave string) campaign.Report {
	var cm corev1.ConfigMap
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: campaign.ReportName(c.Name, wave)}, &cm); err != nil {
		return campaign.Report{}
	}
	ExpectWithOffset(1, cm.OwnerReferences).To(HaveLen(1))
	ExpectWithOffset(1, cm.OwnerReferences[0].UID).To(Equal(get(c).UID))
	var r campaign.Report
	ExpectWithOffset(1, json.Unmarshal([]byte(cm.Data[campaign.ReportKey]), &r)).To(Succeed())
	return r
}

// reportNames lists the wave reports in a namespace.
func reportNames(ns string) func() []string {
	return func() []string {
		var list corev1.ConfigMapList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{campaign.LabelComponent: campaign.ComponentReport})).To(Succeed())
		var names []string
		for _, cm := range list.Items {
			names = append(names, cm.Name)
		}
		return names
	}
}

// series reads the gauge name with exactly the given labels from controller-runtime's metrics
// registry; NaN when absent.
func series(name string, want map[string]string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if maps.Equal(labels, want) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return math.NaN()
}

// gaugeFU reads a FollowUp's case gauge for a state; NaN when absent.
func gaugeFU(state, ns, name string) float64 {
	return series("survey_followup_cases", map[string]string{"namespace": ns, "followup": name, "state": state})
}

// conditionGauge reads survey_condition for an object's condition; NaN when absent.
func conditionGauge(kind, ns, name, condition string) float64 {
	return series("survey_condition", map[string]string{"kind": kind, "namespace": ns, "name": name, "type": condition})
}

// gauge reads a campaign gauge labelled by namespace and campaign and, for some, the extra
// labels' names and values (and nothing else: no person); NaN when absent.
func gauge(name, ns, campaign string, extra ...string) float64 {
	want := map[string]string{"namespace": ns, "campaign": campaign}
	for i := 0; i+1 < len(extra); i += 2 {
		want[extra[i]] = extra[i+1]
	}
	return series(name, want)
}

func events(ns, reason string) []string {
	var list eventsv1.EventList
	ExpectWithOffset(1, k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// due0 is the first due time of the campaigns' daily cron: the second full hour from now, so
// that every campaign of the suite is created before it. Campaigns are created at the real
// time (their creationTimestamp), so the fake clock starts there too.
var due0 = time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)

// at is a time relative to due0.
func at(d time.Duration) time.Time { return due0.Add(d) }

// waveID is the id of the wave due d after due0.
func waveID(d time.Duration) string { return campaign.WaveID(due0.Add(d)) }

func hhmm(t time.Time) string { return t.UTC().Format("15:04") }

// invite records what a sender would have: invitations sent to keys of a segment.
func invite(c *v1alpha1.SurveyCampaign, wave, segment, channel string, keys ...string) {
	var invs []store.Invitation
	for _, k := range keys {
		invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: string(c.UID), WaveID: wave, RecipientKey: k},
			Namespace: c.Namespace, Segment: segment, Channel: channel})
	}
	_, err := responses.Reserve(ctx, invs, clk.Now())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	for _, inv := range invs {
		ExpectWithOffset(1, responses.Mark(ctx, inv.InvitationKey, store.StateSent, "", clk.Now())).To(Succeed())
	}
}

func answer(c *v1alpha1.SurveyCampaign, wave, segment, channel, key string, tp01 int) {
	_, err := responses.SaveResponse(ctx, store.Response{CampaignUID: string(c.UID), WaveID: wave, RecipientKey: key,
		Namespace: c.Namespace, Segment: segment, Channel: channel, Complete: true,
		Answers: []store.Answer{{Question: "tp01", Value: ptr.To(tp01)}}}, clk.Now())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
}

var _ = Describe("SurveyCampaign reconciler", Ordered, func() {
	var stop func()
	BeforeAll(func() { stop = startManager() })
	AfterAll(func() { stop() })
	BeforeEach(func() { clk.SetTime(time.Now()) })

	It("reads an audience from a real S3 server: stalled while the object is missing, then a wave pinned to its version", func() {
		s3 := tests3.Start(GinkgoTB())
		s3.Bucket(GinkgoTB(), "exports")
		access, secret := s3.Reader(GinkgoTB(), "exports")
		ns := namespace()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "exports-reader", Namespace: ns},
			Data: map[string][]byte{"accesskey": []byte(access), "secretkey": []byte(secret)}})).To(Succeed())
		c := newCampaign(ns, "from-a-bucket", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Audience.Source.SecretRef = nil
			c.Spec.Audience.Source.ObjectStore = &v1alpha1.ObjectStoreSource{Endpoint: s3.Host, Bucket: "exports", Key: "tenants.csv",
				Region: s3.Region, Insecure: true, Addressing: v1alpha1.BucketAddressingPath,
				SecretRef: v1alpha1.LocalObjectReference{Name: "exports-reader"}}
		})
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(func() string { return condition(c, v1alpha1.ConditionStalled).Reason }).Should(Equal(v1alpha1.ReasonAudienceUnavailable))
		Expect(condition(c, v1alpha1.ConditionStalled).Message).To(ContainSubstring("spec.audience.source.objectStore.key"))
		Expect(kstatus(c)).To(Equal(status.FailedStatus))
		Consistently(jobNames(ns), "2s").Should(BeEmpty())

		put := s3.Put(GinkgoTB(), "exports", "tenants.csv", []byte(residents))
		clk.SetTime(at(time.Minute + controllers.AudienceRetryForTests))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		Eventually(func() string {
			if v := latest(c).AudienceVersion; v != nil && v.Size == int64(len(residents)) && v.Modified != nil {
				return v.ETag
			}
			return ""
		}).Should(Equal(put.ETag), "the wave's status keeps the object's version")
		Expect(condition(c, v1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionFalse))
	})

	It("starts a wave at its due time with one Job, and never a second after a restart", func() {
		ns := namespace()
		c := newCampaign(ns, "tenant-satisfaction", nil)

		// Before its time nothing is due: the campaign is Ready and says when the wave comes.
		Eventually(func() *metav1.Time { return get(c).Status.NextWaveTime }).Should(Not(BeNil()))
		Expect(get(c).Status.NextWaveTime.Time).To(BeTemporally("==", at(0)))
		Expect(condition(c, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Expect(get(c).Status.ObservedGeneration).To(Equal(get(c).Generation))
		Expect(kstatus(c)).To(Equal(status.CurrentStatus))
		Consistently(jobNames(ns), "1s").Should(BeEmpty())

		clk.SetTime(at(20 * time.Second))
		poke(c)
		first := "tenant-satisfaction-" + waveID(0)
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		j := jobs(ns)[0]
		Expect(j.OwnerReferences).To(HaveLen(1))
		Expect(*j.OwnerReferences[0].Controller).To(BeTrue())
		Expect(j.Labels).To(HaveKeyWithValue(campaign.LabelWave, waveID(0)))
		Expect(j.Spec.TTLSecondsAfterFinished).To(BeNil())
		Expect(*j.Spec.BackoffLimit).To(BeNumerically(">", 0))
		Expect(*j.Spec.ActiveDeadlineSeconds).To(BeNumerically(">", 0))
		// A disrupted pod (a node drained) is replaced without using up a retry.
		Expect(j.Spec.PodFailurePolicy).NotTo(BeNil())
		Expect(j.Spec.PodFailurePolicy.Rules).To(ConsistOf(batchv1.PodFailurePolicyRule{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		}))
		pod := j.Spec.Template.Spec
		Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
		Expect(*pod.Containers[0].SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		Expect(*pod.Containers[0].SecurityContext.AllowPrivilegeEscalation).To(BeFalse())
		Expect(pod.Containers[0].SecurityContext.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
		var cfg jobfile.Config
		Expect(json.Unmarshal([]byte(pod.Containers[0].Env[0].Value), &cfg)).To(Succeed())
		Expect(cfg.WaveID).To(Equal(waveID(0)))
		Expect(cfg.CampaignUID).To(Equal(string(get(c).UID)))
		Expect(cfg.Expiry).To(BeTemporally("==", at(72*time.Hour)))
		Expect(cfg.Audience.Segments).To(HaveLen(2))
		Expect(strings.Join(func() []string {
			var s []string
			for _, v := range pod.Volumes {
				if v.Secret != nil {
					s = append(s, v.Secret.SecretName)
				}
			}
			return s
		}(), ",")).To(Equal("tenants,tenant-satisfaction-sender,sms-gateway"))

		// The wave's questionnaire is registered with the response service.
		w, err := responses.GetWave(ctx, string(get(c).UID), waveID(0))
		Expect(err).NotTo(HaveOccurred())
		Expect(w.Namespace).To(Equal(ns))
		key, err := responses.ChannelKey(ctx, string(get(c).UID), waveID(0), "sms")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(key)).To(Equal("gateway-signing-key"))

		// The campaign is Reconciling while its Job sends; kstatus says InProgress.
		Eventually(conditionOf(v1alpha1.ConditionReconciling)).WithArguments(c).Should(Equal(metav1.ConditionTrue))
		Expect(kstatus(c)).To(Equal(status.InProgressStatus))
		Expect(events(ns, v1alpha1.EventWaveStarted)).To(HaveLen(1))

		// A new manager, and a status write that was lost: the Job is adopted, not duplicated.
		stop()
		lost := get(c)
		lost.Status.Waves, lost.Status.LastWaveTime = nil, nil
		Expect(k8sClient.Status().Update(ctx, lost)).To(Succeed())
		stop = startManager()
		poke(c)
		Eventually(func() int { return len(get(c).Status.Waves) }).Should(Equal(1))
		Consistently(jobNames(ns), "2s").Should(ConsistOf(first))

		// The Job of a wave still Pending is deleted: it is made again, under the same name.
		var gone batchv1.Job
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &gone)).To(Succeed())
		Expect(k8sClient.Delete(ctx, &gone, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		Eventually(func() types.UID {
			var j batchv1.Job
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &j); err != nil {
				return ""
			}
			return j.UID
		}).ShouldNot(Or(BeEmpty(), Equal(gone.UID)))
		Expect(jobNames(ns)()).To(HaveLen(1))
	})

	It("reports Stalled with the field for a broken spec, and recovers when it is fixed", func() {
		ns := namespace()
		c := newCampaign(ns, "broken", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Audience.Segments[0].Match = `attrs.agee > "70"`
		})
		Eventually(conditionOf(v1alpha1.ConditionStalled)).WithArguments(c).Should(Equal(metav1.ConditionTrue))
		cond := condition(c, v1alpha1.ConditionStalled)
		Expect(cond.Message).To(ContainSubstring(`spec.audience.segments[0].match: attrs has no column "agee"`))
		Expect(cond.ObservedGeneration).To(Equal(get(c).Generation))
		Expect(condition(c, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		Expect(kstatus(c)).To(Equal(status.FailedStatus))
		Eventually(func() []string { return events(ns, v1alpha1.EventInvalidSpec) }).Should(HaveLen(1))

		// Fixed in the spec: it recovers.
		fixed := get(c)
		fixed.Spec.Audience.Segments[0].Match = `attrs.age > "70"`
		Expect(k8sClient.Update(ctx, fixed)).To(Succeed())
		Eventually(conditionOf(v1alpha1.ConditionStalled)).WithArguments(c).Should(Equal(metav1.ConditionFalse))
		Expect(condition(c, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Expect(kstatus(c)).To(Equal(status.CurrentStatus))

		// A missing Secret stalls it; creating the Secret (no change to the campaign) recovers it.
		other := newCampaign(ns, "no-credentials", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Channels[0].Email.SMTP.CredentialsSecretRef = &v1alpha1.LocalObjectReference{Name: "smtp-login"}
		})
		Eventually(func() string { return condition(other, v1alpha1.ConditionStalled).Message }).
			Should(Equal(`spec.channels[0].email.smtp.credentialsSecretRef: Secret "smtp-login" not found`))
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "smtp-login", Namespace: ns},
			Data: map[string][]byte{"username": []byte("survey"), "password": []byte("s3cret")}})).To(Succeed())
		Eventually(conditionOf(v1alpha1.ConditionStalled)).WithArguments(other).Should(Equal(metav1.ConditionFalse))

		// A bad cron and an unknown time zone name their fields.
		bad := newCampaign(ns, "bad-schedule", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Schedule.Cron = "0 9 32 * *"
		})
		Eventually(func() string { return condition(bad, v1alpha1.ConditionStalled).Message }).
			Should(HavePrefix("spec.schedule.cron: cron field 3 (day of month)"))
		tz := newCampaign(ns, "bad-zone", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Schedule.TimeZone = "Europe/Londres"
		})
		Eventually(func() string { return condition(tz, v1alpha1.ConditionStalled).Message }).
			Should(HavePrefix("spec.schedule.timeZone:"))
		Expect(jobNames(ns)()).To(BeEmpty())
	})

	It("scores a wave from the response service, closes it, and sets TargetsMet", func() {
		ns := namespace()
		c := newCampaign(ns, "quarterly", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Targets = &v1alpha1.Targets{ResponseRate: "50", Score: &v1alpha1.ScoreTarget{Question: "tp01", Min: "60"}}
			c.Spec.Benchmarks = []v1alpha1.Benchmark{{Name: "sector-median", Question: "tp01", Value: "71"}}
			// Groups of 4 are scored, so that the wave's 4 answers are (its segments' 3 and 1
			// are still counts only).
			c.Spec.Reporting = &v1alpha1.Reporting{MinimumGroupSize: ptr.To(int32(4))}
		})
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		c = get(c)
		wave := waveID(0)

		// The sender's work, as the ledger sees it, and answers: 4 of 5 respond, 3 satisfied.
		invite(c, wave, "general-needs", "sms", "T-1", "T-5")
		invite(c, wave, "general-needs", "email", "T-2")
		invite(c, wave, "shared-ownership", "email", "T-3", "T-4")
		answer(c, wave, "general-needs", "sms", "T-1", 5)
		answer(c, wave, "general-needs", "sms", "T-5", 4)
		answer(c, wave, "general-needs", "email", "T-2", 2)
		answer(c, wave, "shared-ownership", "email", "T-3", 4)
		completeJob(ns, jobNames(ns)()[0])

		Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveCollecting))
		Eventually(func() int64 { return latest(c).Responded }).Should(Equal(int64(4)))
		w := get(c).Status.Waves[0]
		Expect(w.Invited).To(Equal(int64(5)))
		Expect(w.ResponseRate).To(Equal(v1alpha1.Percent("80.0")))
		Expect(w.Scores[0].Question).To(Equal("tp01"))
		Expect(w.Scores[0].Value).To(Equal(v1alpha1.Decimal("75.0")))
		Expect(w.Scores[0].N).To(Equal(int64(4)))
		Expect(w.Segments).To(HaveLen(2))
		Expect(w.Segments[0].Name).To(Equal("general-needs"))
		Expect(w.Segments[0].Invited).To(Equal(int64(3)))
		Expect(w.Targets).To(ContainElement(v1alpha1.TargetVerdict{Target: "responseRate", Verdict: v1alpha1.VerdictMet, Actual: "80.0"}))
		Expect(w.Targets).To(ContainElement(v1alpha1.TargetVerdict{Target: "score", Verdict: v1alpha1.VerdictMet, Actual: "75.0"}))
		// Four answers are too few to call anything different from a benchmark.
		Expect(w.Benchmarks[0].Verdict).To(Equal(v1alpha1.VerdictNotSignificant))
		Expect(condition(c, v1alpha1.ConditionTargetsMet).Status).To(Equal(metav1.ConditionTrue))
		Expect(get(c).Status.ResponseRate).To(Equal(v1alpha1.Percent("80.0")))
		Expect(get(c).Status.Score).To(HavePrefix("75.0% ±"))
		Expect(condition(c, v1alpha1.ConditionReconciling).Status).To(Equal(metav1.ConditionFalse))
		Expect(kstatus(c)).To(Equal(status.CurrentStatus))

		// The same figures as metrics, labelled by namespace and campaign only.
		Expect(gauge("survey_campaign_responses", ns, "quarterly")).To(Equal(4.0))
		Expect(gauge("survey_campaign_invitations", ns, "quarterly")).To(Equal(5.0))
		Expect(gauge("survey_campaign_response_rate", ns, "quarterly")).To(Equal(0.8))
		Expect(gauge("survey_campaign_response_rate_target", ns, "quarterly")).To(Equal(0.5))
		Expect(gauge("survey_campaign_satisfied_ratio", ns, "quarterly", "question", "tp01")).To(Equal(0.75))

		// The window ends: the wave closes with a final count and an Event.
		clk.SetTime(at(72*time.Hour + time.Minute))
		poke(c)
		// (The campaign's next wave starts then too.)
		Eventually(func() v1alpha1.WavePhase { return waveOf(c, wave).Phase }).Should(Equal(v1alpha1.WaveClosed))
		Eventually(func() []string { return events(ns, v1alpha1.EventWaveClosed) }).Should(ConsistOf(
			"Wave " + wave + " closed: 4 of 5 responded (80.0%), score 75.0% ±" + strings.TrimPrefix(get(c).Status.Score, "75.0% ±") + "."))
		// Its report, in a ConfigMap of the namespace owned by the campaign, has the final figures
		// in full: every question by channel too, and the invitations by disposition.
		Eventually(func() v1alpha1.WavePhase { return report(c, wave).Wave.Phase }).Should(Equal(v1alpha1.WaveClosed))
		rep := report(c, wave)
		Expect(rep.Kind).To(Equal("WaveReport"))
		Expect(rep.Wave.Responded).To(Equal(int64(4)))
		Expect(rep.Wave.Scores).To(Equal(waveOf(c, wave).Scores))
		Expect(rep.Wave.Segments).NotTo(BeEmpty())
		Expect(rep.Wave.Channels).NotTo(BeEmpty())
		Expect(rep.Dispositions).NotTo(BeEmpty())
		var complete int
		for _, d := range rep.Dispositions {
			complete += d.Complete + d.Partial
		}
		Expect(complete).To(Equal(4))
		// Its final rate is what the alert on a closed wave compares with the target.
		Eventually(func() float64 { return gauge("survey_campaign_closed_response_rate", ns, "quarterly") }).Should(Equal(0.8))
		Expect(conditionGauge("SurveyCampaign", ns, "quarterly", v1alpha1.ConditionStalled)).To(Equal(0.0))
		Expect(conditionGauge("SurveyCampaign", ns, "quarterly", v1alpha1.ConditionTargetsMet)).To(Equal(1.0))
	})

	It("weights a sampled wave's scores by the segments' populations once the sender records the frame", func() {
		ns := namespace()
		c := newCampaign(ns, "sampled", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Audience.Segments[0].Sample = &v1alpha1.Sample{Percent: ptr.To(int32(10))}
		})
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		c = get(c)
		wave := waveID(0)
		// General needs: 100 tenants, 10 sampled (10%), all answer, 6 satisfied; shared ownership:
		// 10 tenants, 5 invited, all answer, all satisfied. (The sender's work, as the ledger and
		// the frame see it.)
		Expect(responses.PutFrame(ctx, string(c.UID), wave, 0, 1, map[string]store.FrameCounts{
			"general-needs":    {Population: 100, Sampled: 10},
			"shared-ownership": {Population: 10, Sampled: 5},
		})).To(Succeed())
		for i := range 10 {
			key := fmt.Sprintf("G-%d", i)
			invite(c, wave, "general-needs", "email", key)
			answer(c, wave, "general-needs", "email", key, map[bool]int{true: 5, false: 2}[i < 6])
		}
		for i := range 5 {
			key := fmt.Sprintf("S-%d", i)
			invite(c, wave, "shared-ownership", "email", key)
			answer(c, wave, "shared-ownership", "email", key, 4)
		}
		completeJob(ns, jobNames(ns)()[0])

		Eventually(func() int64 { return latest(c).Responded }).Should(Equal(int64(15)))
		w := get(c).Status.Waves[0]
		// Pooled, 11 of 15 are satisfied (73.3). Weighted: W = 100/110 and 10/110, value =
		// 0.909·60 + 0.091·100 = 63.6; variance = 0.909²·60·40/10·90/99 = 180.3, margin =
		// 1.96·√180.3 = 26.3; Kish n = 1/(0.909²/10 + 0.091²/5) = 11.9.
		Expect(w.Scores[0]).To(Equal(v1alpha1.QuestionScore{Question: "tp01", Value: "63.6", MarginOfError: "26.3", Mean: w.Scores[0].Mean,
			N: 15, Unweighted: "73.3", EffectiveN: 12}))
		Expect(get(c).Status.Score).To(Equal("63.6% ±26.3"))
		// The segment's margin is on its 100 tenants: 1.96·√(0.6·0.4/10)·√(90/99) = 29.0.
		Expect(w.Segments[0].Name).To(Equal("general-needs"))
		Expect(w.Segments[0].Population).To(Equal(int64(100)))
		Expect(w.Segments[0].Score.MarginOfError).To(Equal(v1alpha1.Decimal("29.0")))
		Expect(w.Segments[1].Population).To(Equal(int64(10)))
		// 10 and 5 answers where 13.6 and 1.4 were expected: χ² = 10.7, p = 0.001.
		Expect(w.Representativeness).To(Equal(&v1alpha1.Representativeness{ChiSquare: "10.7", DegreesOfFreedom: 1, PValue: "0.001", Representative: false}))
		Expect(w.Segments[0].PopulationShare).To(Equal(v1alpha1.Percent("90.9")))
		Expect(w.Segments[0].ResponseShare).To(Equal(v1alpha1.Percent("66.7")))
	})

	It("shows each scored question's change since the previous closed wave, and whether it is significant", func() {
		ns := namespace()
		c := newCampaign(ns, "quarterly-trend", func(c *v1alpha1.SurveyCampaign) { c.Spec.Schedule.ResponseWindow = "20h" })
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		c = get(c)
		first, second := waveID(0), waveID(24*time.Hour)
		// The first wave: 40 answers, 10 satisfied (25%).
		for i := range 40 {
			key := fmt.Sprintf("A-%d", i)
			invite(c, first, "general-needs", "email", key)
			answer(c, first, "general-needs", "email", key, map[bool]int{true: 5, false: 1}[i < 10])
		}
		completeJob(ns, "quarterly-trend-"+first)
		Eventually(func() int64 { return waveOf(c, first).Responded }).Should(Equal(int64(40)))
		// Its window ends; the next day's wave starts.
		clk.SetTime(at(20*time.Hour + time.Minute))
		poke(c)
		Eventually(func() v1alpha1.WavePhase { return waveOf(c, first).Phase }).Should(Equal(v1alpha1.WaveClosed))
		clk.SetTime(at(24*time.Hour + time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(2))
		// The second wave: 40 answers, 30 satisfied (75%): up 50 points, far past both margins.
		for i := range 40 {
			key := fmt.Sprintf("B-%d", i)
			invite(c, second, "general-needs", "email", key)
			answer(c, second, "general-needs", "email", key, map[bool]int{true: 5, false: 1}[i < 30])
		}
		completeJob(ns, "quarterly-trend-"+second)
		Eventually(func() []v1alpha1.TrendComparison { return waveOf(c, second).Trend }).Should(Equal([]v1alpha1.TrendComparison{
			{Question: "tp01", PreviousWave: first, Change: "50.0", Verdict: v1alpha1.VerdictAbove}}))
		Expect(waveOf(c, first).Trend).To(BeEmpty())
	})

	It("starts a wave on request, once per annotation value, and none while suspended", func() {
		ns := namespace()
		c := newCampaign(ns, "on-demand", func(c *v1alpha1.SurveyCampaign) { c.Spec.Suspend = true })
		Eventually(func() string { return condition(c, v1alpha1.ConditionReady).Reason }).Should(Equal(v1alpha1.ReasonSuspended))
		Expect(kstatus(c)).To(Equal(status.CurrentStatus)) // Flux waits for nothing; Argo CD shows it Suspended
		Expect(health(c)).To(Equal("Suspended"))
		clk.SetTime(at(30 * time.Minute))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(BeEmpty())
		Expect(get(c).Status.NextWaveTime).To(BeNil())

		resumed := get(c)
		resumed.Spec.Suspend = false
		resumed.Annotations = map[string]string{v1alpha1.AnnotationRequestedAt: "2026-11-23T09:30:00Z"}
		Expect(k8sClient.Update(ctx, resumed)).To(Succeed())
		// The wave due while suspended, and superseded by the request) and the request:
		// one Job, for the request.
		requested := "on-demand-" + campaign.RequestedWaveID("2026-11-23T09:30:00Z")
		Eventually(jobNames(ns)).Should(ConsistOf(requested))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(ConsistOf(requested))
		id := campaign.RequestedWaveID("2026-11-23T09:30:00Z")
		Eventually(func() string { return waveOf(c, id).Message }).Should(BeEmpty())
		Expect(waveOf(c, id).ScheduledTime.Time).To(BeTemporally("==", at(30*time.Minute)))

		// A new manager ten minutes later, and the status lost: the request is handled again at
		// a new time, the response service keeps the snapshot it registered, and the Job is
		// adopted: no second Job, and the campaign does not wait on the service for ever.
		stop()
		lost := get(c)
		lost.Status.Waves, lost.Status.LastWaveTime, lost.Status.LastHandledRequestedAt = nil, nil, ""
		Expect(k8sClient.Status().Update(ctx, lost)).To(Succeed())
		clk.SetTime(at(40 * time.Minute))
		stop = startManager()
		poke(c)
		Eventually(func() string { return waveOf(c, id).JobName }).Should(Equal(requested))
		Eventually(func() string { return waveOf(c, id).Message }).Should(BeEmpty())
		Consistently(func() string { return condition(c, v1alpha1.ConditionReconciling).Reason }, "1s").
			ShouldNot(Equal(v1alpha1.ReasonWaitingForResponseService))
		Expect(jobNames(ns)()).To(ConsistOf(requested))
	})

	It("catches up one missed wave at most, and skips one past its starting deadline", func() {
		ns := namespace()
		c := newCampaign(ns, "catch-up", func(c *v1alpha1.SurveyCampaign) { c.Spec.Schedule.StartingDeadline = "2h" })
		Eventually(func() *metav1.Time { return get(c).Status.NextWaveTime }).ShouldNot(BeNil())
		// Three days pass unseen: only the latest due time can start, and it is 3h late.
		clk.SetTime(at(75 * time.Hour))
		poke(c)
		Eventually(func() []string { return events(ns, v1alpha1.EventWaveMissed) }).Should(HaveLen(1))
		Expect(jobNames(ns)()).To(BeEmpty())
		Eventually(func() string { return latest(c).ID }).Should(Equal(waveID(72 * time.Hour)))
		skipped := latest(c)
		Expect(skipped.Phase).To(Equal(v1alpha1.WaveFailed))
		Expect(skipped.Message).To(ContainSubstring("past startingDeadline 2h"))
		Expect(condition(c, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonWaveSkipped))
		Expect(condition(c, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		// Reported once: looking again changes nothing.
		poke(c)
		Consistently(func() []string { return events(ns, v1alpha1.EventWaveMissed) }, "1s").Should(HaveLen(1))
		Expect(get(c).Status.NextWaveTime.Time).To(BeTemporally("==", at(96*time.Hour)))
		// Within the deadline the latest due time starts, once.
		clk.SetTime(at(97 * time.Hour))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf("catch-up-" + waveID(96*time.Hour)))
	})

	It("sends reminders to non-responders at their offsets, out of quiet hours", func() {
		ns := namespace()
		c := newCampaign(ns, "reminded", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Schedule.Reminders = []v1alpha1.Duration{"12h", "48h"}
			c.Spec.Schedule.QuietHours = &v1alpha1.QuietHours{Start: hhmm(at(11 * time.Hour)), End: hhmm(at(14 * time.Hour))}
		})
		first := "reminded-" + waveID(0)
		clk.SetTime(at(0))
		poke(c)
		Eventually(jobNames(ns)).Should(HaveLen(1))
		completeJob(ns, first)
		Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveCollecting))

		// 12h after the start falls in quiet hours (from 11h to 14h after it): the reminder waits.
		clk.SetTime(at(12*time.Hour + 30*time.Minute))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(HaveLen(1))
		clk.SetTime(at(14 * time.Hour))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf(first, first+"-r1"))
		Eventually(func() int32 { return latest(c).RemindersSent }).Should(Equal(int32(1)))
		var cfg jobfile.Config
		var j batchv1.Job
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: first + "-r1"}, &j)).To(Succeed())
		Expect(json.Unmarshal([]byte(j.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg)).To(Succeed())
		Expect(cfg.Round).To(Equal(1))
		Expect(cfg.WaveID).To(Equal(waveID(0)))
	})

	It("reports a failed wave with the sender's reason as Stalled, cleared by the next wave", func() {
		ns := namespace()
		c := newCampaign(ns, "bad-file", nil)
		clk.SetTime(at(time.Minute))
		poke(c)
		first := "bad-file-" + waveID(0)
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		failJob(ns, first, `{"audience":0,"invited":0,"sent":0,"failed":{},"skipped":{},"error":"the audience is invalid, nothing was sent: line 3: duplicate id \"T-2\" (first on line 2)","durationSeconds":0.01}`)

		Eventually(conditionOf(v1alpha1.ConditionStalled)).WithArguments(c).Should(Equal(metav1.ConditionTrue))
		cond := condition(c, v1alpha1.ConditionStalled)
		Expect(cond.Reason).To(Equal(v1alpha1.ReasonWaveFailed))
		Expect(cond.Message).To(ContainSubstring("line 3: duplicate id"))
		Expect(latest(c).Phase).To(Equal(v1alpha1.WaveFailed))
		Expect(kstatus(c)).To(Equal(status.FailedStatus))
		Eventually(func() []string { return events(ns, v1alpha1.EventWaveFailed) }).Should(HaveLen(1))

		// Fixed and sent again on request: the new wave clears it.
		again := get(c)
		again.Annotations = map[string]string{v1alpha1.AnnotationRequestedAt: "fixed the file"}
		Expect(k8sClient.Update(ctx, again)).To(Succeed())
		Eventually(jobNames(ns)).Should(HaveLen(2))
		Eventually(conditionOf(v1alpha1.ConditionStalled)).WithArguments(c).Should(Equal(metav1.ConditionFalse))
	})

	It("adopts a Job that already exists for the wave, and refuses another campaign's", func() {
		ns := namespace()
		c := newCampaign(ns, "adopter", nil)
		c = get(c)
		name := "adopter-" + waveID(0)
		existing := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels: map[string]string{campaign.LabelCampaignUID: string(c.UID), campaign.LabelWave: waveID(0)}, Annotations: map[string]string{"made-by": "an earlier manager"}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "sender", Image: "survey-operator:test"}}}}}}
		Expect(k8sClient.Create(ctx, existing)).To(Succeed())
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(func() string { return latest(c).JobName }).Should(Equal(name))
		Consistently(jobNames(ns), "1s").Should(ConsistOf(name))
		var j batchv1.Job
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j)).To(Succeed())
		Expect(j.Annotations).To(HaveKeyWithValue("made-by", "an earlier manager"))

		// A Job of that name that is not the campaign's is never taken over.
		other := newCampaign(ns, "squatted", nil)
		squat := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "squatted-" + waveID(0), Namespace: ns,
			Labels: map[string]string{campaign.LabelCampaignUID: "someone-else"}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "sender", Image: "survey-operator:test"}}}}}}
		Expect(k8sClient.Create(ctx, squat)).To(Succeed())
		poke(other)
		Eventually(func() string { return condition(other, v1alpha1.ConditionReady).Message }).
			Should(ContainSubstring("a Job named squatted-" + waveID(0) + " exists and is not this campaign's"))
		Expect(latest(other).ID).To(BeEmpty())
	})

	It("starts the wave of a spring-forward day once, at the first instant after the gap", func() {
		ns := namespace()
		c := newCampaign(ns, "dst", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Schedule.Cron = "30 1 * * *"
			c.Spec.Schedule.TimeZone = "Europe/London"
			c.Spec.Schedule.StartingDeadline = "1h"
		})
		Eventually(func() *metav1.Time { return get(c).Status.NextWaveTime }).ShouldNot(BeNil())
		// The day before: 01:30 GMT. Then 28 March 2027, when 01:30 does not exist in London.
		clk.SetTime(time.Date(2027, 3, 27, 1, 31, 0, 0, time.UTC))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf("dst-20270327-0130"))
		Eventually(func() time.Time { return get(c).Status.NextWaveTime.Time }).Should(BeTemporally("==", time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC)))
		clk.SetTime(time.Date(2027, 3, 28, 1, 5, 0, 0, time.UTC))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf("dst-20270327-0130", "dst-20270328-0100"))
		Eventually(func() time.Time { return get(c).Status.NextWaveTime.Time }).Should(BeTemporally("==", time.Date(2027, 3, 29, 0, 30, 0, 0, time.UTC)))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(HaveLen(2))
	})

	It("resumes a round its sender left at the start of quiet hours, once they end", func() {
		ns := namespace()
		c := newCampaign(ns, "quiet", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Schedule.QuietHours = &v1alpha1.QuietHours{Start: hhmm(at(time.Hour)), End: hhmm(at(3 * time.Hour))}
		})
		first := "quiet-" + waveID(0)
		clk.SetTime(at(time.Minute))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf(first))
		// The sender reached quiet hours with some of the audience left, and stopped cleanly.
		clk.SetTime(at(90 * time.Minute))
		senderPod(ns, first, `{"audience":5,"invited":2,"sent":2,"failed":{},"skipped":{},"stopped":"quiet-hours","durationSeconds":1}`, 0)
		completeJob(ns, first)
		Eventually(func() string { return latest(c).Message }).Should(HavePrefix("Paused for quiet hours; sending resumes at " + at(3*time.Hour).Format(time.RFC3339)))
		Expect(latest(c).Phase).To(Equal(v1alpha1.WaveSending))
		Consistently(jobNames(ns), "1s").Should(ConsistOf(first))

		clk.SetTime(at(3 * time.Hour))
		poke(c)
		Eventually(jobNames(ns)).Should(ConsistOf(first, first+"-c1"))
		Eventually(func() []string { return events(ns, v1alpha1.EventSendingResumed) }).Should(HaveLen(1))
		senderPod(ns, first+"-c1", `{"audience":5,"invited":3,"sent":3,"failed":{},"skipped":{"already-sent":2},"durationSeconds":1}`, 0)
		completeJob(ns, first+"-c1")
		Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveCollecting))
		poke(c)
		Consistently(jobNames(ns), "1s").Should(HaveLen(2))
	})

	It("keeps historyLimit waves and deletes the Jobs of the older ones", func() {
		ns := namespace()
		c := newCampaign(ns, "history", func(c *v1alpha1.SurveyCampaign) {
			c.Spec.HistoryLimit = ptr.To(int32(2))
			c.Spec.Schedule.ResponseWindow = "1h"
			c.Spec.Retention = &v1alpha1.Retention{Responses: "720h", Keep: v1alpha1.KeepNothing}
		})
		// Its retention reaches the response service, which deletes the waves' data on its
		// own clock (internal/store's TestRetention).
		Eventually(func() (store.Retention, error) { return responses.GetRetention(ctx, string(get(c).UID)) }).
			Should(Equal(store.Retention{Namespace: ns, Responses: 720 * time.Hour, DropAggregates: true}))
		for day := range 3 {
			clk.SetTime(at(time.Duration(day) * 24 * time.Hour))
			poke(c)
			name := "history-" + waveID(time.Duration(day)*24*time.Hour)
			Eventually(jobNames(ns)).Should(ContainElement(name))
			completeJob(ns, name)
			Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveCollecting))
			clk.SetTime(at(time.Duration(day)*24*time.Hour + time.Hour + time.Minute))
			poke(c)
			Eventually(func() v1alpha1.WavePhase { return latest(c).Phase }).Should(Equal(v1alpha1.WaveClosed))
		}
		Eventually(func() []string {
			var ids []string
			for _, w := range get(c).Status.Waves {
				ids = append(ids, w.ID)
			}
			return ids
		}).Should(Equal([]string{waveID(48 * time.Hour), waveID(24 * time.Hour)}))
		Eventually(jobNames(ns)).Should(ConsistOf("history-"+waveID(24*time.Hour), "history-"+waveID(48*time.Hour)))
		// Their reports go with them.
		Eventually(reportNames(ns)).Should(ConsistOf(campaign.ReportName("history", waveID(24*time.Hour)),
			campaign.ReportName("history", waveID(48*time.Hour))))
	})
})
