package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// What one reconcile of a new campaign does, by the spec and the time.
func TestReconcileStartsWaves(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		mutate  func(*v1alpha1.SurveyCampaign)
		extra   []client.Object
		now     time.Time
		jobs    []string
		ready   string // the Ready condition's reason
		stalled metav1.ConditionStatus
		requeue time.Duration
		// check looks further at the Jobs and the campaign.
		check func(t *testing.T, h *harness, c *v1alpha1.SurveyCampaign)
	}{
		"cron: waits for the first due time": {
			now: t0.Add(30 * time.Minute), ready: v1alpha1.ReasonScheduled, stalled: metav1.ConditionFalse,
			requeue: 30 * time.Minute,
			check: func(t *testing.T, _ *harness, c *v1alpha1.SurveyCampaign) {
				if c.Status.NextWaveTime == nil || !c.Status.NextWaveTime.Equal(&metav1.Time{Time: nine}) {
					t.Errorf("nextWaveTime = %v, want %v", c.Status.NextWaveTime, nine)
				}
			},
		},
		"cron: due now": {
			now: nine.Add(30 * time.Second), jobs: []string{"tenant-satisfaction-20260401-0900"},
			ready: v1alpha1.ReasonSending, stalled: metav1.ConditionFalse,
			requeue: 24*time.Hour - 30*time.Second, // the next day's wave
			check: func(t *testing.T, h *harness, c *v1alpha1.SurveyCampaign) {
				if h.svc.puts["20260401-0900"] != 1 {
					t.Errorf("registrations = %v, want the wave once", h.svc.puts)
				}
				if len(c.Status.Waves) != 1 || c.Status.Waves[0].Phase != v1alpha1.WavePending {
					t.Errorf("waves = %+v", c.Status.Waves)
				}
			},
		},
		"no cron: one wave at once": {
			mutate: func(c *v1alpha1.SurveyCampaign) { c.Spec.Schedule = nil },
			now:    t0.Add(time.Minute), jobs: []string{"tenant-satisfaction-20260401-0800"},
			ready: v1alpha1.ReasonSending, stalled: metav1.ConditionFalse,
		},
		"suspended: nothing starts": {
			mutate: func(c *v1alpha1.SurveyCampaign) { c.Spec.Suspend = true },
			now:    nine.Add(time.Hour), ready: v1alpha1.ReasonSuspended, stalled: metav1.ConditionFalse,
		},
		"missed the starting deadline: recorded, not started": {
			mutate: func(c *v1alpha1.SurveyCampaign) { c.Spec.Schedule.StartingDeadline = "10m" },
			now:    nine.Add(time.Hour), ready: v1alpha1.ReasonWaveSkipped, stalled: metav1.ConditionFalse,
			requeue: 23 * time.Hour,
			check: func(t *testing.T, h *harness, c *v1alpha1.SurveyCampaign) {
				if len(c.Status.Waves) != 1 || c.Status.Waves[0].Phase != v1alpha1.WaveFailed || c.Status.Waves[0].JobName != "" {
					t.Errorf("waves = %+v", c.Status.Waves)
				}
				if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, v1alpha1.EventWaveMissed) {
					t.Errorf("events: %s", ev)
				}
			},
		},
		"audience from a ConfigMap": {
			mutate: func(c *v1alpha1.SurveyCampaign) {
				c.Spec.Audience.Source.SecretRef = nil
				c.Spec.Audience.Source.ConfigMapRef = &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"}
			},
			extra: []client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tenants", Namespace: testNS},
				Data: map[string]string{"tenants.csv": residentsCSV}}},
			now: nine, jobs: []string{"tenant-satisfaction-20260401-0900"}, ready: v1alpha1.ReasonSending, stalled: metav1.ConditionFalse,
			requeue: 24 * time.Hour,
			check: func(t *testing.T, h *harness, _ *v1alpha1.SurveyCampaign) {
				j := h.jobs()["tenant-satisfaction-20260401-0900"]
				v := j.Spec.Template.Spec.Volumes[0]
				if v.ConfigMap == nil || v.ConfigMap.Name != "tenants" || v.ConfigMap.Items[0].Key != "tenants.csv" {
					t.Errorf("the audience volume is %+v, want the ConfigMap's key", v.VolumeSource)
				}
			},
		},
		"audience ConfigMap missing: stalled, naming the field": {
			mutate: func(c *v1alpha1.SurveyCampaign) {
				c.Spec.Audience.Source.SecretRef = nil
				c.Spec.Audience.Source.ConfigMapRef = &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"}
			},
			now: nine, ready: v1alpha1.ReasonInvalidSpec, stalled: metav1.ConditionTrue,
			check: func(t *testing.T, h *harness, c *v1alpha1.SurveyCampaign) {
				if msg := conditionOf(c, v1alpha1.ConditionStalled).Message; !strings.Contains(msg, "spec.audience.source.configMapRef") {
					t.Errorf("Stalled says %q", msg)
				}
				if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, "Warning "+v1alpha1.EventInvalidSpec) {
					t.Errorf("events: %s", ev)
				}
			},
		},
		"a channel's Secret lacks its key: stalled": {
			extra: nil,
			mutate: func(c *v1alpha1.SurveyCampaign) {
				c.Spec.Channels[1].Webhook.SecretRef.Name = "tenants" // a Secret without hmacKey
			},
			now: nine, ready: v1alpha1.ReasonInvalidSpec, stalled: metav1.ConditionTrue,
			check: func(t *testing.T, _ *harness, c *v1alpha1.SurveyCampaign) {
				if msg := conditionOf(c, v1alpha1.ConditionStalled).Message; !strings.Contains(msg, `spec.channels[1].webhook.secretRef: Secret "tenants" has no key "hmacKey"`) {
					t.Errorf("Stalled says %q", msg)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, c.now, append(c.extra, testCampaign(c.mutate))...)
			res := h.mustReconcile("tenant-satisfaction")
			got := h.campaign("tenant-satisfaction")
			if res.RequeueAfter != c.requeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, c.requeue)
			}
			var names []string
			for n, j := range h.jobs() {
				names = append(names, n)
				if len(j.OwnerReferences) != 1 || j.OwnerReferences[0].UID != campaignUID {
					t.Errorf("Job %s is not owned by the campaign: %+v", n, j.OwnerReferences)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.jobs, ",") {
				t.Errorf("Jobs = %v, want %v", names, c.jobs)
			}
			if r := conditionOf(got, v1alpha1.ConditionReady); r.Reason != c.ready || r.ObservedGeneration != 1 {
				t.Errorf("Ready = %+v, want reason %s", r, c.ready)
			}
			if s := conditionOf(got, v1alpha1.ConditionStalled); s.Status != c.stalled {
				t.Errorf("Stalled = %+v, want %s", s, c.stalled)
			}
			if got.Status.ObservedGeneration != 1 {
				t.Errorf("observedGeneration = %d", got.Status.ObservedGeneration)
			}
			if c.check != nil {
				c.check(t, h, got)
			}
		})
	}
}

