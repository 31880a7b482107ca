package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// requestedMessage is the message of a requested wave recorded but not yet started.
const requestedMessage = "Requested; starting."

// startDueWave starts the wave that is due now: asked for with the requestedAt annotation, the
// one wave of a campaign without cron, or the latest due time of its schedule under the
// catch-up policy.
func (u *run) startDueWave(ctx context.Context) error {
	status := &u.c.Status
	u.noteSuspension()
	if u.c.Spec.Suspend {
		status.NextWaveTime = nil
		if v := u.c.Annotations[v1alpha1.AnnotationRequestedAt]; v != "" && v != status.LastHandledRequestedAt {
			// Refused, not kept: a request that fired on resume, weeks later, would surprise
			// everyone who asked.
			status.LastHandledRequestedAt = v
			u.events.Eventf(u.c, nil, corev1.EventTypeWarning, v1alpha1.EventRequestRefused, v1alpha1.ActionSchedule,
				"The wave asked for at %s was not started: the campaign is suspended. Resume it, then ask again.", v)
		}
		return nil
	}
	if v := u.c.Annotations[v1alpha1.AnnotationRequestedAt]; v != "" && v != status.LastHandledRequestedAt {
		u.recordRequestedWave(v)
	}

	// The latest wave started, requested or skipped; before the first, the campaign's creation.
	last := u.c.CreationTimestamp.Time
	if status.LastWaveTime != nil && status.LastWaveTime.After(last) {
		last = status.LastWaveTime.Time
	}
	for _, w := range status.Waves {
		if w.ScheduledTime.After(last) {
			last = w.ScheduledTime.Time
		}
	}
	sched := u.timing.Schedule
	if sched.IsZero() {
		status.NextWaveTime = nil
		if len(status.Waves) == 0 && status.LastWaveTime == nil {
			// No schedule: one wave, at once.
			return u.startWave(ctx, campaign.WaveID(u.c.CreationTimestamp.Time), u.c.CreationTimestamp.Time)
		}
		return nil
	}
	due := sched.Due(last, u.now, u.timing.StartingDeadline)
	if due.TooLate && u.wave(campaign.WaveID(due.Skipped)) == nil {
		// Recorded as a wave that never started, so that it is reported once and the schedule
		// moves on.
		msg := fmt.Sprintf("Not started: the manager reached it %s late, past startingDeadline %s.",
			u.now.Sub(due.Skipped).Round(time.Second), u.timing.StartingDeadline)
		u.addWave(v1alpha1.WaveStatus{ID: campaign.WaveID(due.Skipped), ScheduledTime: metav1.Time{Time: due.Skipped},
			Phase: v1alpha1.WaveFailed, Message: msg})
		u.events.Eventf(u.c, nil, corev1.EventTypeWarning, v1alpha1.EventWaveMissed, v1alpha1.ActionSchedule,
			"Wave %s: %s", campaign.WaveID(due.Skipped), msg)
	}
	if !due.Time.IsZero() {
		if err := u.startWave(ctx, campaign.WaveID(due.Time), due.Time); err != nil {
			return err
		}
	}
	if !due.Next.IsZero() {
		status.NextWaveTime = &metav1.Time{Time: due.Next}
		u.wakeAt(due.Next)
	}
	return nil
}

// recordRequestedWave records the wave asked for by the requestedAt annotation's value v.
// Its time is the moment it is handled, which a retry after a lost status write would not see
// again: so it is recorded, Pending, before anything is registered or created, and started
// from the record on the next pass (by recreateMissingJobs), so every attempt registers the
// same snapshot.
func (u *run) recordRequestedWave(v string) {
	status := &u.c.Status
	if id := campaign.RequestedWaveID(v); u.wave(id) == nil {
		closes := u.now.Add(u.timing.Window)
		u.addWave(v1alpha1.WaveStatus{ID: id, ScheduledTime: metav1.Time{Time: u.now}, Phase: v1alpha1.WavePending,
			JobName: campaign.JobName(u.c.Name, id, 0), CloseTime: &metav1.Time{Time: closes}, Message: requestedMessage})
		if status.LastWaveTime == nil || u.now.After(status.LastWaveTime.Time) {
			status.LastWaveTime = &metav1.Time{Time: u.now}
		}
		u.sending = true
		u.wakeAt(u.now.Add(time.Second))
	}
	status.LastHandledRequestedAt = v
}

func (u *run) wave(id string) *v1alpha1.WaveStatus {
	for i := range u.c.Status.Waves {
		if u.c.Status.Waves[i].ID == id {
			return &u.c.Status.Waves[i]
		}
	}
	return nil
}

// addWave records a wave in the status, which keeps the newest first.
func (u *run) addWave(w v1alpha1.WaveStatus) {
	ws := append([]v1alpha1.WaveStatus{w}, u.c.Status.Waves...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].ScheduledTime.After(ws[j].ScheduledTime.Time) })
	u.c.Status.Waves = ws
}

// startWave launches a wave's first round and records the wave. It is safe to repeat: the
// snapshot PUT is idempotent and the Job's name is the wave's.
func (u *run) startWave(ctx context.Context, id string, due time.Time) error {
	if u.wave(id) != nil {
		return nil
	}
	w := campaign.Wave{ID: id, Scheduled: due, Closes: due.Add(u.timing.Window)}
	name, version, err := u.launch(ctx, w, false)
	if err != nil {
		return err
	}
	u.addWave(v1alpha1.WaveStatus{ID: id, ScheduledTime: metav1.Time{Time: due}, Phase: v1alpha1.WavePending,
		JobName: name, CloseTime: &metav1.Time{Time: w.Closes}, AudienceVersion: version})
	if u.c.Status.LastWaveTime == nil || due.After(u.c.Status.LastWaveTime.Time) {
		u.c.Status.LastWaveTime = &metav1.Time{Time: due}
	}
	u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventWaveStarted, v1alpha1.ActionSend,
		"Wave %s started: Job %s sends the invitations.", id, name)
	return nil
}

