package schedule

import (
	"fmt"
	"time"
)

// QuietHours is a daily period of wall-clock time in a zone in which nothing is sent. It may
// cross midnight ("20:00" to "08:00"). The zero value has no quiet period.
type QuietHours struct {
	start, end int // minutes after midnight
	loc        *time.Location
}

// ParseQuietHours reads start and end as HH:MM on a 24-hour clock, in loc.
func ParseQuietHours(start, end string, loc *time.Location) (QuietHours, error) {
	s, err := parseClock(start)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quietHours.start: %w", err)
	}
	e, err := parseClock(end)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quietHours.end: %w", err)
	}
	if s == e {
		return QuietHours{}, fmt.Errorf("quietHours.start and quietHours.end are both %s", start)
	}
	if loc == nil {
		loc = time.UTC
	}
	return QuietHours{start: s, end: e, loc: loc}, nil
}

func parseClock(text string) (int, error) {
	var h, m int
	if len(text) != 5 || text[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", text)
	}
	if _, err := fmt.Sscanf(text, "%02d:%02d", &h, &m); err != nil || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, fmt.Errorf("%q is not a time of day from 00:00 to 23:59", text)
	}
	return h*60 + m, nil
}

// IsZero reports whether there is no quiet period.
func (q QuietHours) IsZero() bool { return q.loc == nil }

// Quiet reports whether t falls in quiet hours, by the wall clock in the zone.
func (q QuietHours) Quiet(t time.Time) bool {
	if q.IsZero() {
		return false
	}
	w := t.In(q.loc)
	m := w.Hour()*60 + w.Minute()
	if q.start < q.end {
		return m >= q.start && m < q.end
	}
	return m >= q.start || m < q.end
}

// NextPermitted is the first instant at or after t outside quiet hours: t itself when it is
// permitted, otherwise the end of the quiet period it falls in. Across a daylight saving change
// the end is read on the wall clock ("08:00" is 08:00 local on either side); an end that falls
// in a spring-forward gap is the first instant after the gap.
func (q QuietHours) NextPermitted(t time.Time) time.Time {
	if !q.Quiet(t) {
		return t
	}
	// The end can fall in a spring-forward gap wide enough to swallow the whole permitted
	// period of that day; then the next day's end is the answer.
	at := t
	for range 3 {
		at = q.nextWallClock(at, q.end)
		if !q.Quiet(at) {
			break
		}
	}
	return at
}

// NextQuiet is the first instant after t at which a quiet period starts, or the zero time when
// there are no quiet hours. A sender stops cleanly before it.
func (q QuietHours) NextQuiet(t time.Time) time.Time {
	if q.IsZero() {
		return time.Time{}
	}
	return q.nextWallClock(t, q.start)
}

// nextWallClock is the first instant after t whose wall clock reads minute-of-day m.
func (q QuietHours) nextWallClock(t time.Time, m int) time.Time {
	w := civil(t.In(q.loc))
	day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		c := day.AddDate(0, 0, i).Add(time.Duration(m) * time.Minute)
		ts := instants(c, q.loc)
		if len(ts) == 0 {
			ts = []time.Time{instant(c, q.loc)}
		}
		for _, x := range ts {
			if x.After(t) {
				return x
			}
		}
	}
	return time.Time{} // unreachable: a wall-clock time recurs every day
}