// A wave's phase follows its Job; a failed sender's own words reach the status.
func TestReconcileFollowsJobs(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	job := "tenant-satisfaction-20260401-0900"
	for name, c := range map[string]struct {
		quiet   *v1alpha1.QuietHours
		job     func(j *batchv1.Job) // nil: no Job
		pod     string               // the sender pod's termination message, if any
		phase   v1alpha1.WavePhase
		message string
		ready   string
		stalled metav1.ConditionStatus
		requeue time.Duration
	}{
		"a running Job: Sending": {
			job:   func(j *batchv1.Job) { j.Status.Active = 1 },
			phase: v1alpha1.WaveSending, ready: v1alpha1.ReasonSending, stalled: metav1.ConditionFalse,
			requeue: 10 * time.Second, // the invited count follows the ledger while the Job sends (Poll.Sending)
		},
		"a complete Job: Collecting": {
			job:   func(j *batchv1.Job) { finishedJob(j, batchv1.JobComplete) },
			phase: v1alpha1.WaveCollecting, ready: v1alpha1.WaveReason(v1alpha1.WaveCollecting), stalled: metav1.ConditionFalse,
			requeue: 23 * time.Hour,
		},
		"a failed Job: the sender's error, stalled": {
			job:   func(j *batchv1.Job) { finishedJob(j, batchv1.JobFailed) },
			pod:   "log line\n" + `{"audience":3,"invited":0,"sent":0,"failed":{},"skipped":{},"error":"the audience is invalid, nothing was sent: line 3: duplicate id","durationSeconds":0}`,
			phase: v1alpha1.WaveFailed, message: "The sender stopped: the audience is invalid, nothing was sent: line 3: duplicate id",
			ready: v1alpha1.ReasonWaveFailed, stalled: metav1.ConditionTrue, requeue: 23 * time.Hour,
		},
		"the Job deleted while sending: failed": {
			phase: v1alpha1.WaveFailed, message: "The sending Job was deleted before it finished.",
			ready: v1alpha1.ReasonWaveFailed, stalled: metav1.ConditionTrue, requeue: 23 * time.Hour,
		},
		"stopped for quiet hours: paused until they end": {
			quiet: &v1alpha1.QuietHours{Start: "09:30", End: "12:00"},
			job:   func(j *batchv1.Job) { finishedJob(j, batchv1.JobComplete) },
			pod:   `{"audience":3,"invited":1,"sent":1,"failed":{},"skipped":{},"stopped":"quiet-hours","durationSeconds":1}`,
			phase: v1alpha1.WaveSending, message: "Paused for quiet hours; sending resumes at 2026-04-01T12:00:00Z.",
			ready: v1alpha1.WaveReason(v1alpha1.WaveSending), stalled: metav1.ConditionFalse, requeue: 2 * time.Hour,
		},
	} {
		t.Run(name, func(t *testing.T) {
			now := start.Add(time.Hour) // 10:00
			cmp := testCampaign(func(cp *v1alpha1.SurveyCampaign) {
				cp.Spec.Schedule.QuietHours = c.quiet
				cp.Status.LastWaveTime = &metav1.Time{Time: start}
				cp.Status.Waves = []v1alpha1.WaveStatus{{ID: "20260401-0900", ScheduledTime: metav1.Time{Time: start},
					Phase: v1alpha1.WaveSending, JobName: job, CloseTime: &metav1.Time{Time: start.Add(168 * time.Hour)}}}
			})
			objs := []client.Object{cmp}
			if c.job != nil {
				j := waveJob(job, "job-uid-1")
				c.job(j)
				objs = append(objs, j)
			}
			if c.pod != "" {
				objs = append(objs, senderPod(job, c.pod, start.Add(10*time.Minute)))
			}
			h := newHarness(t, now, objs...)
			res := h.mustReconcile("tenant-satisfaction")
			got := h.campaign("tenant-satisfaction")
			w := got.Status.Waves[0]
			if w.Phase != c.phase || w.Message != c.message {
				t.Errorf("wave = %s %q, want %s %q", w.Phase, w.Message, c.phase, c.message)
			}
			if r := conditionOf(got, v1alpha1.ConditionReady); r.Reason != c.ready {
				t.Errorf("Ready = %+v, want reason %s", r, c.ready)
			}
			if s := conditionOf(got, v1alpha1.ConditionStalled); s.Status != c.stalled {
				t.Errorf("Stalled = %+v, want %s", s, c.stalled)
			}
			if res.RequeueAfter != c.requeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, c.requeue)
			}
		})
	}
}