// recreateMissingJobs makes again the Job of a Pending wave that has none: deleted before it
// ran, or not yet in the cache (then the create is AlreadyExists and the Job is adopted). A
// resend is safe: the ledger skips what was sent.
func (u *run) recreateMissingJobs(ctx context.Context) error {
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase == v1alpha1.WavePending && w.Message == requestedMessage && u.jobs[w.JobName] != nil {
			w.Message = "" // started by an earlier pass whose status write was lost
		}
		if w.Phase != v1alpha1.WavePending || w.JobName == "" || u.jobs[w.JobName] != nil || w.CloseTime == nil {
			continue
		}
		first := w.Message == requestedMessage
		_, version, err := u.launch(ctx, campaign.Wave{ID: w.ID, Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time, Audience: w.AudienceVersion}, true)
		if err != nil {
			return err
		}
		w.AudienceVersion = version
		if first {
			w.Message = ""
			u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventWaveStarted, v1alpha1.ActionSend,
				"Wave %s started: Job %s sends the invitations.", w.ID, w.JobName)
		}
	}
	return nil
}

// startContinuations makes the Jobs that resume rounds after quiet hours.
func (u *run) startContinuations(ctx context.Context) error {
	for _, w := range u.continuations {
		name, _, err := u.launch(ctx, w, true)
		if err != nil {
			return err
		}
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventSendingResumed, v1alpha1.ActionSend,
			"Wave %s: quiet hours are over, Job %s sends the rest of round %d.", w.ID, name, w.Round)
	}
	return nil
}

// launch makes a round's Job and what it needs first: the sender and export Secrets up to date, and, for
// a wave's first Job, the wave's snapshot registered with the response service. The Job is
// created, or adopted when it exists. Every step is safe to repeat. recorded says the wave is
// in the status already (see register). Before a wave's first Job, its list is checked and
// its version pinned (pinAudience): the version is returned, for the wave's status.
func (u *run) launch(ctx context.Context, w campaign.Wave, recorded bool) (string, *v1alpha1.AudienceVersion, error) {
	if w.Audience == nil && w.Round == 0 && w.Part == 0 {
		v, err := u.pinAudience(ctx)
		if err != nil {
			return "", nil, err
		}
		w.Audience = v
	} else if err := u.checkClaim(ctx); err != nil {
		return "", nil, err
	}
	mounted := u.mountedFor(w)
	var err error
	if mounted.TokenKeyIDs, err = u.ensureSenderSecret(ctx); err != nil {
		return "", nil, fmt.Errorf("the sender Secret: %w", err)
	}
	if err := u.ensureExportSecret(ctx); err != nil {
		return "", nil, fmt.Errorf("the export Secret: %w", err)
	}
	if w.Round == 0 && w.Part == 0 {
		if err := u.register(ctx, w, recorded); err != nil {
			return "", nil, err
		}
	}
	job, err := campaign.BuildJob(u.c, w, mounted, u.r.Settings)
	if err != nil {
		return "", nil, err
	}
	if u.jobs[job.Name] == nil {
		made, err := createOrAdopt(ctx, u.r.Client, u.c, job, campaign.LabelCampaignUID, "campaign")
		if err != nil {
			return "", nil, err
		}
		u.jobs[job.Name] = made
	}
	u.sending = true
	return job.Name, w.Audience, nil
}

// register puts the wave's snapshot to the response service (idempotent for the same
// snapshot). For a wave recorded in the status before it was registered (a requested one), a
// conflict means an earlier pass registered it with the snapshot of an earlier spec: its links
// carry that one, and the wave goes on with it. For a wave not yet recorded, a conflict is an
// error: the wave is not recorded with times the response service does not hold.
func (u *run) register(ctx context.Context, w campaign.Wave, recorded bool) error {
	reg := responseapi.WaveRegistration{Namespace: u.c.Namespace, Campaign: u.c.Name, Definition: campaign.Definition(&u.c.Spec.Survey),
		OpensAt: w.Scheduled, ClosesAt: w.Closes, ChannelKeys: u.channelKeys}
	err := u.r.Responses.PutWave(ctx, string(u.c.UID), w.ID, reg)
	if err == nil || recorded && responseapi.IsStatus(err, http.StatusConflict) {
		return nil
	}
	u.c.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonWaitingForResponseService,
		"Wave "+w.ID+" cannot start until the response service registers it: "+err.Error())
	return fmt.Errorf("registering wave %s: %w", w.ID, err)
}

// noteSuspension records when the campaign was suspended (status.suspendedAt) and an Event
// when it is suspended or resumed.
func (u *run) noteSuspension() {
	st := &u.c.Status
	switch {
	case u.c.Spec.Suspend && st.SuspendedAt == nil:
		st.SuspendedAt = &metav1.Time{Time: u.now}
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventSuspended, v1alpha1.ActionSchedule,
			"Suspended: no new waves or reminders until spec.suspend is cleared.")
	case !u.c.Spec.Suspend && st.SuspendedAt != nil:
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventResumed, v1alpha1.ActionSchedule,
			"Resumed after %s suspended.", u.now.Sub(st.SuspendedAt.Time).Round(time.Second))
		st.SuspendedAt = nil
	}
}
