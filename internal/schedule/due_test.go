package schedule

import (
	"testing"
	"time"
)

// A wave is due at its due time itself, not only after it: Due with now exactly on a due time
// starts that wave; a nanosecond earlier nothing is due yet and Next is that time.
func TestDueAtTheDueTime(t *testing.T) {
	london, err := LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, c := range []struct {
		name      string
		cron      string
		zone      string
		last, due time.Time // the wave before, and the due time now is set against
		next      time.Time // the due time after `due`
		offset    time.Duration
		wantDue   bool
		missed    int
	}{
		{"Europe/London summer, exactly at 09:00 BST", "0 9 * * *", "Europe/London",
			at(london, 2026, 6, 30, 9, 0), at(london, 2026, 7, 1, 9, 0), at(london, 2026, 7, 2, 9, 0), 0, true, 0},
		{"Europe/London summer, a nanosecond before 09:00 BST", "0 9 * * *", "Europe/London",
			at(london, 2026, 6, 30, 9, 0), at(london, 2026, 7, 1, 9, 0), at(london, 2026, 7, 2, 9, 0), -time.Nanosecond, false, 0},
		{"Europe/London summer, a second after 09:00 BST", "0 9 * * *", "Europe/London",
			at(london, 2026, 6, 30, 9, 0), at(london, 2026, 7, 1, 9, 0), at(london, 2026, 7, 2, 9, 0), time.Second, true, 0},
		{"Europe/London winter, exactly at 09:00 GMT", "0 9 * * *", "Europe/London",
			at(london, 2026, 1, 14, 9, 0), at(london, 2026, 1, 15, 9, 0), at(london, 2026, 1, 16, 9, 0), 0, true, 0},
		{"Europe/London winter, a nanosecond before 09:00 GMT", "0 9 * * *", "Europe/London",
			at(london, 2026, 1, 14, 9, 0), at(london, 2026, 1, 15, 9, 0), at(london, 2026, 1, 16, 9, 0), -time.Nanosecond, false, 0},
		{"Europe/London winter, a second after 09:00 GMT", "0 9 * * *", "Europe/London",
			at(london, 2026, 1, 14, 9, 0), at(london, 2026, 1, 15, 9, 0), at(london, 2026, 1, 16, 9, 0), time.Second, true, 0},
		{"UTC, exactly at 09:00", "0 9 * * *", "UTC",
			at(time.UTC, 2026, 6, 30, 9, 0), at(time.UTC, 2026, 7, 1, 9, 0), at(time.UTC, 2026, 7, 2, 9, 0), 0, true, 0},
		{"UTC, a nanosecond before 09:00", "0 9 * * *", "UTC",
			at(time.UTC, 2026, 6, 30, 9, 0), at(time.UTC, 2026, 7, 1, 9, 0), at(time.UTC, 2026, 7, 2, 9, 0), -time.Nanosecond, false, 0},
		{"UTC, a second after 09:00", "0 9 * * *", "UTC",
			at(time.UTC, 2026, 6, 30, 9, 0), at(time.UTC, 2026, 7, 1, 9, 0), at(time.UTC, 2026, 7, 2, 9, 0), time.Second, true, 0},
		// Two due times since the last wave: the later, exactly at now, is due; 09:00 is missed.
		{"UTC half-hourly, exactly at 09:30 after 09:00", "0,30 9 * * *", "UTC",
			at(time.UTC, 2026, 6, 30, 9, 30), at(time.UTC, 2026, 7, 1, 9, 30), at(time.UTC, 2026, 7, 2, 9, 0), 0, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustParse(t, c.cron, c.zone)
			now := c.due.Add(c.offset)
			got := s.Due(c.last, now, 0)
			want := Due{Next: c.due, Missed: c.missed}
			if c.wantDue {
				want = Due{Time: c.due, Next: c.next, Missed: c.missed}
			}
			if !got.Time.Equal(want.Time) || !got.Next.Equal(want.Next) || got.Missed != want.Missed || got.TooLate {
				t.Errorf("Due(%s, %s) = %+v\nwant %+v", c.last.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), got, want)
			}
		})
	}
}