// Reminder rounds go at their offset, after quiet hours, within the window, one at a time.
func TestReconcileSendsReminders(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	job := "tenant-satisfaction-20260401-0900"
	for name, c := range map[string]struct {
		now       time.Time
		reminders []v1alpha1.Duration
		quiet     *v1alpha1.QuietHours
		window    v1alpha1.Duration
		sent      int32 // remindersSent before
		prevDone  bool  // the previous reminder's Job finished
		wantJob   string
		wantSent  int32
		requeue   time.Duration
	}{
		"before the offset: wait for it": {
			now: start.Add(71 * time.Hour), reminders: []v1alpha1.Duration{"72h"}, window: "168h",
			requeue: time.Hour,
		},
		"at the offset: the first reminder": {
			now: start.Add(72 * time.Hour), reminders: []v1alpha1.Duration{"72h"}, window: "168h",
			wantJob: job + "-r1", wantSent: 1, requeue: 24 * time.Hour,
		},
		"in quiet hours: deferred to their end": {
			now: start.Add(72 * time.Hour), reminders: []v1alpha1.Duration{"72h"}, window: "168h",
			quiet:   &v1alpha1.QuietHours{Start: "08:00", End: "10:00"},
			requeue: time.Hour,
		},
		"past the window: none": {
			now: start.Add(100 * time.Hour), reminders: []v1alpha1.Duration{"96h"}, window: "96h",
			requeue: 0, // the wave closes: nothing more is due
		},
		"the second waits for the first to finish": {
			now: start.Add(150 * time.Hour), reminders: []v1alpha1.Duration{"72h", "144h"}, window: "168h", sent: 1,
			wantSent: 1, requeue: 18 * time.Hour,
		},
		"the second after the first finished": {
			now: start.Add(150 * time.Hour), reminders: []v1alpha1.Duration{"72h", "144h"}, window: "168h", sent: 1, prevDone: true,
			wantJob: job + "-r2", wantSent: 2, requeue: 18 * time.Hour,
		},
	} {
		t.Run(name, func(t *testing.T) {
			closes := start.Add(mustDuration(t, c.window))
			cmp := testCampaign(func(cp *v1alpha1.SurveyCampaign) {
				cp.Spec.Schedule.Cron = "" // one wave: the schedule does not wake the campaign
				cp.Spec.Schedule.Reminders = c.reminders
				cp.Spec.Schedule.ResponseWindow = c.window
				cp.Spec.Schedule.QuietHours = c.quiet
				cp.Status.LastWaveTime = &metav1.Time{Time: start}
				cp.Status.Waves = []v1alpha1.WaveStatus{{ID: "20260401-0900", ScheduledTime: metav1.Time{Time: start},
					Phase: v1alpha1.WaveCollecting, JobName: job, CloseTime: &metav1.Time{Time: closes}, RemindersSent: c.sent}}
			})
			jobOf := func(name string, uid string, done bool) *batchv1.Job {
				j := waveJob(name, uid)
				if done {
					finishedJob(j, batchv1.JobComplete)
				} else {
					j.Status.Active = 1
				}
				return j
			}
			objs := []client.Object{cmp, jobOf(job, "job-0", true)}
			if c.sent > 0 {
				objs = append(objs, jobOf(job+"-r1", "job-1", c.prevDone))
			}
			h := newHarness(t, c.now, objs...)
			h.svc.summary = responseapi.Summary{}
			res := h.mustReconcile("tenant-satisfaction")
			got := h.campaign("tenant-satisfaction")
			if c.wantJob != "" && h.jobs()[c.wantJob] == nil {
				t.Errorf("no Job %s; Jobs %v", c.wantJob, keys(h.jobs()))
			}
			if n := len(h.jobs()); c.wantJob == "" && n != 1+int(c.sent) {
				t.Errorf("a reminder started: %v", keys(h.jobs()))
			}
			if got.Status.Waves[0].RemindersSent != c.wantSent {
				t.Errorf("remindersSent = %d, want %d", got.Status.Waves[0].RemindersSent, c.wantSent)
			}
			if res.RequeueAfter != c.requeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, c.requeue)
			}
		})
	}
}

