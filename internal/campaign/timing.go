package campaign

import (
	"fmt"
	"time"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// DefaultResponseWindow is how long a wave collects when the schedule does not say.
const DefaultResponseWindow = 14 * 24 * time.Hour

// Timing is a campaign's schedule read into times and durations: when waves are due, how long
// they collect, when reminders go and when nobody is contacted.
type Timing struct {
	// Schedule is the cron schedule; zero when the campaign has none (one wave, at once).
	Schedule schedule.Schedule
	// StartingDeadline is how late a due wave may still start (zero: any time).
	StartingDeadline time.Duration
	// Window is each wave's response window.
	Window time.Duration
	// Reminders are the reminder rounds' offsets from a wave's start.
	Reminders []time.Duration
	// Quiet are the quiet hours; zero when there are none.
	Quiet schedule.QuietHours
}

// TimingOf reads a campaign's schedule. Validate checks the same fields with messages that
// name them; an error here is a spec that was not validated.
func TimingOf(spec *v1alpha1.SurveyCampaignSpec) (Timing, error) {
	t := Timing{Window: DefaultResponseWindow}
	sc := spec.Schedule
	if sc == nil {
		return t, nil
	}
	var err error
	if sc.Cron != "" {
		if t.Schedule, err = schedule.Parse(sc.Cron, sc.TimeZone); err != nil {
			return t, fmt.Errorf("spec.schedule.cron: %w", err)
		}
	}
	if sc.StartingDeadline != "" {
		if t.StartingDeadline, err = time.ParseDuration(string(sc.StartingDeadline)); err != nil {
			return t, fmt.Errorf("spec.schedule.startingDeadline: %w", err)
		}
	}
	if sc.ResponseWindow != "" {
		if t.Window, err = time.ParseDuration(string(sc.ResponseWindow)); err != nil {
			return t, fmt.Errorf("spec.schedule.responseWindow: %w", err)
		}
	}
	for i, r := range sc.Reminders {
		d, err := time.ParseDuration(string(r))
		if err != nil {
			return t, fmt.Errorf("spec.schedule.reminders[%d]: %w", i, err)
		}
		t.Reminders = append(t.Reminders, d)
	}
	if q := sc.QuietHours; q != nil {
		loc, err := schedule.LoadLocation(sc.TimeZone)
		if err != nil {
			return t, fmt.Errorf("spec.schedule.timeZone: %w", err)
		}
		if t.Quiet, err = schedule.ParseQuietHours(q.Start, q.End, loc); err != nil {
			return t, fmt.Errorf("spec.schedule.%w", err)
		}
	}
	return t, nil
}

// ReminderDue is when a reminder round at offset from a wave scheduled at start is due: the
// offset after the start, deferred to the end of quiet hours.
func (t Timing) ReminderDue(start time.Time, offset time.Duration) time.Time {
	return t.Quiet.NextPermitted(start.Add(offset))
}
