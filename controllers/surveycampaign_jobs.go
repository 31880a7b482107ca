package controllers

import (
	"context"
	"maps"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
)

// listJobs reads the campaign's Jobs from the cache, and forgets what was remembered of Jobs
// that are gone.
func (u *run) listJobs(ctx context.Context) error {
	var list batchv1.JobList
	if err := u.r.List(ctx, &list, client.InNamespace(u.c.Namespace), client.MatchingFields{fieldCampaignJobs: string(u.c.UID)}); err != nil {
		return err
	}
	u.jobs = map[string]*batchv1.Job{}
	live := map[types.UID]bool{}
	for i := range list.Items {
		u.jobs[list.Items[i].Name] = &list.Items[i]
		live[list.Items[i].UID] = true
	}
	if stops, ok := u.r.stops.get(u.key); ok {
		for uid := range stops {
			if !live[uid] {
				delete(stops, uid)
			}
		}
	}
	return nil
}

// followJobs moves each wave's phase along with its sending Job. A touch-point campaign's
// waves are collecting from the day they open: its sending Jobs are followed on their own
// (followTouchPointJobs), its reminder rounds as a list campaign's.
func (u *run) followJobs(ctx context.Context) {
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase == v1alpha1.WaveClosed || w.Phase == v1alpha1.WaveFailed || campaign.IsTouchPointWave(w.ID) {
			continue // a touch-point wave (of this campaign, or of its spec before it became a list's) has no round Job
		}
		j, part := u.roundJob(w.ID, 0)
		if j == nil {
			if w.Phase != v1alpha1.WavePending { // a Pending wave's Job is made again, by recreateMissingJobs
				w.Phase = v1alpha1.WaveFailed
				w.Message = "The sending Job was deleted before it finished."
				u.r.polls.forget(u.pollKey(w))
				u.events.Eventf(u.c, nil, corev1.EventTypeWarning, v1alpha1.EventWaveFailed, v1alpha1.ActionSend, "Wave %s: %s", w.ID, w.Message)
			}
			continue
		}
		finished, failed := jobState(j)
		switch {
		case failed:
			w.Phase = v1alpha1.WaveFailed
			w.Message = u.failureMessage(ctx, j)
			u.r.polls.forget(u.pollKey(w))
			u.events.Eventf(u.c, j, corev1.EventTypeWarning, v1alpha1.EventWaveFailed, v1alpha1.ActionSend, "Wave %s: %s", w.ID, w.Message)
		case finished && u.stoppedForQuiet(ctx, j):
			w.Phase = v1alpha1.WaveSending
			w.Message = u.pause(w, 0, part)
		case finished:
			u.pinFromSenders(ctx, w, j)
			if w.Phase != v1alpha1.WaveCollecting {
				u.r.polls.forget(u.pollKey(w)) // the sending is over: the final counts at once
			}
			w.Phase = v1alpha1.WaveCollecting
			w.Message = ""
		default:
			u.sending = true
			if j.Status.Active > 0 || (j.Status.Ready != nil && *j.Status.Ready > 0) {
				w.Phase = v1alpha1.WaveSending
			}
		}
	}
	// Reminder rounds stopped by quiet hours continue too.
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveCollecting {
			continue
		}
		for round := 1; round <= int(w.RemindersSent); round++ {
			if j, part := u.roundJob(w.ID, round); j != nil {
				if finished, failed := jobState(j); finished && !failed && u.stoppedForQuiet(ctx, j) {
					u.pause(w, round, part)
				}
			}
		}
	}
	// A reminder Job that runs keeps the campaign Reconciling too.
	for _, j := range u.jobs {
		if finished, _ := jobState(j); !finished {
			u.sending = true
		}
	}
}