func mustDuration(t *testing.T, d v1alpha1.Duration) time.Duration {
	t.Helper()
	v, err := time.ParseDuration(string(d))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The conditions and summary columns a settled campaign shows.
func TestSettleAndSummarize(t *testing.T) {
	wave := func(phase v1alpha1.WavePhase, targets ...v1alpha1.TargetVerdict) v1alpha1.WaveStatus {
		return v1alpha1.WaveStatus{ID: "20260401-0900", Phase: phase, JobName: "j", Invited: 100, Responded: 40,
			ResponseRate: "40", Targets: targets, Message: "the message"}
	}
	met := v1alpha1.TargetVerdict{Target: "responseRate", Verdict: v1alpha1.VerdictMet, Actual: "40"}
	missed := v1alpha1.TargetVerdict{Target: "score", Verdict: v1alpha1.VerdictNotMet, Actual: "61.0"}
	unknown := v1alpha1.TargetVerdict{Target: "marginOfError", Verdict: v1alpha1.VerdictUnknown}
	for name, c := range map[string]struct {
		waves     []v1alpha1.WaveStatus
		err       error
		waiting   bool // Reconciling already says WaitingForResponseService
		sending   bool
		suspend   bool
		ready     metav1.ConditionStatus
		reason    string
		targets   metav1.ConditionStatus // "" when there is no TargetsMet condition
		targetMsg string
		stalled   bool
	}{
		"no wave yet":               {ready: metav1.ConditionTrue, reason: v1alpha1.ReasonScheduled},
		"sending":                   {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveSending)}, sending: true, ready: metav1.ConditionFalse, reason: v1alpha1.ReasonSending},
		"collecting, targets met":   {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveCollecting, met)}, ready: metav1.ConditionTrue, reason: "WaveCollecting", targets: metav1.ConditionTrue},
		"closed, a target missed":   {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveClosed, met, missed)}, ready: metav1.ConditionTrue, reason: "WaveClosed", targets: metav1.ConditionFalse, targetMsg: "score (61.0)"},
		"not enough data":           {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveCollecting, met, unknown)}, ready: metav1.ConditionTrue, reason: "WaveCollecting", targets: metav1.ConditionUnknown},
		"suspended":                 {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveClosed)}, suspend: true, ready: metav1.ConditionTrue, reason: v1alpha1.ReasonSuspended},
		"the latest wave failed":    {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveFailed)}, ready: metav1.ConditionFalse, reason: v1alpha1.ReasonWaveFailed, stalled: true},
		"an API error: retrying":    {waves: []v1alpha1.WaveStatus{wave(v1alpha1.WaveClosed)}, err: errors.New("conflict"), ready: metav1.ConditionFalse, reason: v1alpha1.ReasonRetrying},
		"the response service down": {err: errors.New("refused"), waiting: true, ready: metav1.ConditionFalse, reason: v1alpha1.ReasonWaitingForResponseService},
	} {
		t.Run(name, func(t *testing.T) {
			cmp := testCampaign(func(cp *v1alpha1.SurveyCampaign) {
				cp.Spec.Suspend = c.suspend
				cp.Status.Waves = c.waves
			})
			if c.waiting {
				cmp.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonWaitingForResponseService, "down")
			}
			u := &run{c: cmp, sending: c.sending}
			u.settle(c.err)
			ready := conditionOf(cmp, v1alpha1.ConditionReady)
			if ready.Status != c.ready || ready.Reason != c.reason {
				t.Errorf("Ready = %s %s, want %s %s", ready.Status, ready.Reason, c.ready, c.reason)
			}
			if stalled := conditionOf(cmp, v1alpha1.ConditionStalled).Status == metav1.ConditionTrue; stalled != c.stalled {
				t.Errorf("Stalled = %v, want %v (kstatus reads it as Failed)", stalled, c.stalled)
			}
			if c.err != nil {
				if r := conditionOf(cmp, v1alpha1.ConditionReconciling); r.Status != metav1.ConditionTrue || r.Message != c.err.Error() {
					t.Errorf("Reconciling = %+v", r)
				}
				return
			}
			tm := conditionOf(cmp, v1alpha1.ConditionTargetsMet)
			if tm.Status != c.targets || !strings.Contains(tm.Message, c.targetMsg) {
				t.Errorf("TargetsMet = %s %q, want %s containing %q", tm.Status, tm.Message, c.targets, c.targetMsg)
			}
			if len(c.waves) > 0 && cmp.Status.ResponseRate != "40" {
				t.Errorf("responseRate column = %q", cmp.Status.ResponseRate)
			}
		})
	}
}

