package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
)

// sendReminders starts the reminder round due for each collecting wave, one round at a time:
// a round starts when its offset from the wave's start (a touch-point wave's: its day's end)
// has passed (deferred past quiet hours), before the window closes, and once the round before
// it has finished.
func (u *run) sendReminders(ctx context.Context) error {
	offsets := u.timing.Reminders
	if len(offsets) == 0 || u.c.Spec.Suspend {
		return nil
	}
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveCollecting || int(w.RemindersSent) >= len(offsets) {
			continue
		}
		round := int(w.RemindersSent) + 1
		if prev, _ := u.roundJob(w.ID, round-1); round > 1 && prev != nil {
			if finished, failed := jobState(prev); !finished || !failed && u.stoppedForQuiet(ctx, prev) {
				continue // the previous reminder round still sends, or waits for quiet hours to end
			}
		}
		start := w.ScheduledTime.Time
		if u.isTouchPoints() && w.CloseTime != nil {
			// A touch-point wave is a day of invitations: its reminders count from the day's
			// end, so that everyone invited that day has had at least the offset.
			start = w.CloseTime.Add(-u.timing.Window)
		}
		due := u.timing.ReminderDue(start, offsets[round-1])
		if w.CloseTime != nil && !due.Before(w.CloseTime.Time) {
			continue
		}
		if u.now.Before(due) {
			u.wakeAt(due)
			continue
		}
		name, _, err := u.launch(ctx, campaign.Wave{ID: w.ID, Round: round, Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time,
			Audience: w.AudienceVersion}, true)
		if err != nil {
			return err
		}
		w.RemindersSent = int32(round)
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventReminderStarted, v1alpha1.ActionSend,
			"Wave %s: reminder %d to those who have not answered, Job %s.", w.ID, round, name)
	}
	return nil
}
