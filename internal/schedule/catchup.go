package schedule

import "time"

// MaxMissedCounted bounds how many passed-over due times Due counts.
const MaxMissedCounted = 1000

// Due is the decision, at one instant, about which wave to start.
type Due struct {
	// Time is the due time of the wave to start now; zero when no wave is due.
	Time time.Time
	// Missed counts due times since the last wave that will never get a wave of their own
	// (superseded by a later due time, or past the starting deadline), at most
	// MaxMissedCounted.
	Missed int
	// TooLate is true when the latest due time is past the starting deadline: it is skipped
	// and reported rather than started late.
	TooLate bool
	// Skipped is that latest due time when TooLate.
	Skipped time.Time
	// Next is the first due time after now, for the caller to wake up at.
	Next time.Time
}

// Due applies the catch-up policy at `now`, the policy of the Kubernetes CronJob controller:
//
//   - last is the due time of the latest wave already started, or, before the first wave, the
//     moment the campaign was created (a campaign never starts a wave for a time before it
//     existed).
//   - Of the due times after last and at or before now, only the latest can start: at most one
//     catch-up wave, never a storm. The older ones are counted in Missed.
//   - With a startingDeadline (> 0), the latest due time starts only if now is within the
//     deadline of it; otherwise it is skipped too (TooLate), and the campaign waits for Next.
//   - However long the manager was down, the search looks back at most one year and a day
//     before now (enough for @yearly), and its cost depends on the gap since the latest due
//     time, not on how dense the schedule is.
func (s Schedule) Due(last, now time.Time, startingDeadline time.Duration) Due {
	d := Due{Next: s.Next(now)}
	if s.IsZero() || !last.Before(now) {
		return d
	}
	earliest := last
	if lookback := now.Add(-(366 + 1) * 24 * time.Hour); earliest.Before(lookback) {
		earliest = lookback
	}
	latest := s.latestAtOrBefore(earliest, now)
	if latest.IsZero() {
		return d
	}
	// Count the due times passed over, bounded.
	for t := s.Next(earliest); !t.IsZero() && t.Before(latest) && d.Missed < MaxMissedCounted; t = s.Next(t) {
		d.Missed++
	}
	if startingDeadline > 0 && now.Sub(latest) > startingDeadline {
		d.TooLate = true
		d.Skipped = latest
		if d.Missed < MaxMissedCounted {
			d.Missed++
		}
		return d
	}
	d.Time = latest
	return d
}

// latestAtOrBefore is the latest due time in (earliest, now], or zero. It widens a window back
// from now until it holds a due time, so a dense schedule costs a few steps, not one per
// due time since earliest.
func (s Schedule) latestAtOrBefore(earliest, now time.Time) time.Time {
	for window := time.Hour; ; window *= 2 {
		from := now.Add(-window)
		if !from.After(earliest) {
			from = earliest
		}
		t := s.Next(from)
		if !t.IsZero() && !t.After(now) {
			latest := t
			for n := s.Next(t); !n.IsZero() && !n.After(now); n = s.Next(n) {
				latest = n
			}
			return latest
		}
		if from.Equal(earliest) {
			return time.Time{}
		}
	}
}