// The summary columns describe the latest wave with responses: a wave that has just sent and
// not yet heard back does not blank the figures of the wave before it (summaryWave says which).
func TestSummaryShowsTheLatestWaveWithFigures(t *testing.T) {
	closed := v1alpha1.WaveStatus{ID: "20260101-1000", Phase: v1alpha1.WaveClosed, JobName: "a", Invited: 300, Responded: 137,
		ResponseRate: "45.7", Scores: []v1alpha1.QuestionScore{{Question: "tp01", Value: "72.3", MarginOfError: "5.5", N: 137}}}
	for name, c := range map[string]struct {
		waves             []v1alpha1.WaveStatus
		wave, rate, score string
	}{
		"one wave with responses": {waves: []v1alpha1.WaveStatus{closed}, wave: "20260101-1000", rate: "45.7", score: "72.3% ±5.5"},
		"a new wave sending, nothing back yet": {waves: []v1alpha1.WaveStatus{
			{ID: "20260401-1000", Phase: v1alpha1.WaveSending, JobName: "b", Invited: 120, ResponseRate: "0.0"}, closed},
			wave: "20260101-1000", rate: "45.7", score: "72.3% ±5.5"},
		"the new wave's first answer": {waves: []v1alpha1.WaveStatus{
			{ID: "20260401-1000", Phase: v1alpha1.WaveCollecting, JobName: "b", Invited: 300, Responded: 1, ResponseRate: "0.3",
				Scores: []v1alpha1.QuestionScore{{Question: "tp01", N: 1}}}, closed},
			wave: "20260401-1000", rate: "0.3", score: "n=1, too few"},
		"the first wave, invited, no answers yet": {waves: []v1alpha1.WaveStatus{
			{ID: "20260401-1000", Phase: v1alpha1.WaveCollecting, JobName: "b", Invited: 300, ResponseRate: "0.0"}},
			wave: "20260401-1000", rate: "0.0", score: ""},
	} {
		t.Run(name, func(t *testing.T) {
			cmp := testCampaign(func(cp *v1alpha1.SurveyCampaign) { cp.Status.Waves = c.waves })
			u := &run{c: cmp}
			u.settle(nil)
			st := cmp.Status
			if st.SummaryWave != c.wave || string(st.ResponseRate) != c.rate || st.Score != c.score {
				t.Errorf("summary = wave %q, rate %q, score %q; want %q, %q, %q", st.SummaryWave, st.ResponseRate, st.Score, c.wave, c.rate, c.score)
			}
		})
	}
}

// Suspending and resuming are recorded (status.suspendedAt and an Event each), and a wave
// asked for while suspended is refused at once with a Warning, never kept to fire on resume.
func TestSuspendResumeAndARequestWhileSuspended(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	h := newHarness(t, nine.Add(-time.Hour), testCampaign(func(c *v1alpha1.SurveyCampaign) { c.Spec.Suspend = true }))
	h.mustReconcile("tenant-satisfaction")
	c := h.campaign("tenant-satisfaction")
	if c.Status.SuspendedAt == nil || !c.Status.SuspendedAt.Time.Equal(nine.Add(-time.Hour)) {
		t.Errorf("suspendedAt = %v", c.Status.SuspendedAt)
	}
	if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, "Normal "+v1alpha1.EventSuspended) {
		t.Errorf("events: %s", ev)
	}

	// Asked for a wave while suspended: refused now, with a Warning; nothing starts.
	h.clock.SetTime(nine.Add(-30 * time.Minute))
	c.Annotations = map[string]string{v1alpha1.AnnotationRequestedAt: "2026-04-01T08:30:00Z"}
	if err := h.client.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile("tenant-satisfaction")
	c = h.campaign("tenant-satisfaction")
	if len(h.jobs()) != 0 || len(c.Status.Waves) != 0 {
		t.Errorf("a suspended campaign started a wave: jobs %v, waves %+v", h.jobs(), c.Status.Waves)
	}
	if c.Status.LastHandledRequestedAt != "2026-04-01T08:30:00Z" {
		t.Errorf("lastHandledRequestedAt = %q: the request is still pending", c.Status.LastHandledRequestedAt)
	}
	if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, "Warning "+v1alpha1.EventRequestRefused) ||
		strings.Contains(ev, v1alpha1.EventSuspended) {
		t.Errorf("events: %s", ev)
	}

	// Resumed before the next due time: an Event, and the refused request does not fire.
	h.clock.SetTime(nine.Add(-10 * time.Minute))
	c.Spec.Suspend = false
	if err := h.client.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile("tenant-satisfaction")
	c = h.campaign("tenant-satisfaction")
	if c.Status.SuspendedAt != nil || len(h.jobs()) != 0 || len(c.Status.Waves) != 0 {
		t.Errorf("after resume: suspendedAt %v, jobs %v, waves %+v", c.Status.SuspendedAt, h.jobs(), c.Status.Waves)
	}
	if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, "Normal "+v1alpha1.EventResumed+" Resumed after 50m0s suspended") {
		t.Errorf("events: %s", ev)
	}
}