// roundJob is the latest Job of a wave's round (the last part made) and its part.
func (u *run) roundJob(wave string, round int) (*batchv1.Job, int) {
	j := u.jobs[campaign.PartName(u.c.Name, wave, round, 0)]
	part := 0
	for j != nil {
		next := u.jobs[campaign.PartName(u.c.Name, wave, round, part+1)]
		if next == nil {
			break
		}
		j, part = next, part+1
	}
	return j, part
}

// stoppedForQuiet reports whether a complete Job's sender stopped at the start of quiet hours
// with some of its round unsent. The answer is read once per Job from its pods' termination
// messages.
func (u *run) stoppedForQuiet(ctx context.Context, j *batchv1.Job) bool {
	stops, ok := u.r.stops.get(u.key)
	if !ok {
		stops = map[types.UID]bool{}
		u.r.stops.put(u.key, stops)
	}
	if v, ok := stops[j.UID]; ok {
		return v
	}
	ts, err := terminations(ctx, u.r.APIReader, j)
	if err != nil {
		return false // asked again next time
	}
	stopped := false
	for _, t := range ts {
		if t.Stopped == jobfile.StoppedQuietHours {
			stopped = true
		}
	}
	stops[j.UID] = stopped
	return stopped
}

// pause plans the continuation of a round its sender left at the start of quiet hours: a Job
// for the next part once they end, within the wave's window. It returns the wave's message.
func (u *run) pause(w *v1alpha1.WaveStatus, round, part int) string {
	resume := u.timing.Quiet.NextPermitted(u.now)
	if w.CloseTime != nil && !resume.Before(w.CloseTime.Time) {
		return "Stopped for quiet hours; the window closes before they end."
	}
	if u.now.Before(resume) {
		u.wakeAt(resume)
	} else {
		u.continuations = append(u.continuations, campaign.Wave{ID: w.ID, Round: round, Part: part + 1,
			Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time, Audience: w.AudienceVersion})
	}
	return "Paused for quiet hours; sending resumes at " + resume.UTC().Format(time.RFC3339) + "."
}

// failureMessage is the sender's own account of a failed Job: the latest error in its pods'
// termination summaries, which hold counts and reasons only.
func (u *run) failureMessage(ctx context.Context, j *batchv1.Job) string {
	msg := "The sending Job failed."
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Message != "" {
			msg = "The sending Job failed: " + c.Message
		}
	}
	ts, err := terminations(ctx, u.r.APIReader, j)
	if err != nil {
		return msg
	}
	var latest time.Time
	for _, t := range ts {
		if t.Error != "" && !t.at.Before(latest) {
			latest = t.at
			msg = "The sender stopped: " + t.Error
		}
	}
	return v1alpha1.Bound(msg)
}

// prune keeps spec.historyLimit waves in status, trims the detail of the older finished ones
// (campaign.TrimHistory), and deletes the Jobs and reports of the waves dropped. Waves that still send or
// collect are never dropped.
func (u *run) prune(ctx context.Context) error {
	limit := 8
	if u.c.Spec.HistoryLimit != nil {
		limit = int(*u.c.Spec.HistoryLimit)
	}
	waves := u.c.Status.Waves
	keep := waves[:0:0]
	dropped := map[string]bool{}
	for i, w := range waves {
		done := w.Phase == v1alpha1.WaveClosed || w.Phase == v1alpha1.WaveFailed
		if i < limit || !done {
			keep = append(keep, w)
			continue
		}
		dropped[w.ID] = true
	}
	u.c.Status.Waves = keep
	campaign.TrimHistory(u.c.Status.Waves, u.c.Spec.Survey.PrimaryQuestionID())
	for _, j := range u.jobs {
		if !dropped[j.Labels[campaign.LabelWave]] {
			continue
		}
		if err := deleteJob(ctx, u.r.Client, j); err != nil {
			return err
		}
	}
	for _, wave := range slices.Sorted(maps.Keys(dropped)) {
		if err := u.deleteReport(ctx, wave); err != nil {
			return err
		}
	}
	return nil
}