// A campaign whose inputs have not changed is reconciled without a single write, and without
// reading its referenced Secrets again.
func TestUnchangedCampaignWritesNothing(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for name, now := range map[string]time.Time{
		"before its first wave": t0.Add(10 * time.Minute),
		"with a wave sending":   nine.Add(time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, now, testCampaign(nil))
			h.mustReconcile("tenant-satisfaction")
			if len(h.writes) == 0 {
				t.Fatal("the first reconcile wrote nothing")
			}
			if len(h.reads) == 0 {
				t.Fatal("the first reconcile read nothing from the API server")
			}
			h.writes, h.reads = nil, nil
			h.clock.Step(time.Second)
			h.mustReconcile("tenant-satisfaction")
			if len(h.writes) != 0 {
				t.Errorf("an unchanged campaign's reconcile wrote: %v", h.writes)
			}
			if len(h.reads) != 0 {
				t.Errorf("an unchanged campaign's reconcile read past the cache: %v", h.reads)
			}
		})
	}
}

// A campaign's Secrets are made when its first wave is scheduled, so that the start of a wave
// writes its Job and its status and nothing else (its Event follows the status): with a
// thousand campaigns due at the same minute, every write at the due time delays the Jobs.
func TestWaveStartWritesOnlyItsJobAndStatus(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	h := newHarness(t, t0.Add(10*time.Minute), testCampaign(nil))
	h.mustReconcile("tenant-satisfaction")
	if c := h.campaign("tenant-satisfaction"); len(c.Status.Waves) != 0 || c.Status.NextWaveTime == nil {
		t.Fatalf("before the due time: waves %+v, next %v", c.Status.Waves, c.Status.NextWaveTime)
	}
	made := strings.Join(h.writes, "; ")
	for _, name := range []string{campaign.SecretName("tenant-satisfaction"), campaign.ExportSecretName("tenant-satisfaction")} {
		if !strings.Contains(made, "create *v1.Secret/"+name) {
			t.Errorf("before its first wave, the campaign's reconcile wrote %q: want the Secret %s made", made, name)
		}
	}
	h.writes = nil
	h.clock.SetTime(nine)
	h.mustReconcile("tenant-satisfaction")
	want := []string{"create *v1.Job/" + campaign.JobName("tenant-satisfaction", "20260401-0900", 0), "patch status *v1alpha1.SurveyCampaign/tenant-satisfaction"}
	if !slices.Equal(h.writes, want) {
		t.Errorf("the wave's start wrote %q, want %q", h.writes, want)
	}
	if ev := h.drainEvents(); !slices.ContainsFunc(ev, func(e string) bool { return strings.Contains(e, v1alpha1.EventWaveStarted) }) {
		t.Errorf("events %q: want %s", ev, v1alpha1.EventWaveStarted)
	}
}

// What the reconciler remembers of a campaign is forgotten when the campaign is deleted, and
// what it remembers of a Job when the Job is.
func TestDeletedCampaignIsForgotten(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	job := "tenant-satisfaction-20260401-0900"
	j := waveJob(job, "job-uid-1")
	finishedJob(j, batchv1.JobComplete)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Status.LastWaveTime = &metav1.Time{Time: start}
		c.Status.Waves = []v1alpha1.WaveStatus{{ID: "20260401-0900", ScheduledTime: metav1.Time{Time: start},
			Phase: v1alpha1.WaveSending, JobName: job, CloseTime: &metav1.Time{Time: start.Add(168 * time.Hour)}}}
	})
	h := newHarness(t, start.Add(25*time.Hour), cmp, j, senderPod(job, `{"failed":{},"skipped":{}}`, start))
	h.mustReconcile("tenant-satisfaction") // the next day's wave starts: every memory is used
	stops, _ := h.r.stops.get(client.ObjectKeyFromObject(cmp))
	if h.r.checked.len() != 1 || h.r.senderSecrets.len() != 1 || h.r.exportSecrets.len() != 1 || len(stops) != 1 || h.r.polls.len() == 0 {
		t.Fatalf("remembered: checked %d, secrets %d and %d, stops %v, polls %d", h.r.checked.len(), h.r.senderSecrets.len(),
			h.r.exportSecrets.len(), stops, h.r.polls.len())
	}

	// The Job goes (pruned, or deleted by hand): what was read of it goes too.
	if err := h.client.Delete(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile("tenant-satisfaction")
	if stops, _ := h.r.stops.get(client.ObjectKeyFromObject(cmp)); len(stops) != 0 {
		t.Errorf("a deleted Job is still remembered: %v", stops)
	}

	if err := h.client.Delete(context.Background(), h.campaign("tenant-satisfaction")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile("tenant-satisfaction"); err != nil {
		t.Fatal(err)
	}
	if h.r.checked.len() != 0 || h.r.senderSecrets.len() != 0 || h.r.exportSecrets.len() != 0 || h.r.stops.len() != 0 || h.r.polls.len() != 0 {
		t.Errorf("a deleted campaign is still remembered: checked %d, secrets %d and %d, stops %d, polls %d",
			h.r.checked.len(), h.r.senderSecrets.len(), h.r.exportSecrets.len(), h.r.stops.len(), h.r.polls.len())
	}
	if n := h.r.metrics.waves.DeletePartialMatch(prometheus.Labels{"namespace": testNS, "campaign": "tenant-satisfaction"}); n != 0 {
		t.Errorf("a deleted campaign still has %d metric series", n)
	}
}

// A Job that has the wave's name but is not the campaign's is never taken over: the reconcile
// fails, saying so, and nothing else breaks.
func TestJobOfAnotherOwnerIsRefused(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	squat := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "tenant-satisfaction-20260401-0900", Namespace: testNS,
		Labels: map[string]string{campaign.LabelCampaignUID: "someone-else"}}}
	h := newHarness(t, nine, testCampaign(nil), squat)
	_, err := h.reconcile("tenant-satisfaction")
	const want = "a Job named tenant-satisfaction-20260401-0900 exists and is not this campaign's"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("reconcile: %v, want %q", err, want)
	}
	got := h.campaign("tenant-satisfaction")
	if r := conditionOf(got, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonRetrying || !strings.Contains(r.Message, want) {
		t.Errorf("Ready = %+v", r)
	}
	if len(got.Status.Waves) != 0 || h.jobs()["tenant-satisfaction-20260401-0900"].Labels[campaign.LabelCampaignUID] != "someone-else" {
		t.Errorf("the wave was recorded or the Job taken: %+v", got.Status.Waves)
	}
}

// A campaign deleted and applied again under its name, before the reconciler saw it gone, is
// checked afresh: its generation is 1 again, but it is another object.
func TestRecreatedCampaignIsCheckedAgain(t *testing.T) {
	broken := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Audience.Segments[0].Match = `attrs.region == "north"` // no such column
	})
	h := newHarness(t, t0, broken)
	h.mustReconcile("tenant-satisfaction")
	if s := conditionOf(h.campaign("tenant-satisfaction"), v1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue {
		t.Fatalf("the broken campaign is not stalled: %+v", s)
	}
	if err := h.client.Delete(context.Background(), h.campaign("tenant-satisfaction")); err != nil {
		t.Fatal(err)
	}
	fixed := testCampaign(func(c *v1alpha1.SurveyCampaign) { c.UID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a" })
	if err := h.client.Create(context.Background(), fixed); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile("tenant-satisfaction")
	if s := conditionOf(h.campaign("tenant-satisfaction"), v1alpha1.ConditionStalled); s.Status != metav1.ConditionFalse {
		t.Errorf("the fixed campaign is judged by the deleted one's check: %+v", s)
	}
}

// A wave's snapshot that the response service refuses as conflicting: a new wave is not
// recorded nor sent; a requested wave, recorded before it was registered, goes on with the
// snapshot registered first.
func TestRegistrationConflict(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	conflict := &responseapi.StatusError{Status: 409, Message: "wave registered with another snapshot"}

	t.Run("a new wave", func(t *testing.T) {
		h := newHarness(t, nine, testCampaign(nil))
		h.svc.err = conflict
		if _, err := h.reconcile("tenant-satisfaction"); err == nil {
			t.Fatal("no error")
		}
		got := h.campaign("tenant-satisfaction")
		if len(h.jobs()) != 0 || len(got.Status.Waves) != 0 {
			t.Errorf("Jobs %v, waves %+v", keys(h.jobs()), got.Status.Waves)
		}
		if r := conditionOf(got, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonWaitingForResponseService {
			t.Errorf("Ready = %+v", r)
		}
	})
	t.Run("a requested wave already recorded", func(t *testing.T) {
		id := campaign.RequestedWaveID("please")
		h := newHarness(t, nine.Add(-30*time.Minute), testCampaign(func(c *v1alpha1.SurveyCampaign) {
			c.Annotations = map[string]string{v1alpha1.AnnotationRequestedAt: "please"}
			c.Status.LastHandledRequestedAt = "please"
			c.Status.LastWaveTime = &metav1.Time{Time: nine.Add(-31 * time.Minute)}
			c.Status.Waves = []v1alpha1.WaveStatus{{ID: id, ScheduledTime: metav1.Time{Time: nine.Add(-31 * time.Minute)},
				Phase: v1alpha1.WavePending, JobName: campaign.JobName("tenant-satisfaction", id, 0),
				CloseTime: &metav1.Time{Time: nine.Add(100 * time.Hour)}, Message: requestedMessage}}
		}))
		h.svc.err = conflict
		h.mustReconcile("tenant-satisfaction")
		if h.jobs()[campaign.JobName("tenant-satisfaction", id, 0)] == nil {
			t.Errorf("the requested wave's Job was not made: %v", keys(h.jobs()))
		}
	})
}

// A campaign stalled by a spec problem still follows the waves under way, and so asks to be
// looked at again when their figures or their close are due.
func TestStalledCampaignFollowsItsWaves(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	job := "tenant-satisfaction-20260401-0900"
	j := waveJob(job, "job-uid-1")
	finishedJob(j, batchv1.JobComplete)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Audience.Segments[0].Match = `attrs.region == "north"` // no such column
		c.Status.LastWaveTime = &metav1.Time{Time: start}
		c.Status.Waves = []v1alpha1.WaveStatus{{ID: "20260401-0900", ScheduledTime: metav1.Time{Time: start},
			Phase: v1alpha1.WaveSending, JobName: job, CloseTime: &metav1.Time{Time: start.Add(48 * time.Hour)}}}
	})
	h := newHarness(t, start.Add(47*time.Hour), cmp, j)
	res := h.mustReconcile("tenant-satisfaction")
	got := h.campaign("tenant-satisfaction")
	if got.Status.Waves[0].Phase != v1alpha1.WaveCollecting || conditionOf(got, v1alpha1.ConditionStalled).Status != metav1.ConditionTrue {
		t.Fatalf("wave %s, Stalled %+v", got.Status.Waves[0].Phase, conditionOf(got, v1alpha1.ConditionStalled))
	}
	if res.RequeueAfter != time.Hour {
		t.Errorf("RequeueAfter = %v, want the hour until the wave closes", res.RequeueAfter)
	}
}

// A collecting wave's figures carry the change since the previous closed wave.
func TestWaveTrendAgainstThePreviousClosedWave(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	job := "tenant-satisfaction-20260401-0900"
	j := waveJob(job, "job-uid-1")
	finishedJob(j, batchv1.JobComplete)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Status.LastWaveTime = &metav1.Time{Time: start}
		c.Status.Waves = []v1alpha1.WaveStatus{
			{ID: "20260401-0900", ScheduledTime: metav1.Time{Time: start}, Phase: v1alpha1.WaveSending, JobName: job,
				CloseTime: &metav1.Time{Time: start.Add(168 * time.Hour)}},
			{ID: "20260331-0900", ScheduledTime: metav1.Time{Time: start.Add(-24 * time.Hour)}, Phase: v1alpha1.WaveFailed},
			{ID: "20260101-0900", ScheduledTime: metav1.Time{Time: start.Add(-90 * 24 * time.Hour)}, Phase: v1alpha1.WaveClosed,
				Scores: []v1alpha1.QuestionScore{{Question: "tp01", Value: "50.0", MarginOfError: "5.0", N: 300}}},
		}
	})
	h := newHarness(t, start.Add(time.Hour), cmp, j)
	five, one := 5, 1
	h.svc.summary = responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{{Segment: "general-needs", Channel: "sms", Complete: 40, NoAnswer: 60}},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "general-needs", Channel: "sms", Value: &five, Count: 30},
			{Question: "tp01", Segment: "general-needs", Channel: "sms", Value: &one, Count: 10},
		},
	}
	h.mustReconcile("tenant-satisfaction")
	w := h.campaign("tenant-satisfaction").Status.Waves[0]
	want := []v1alpha1.TrendComparison{{Question: "tp01", PreviousWave: "20260101-0900", Change: "25.0", Verdict: v1alpha1.VerdictAbove}}
	if w.Scores[0].Value != "75.0" || !reflect.DeepEqual(w.Trend, want) {
		t.Errorf("score %s, trend %+v; want 75.0 and %+v", w.Scores[0].Value, w.Trend, want)
	}
}

// The newest waves keep every figure; older finished ones keep their counts and the primary
// question's scores, so that a long history fits in the object.
func TestOlderWavesAreTrimmed(t *testing.T) {
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Schedule.Cron = ""
		c.Spec.Survey.Questions = append(c.Spec.Survey.Questions,
			v1alpha1.Question{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Text: "And the repairs service?"})
		c.Status.LastWaveTime = &metav1.Time{Time: start}
		for i := range 6 {
			c.Status.Waves = append(c.Status.Waves, v1alpha1.WaveStatus{ID: fmt.Sprintf("w%d", i), Phase: v1alpha1.WaveClosed,
				ScheduledTime: metav1.Time{Time: start.Add(-time.Duration(i) * 24 * time.Hour)}, Invited: 10, Responded: 5,
				Scores:  []v1alpha1.QuestionScore{{Question: "tp01", Value: "60.0", N: 5}, {Question: "tp02", Value: "40.0", N: 5}},
				Drivers: []v1alpha1.Driver{{Question: "tp02", Correlation: "0.50", N: 5}}})
		}
	})
	h := newHarness(t, start.Add(time.Hour), cmp)
	h.mustReconcile("tenant-satisfaction")
	waves := h.campaign("tenant-satisfaction").Status.Waves
	for i, w := range waves {
		detailed := i < campaign.DetailedWaves
		if got := len(w.Scores) == 2 && len(w.Drivers) == 1; got != detailed || w.Scores[0].Question != "tp01" || w.Invited != 10 {
			t.Errorf("wave %d (%s): scores %+v, drivers %d; want every figure: %v", i, w.ID, w.Scores, len(w.Drivers), detailed)
		}
	}
}
