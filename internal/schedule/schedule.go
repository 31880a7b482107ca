// Package schedule says when waves are due: cron specifications evaluated in an IANA time zone,
// safe across daylight saving changes, the policy for waves missed while the operator was down,
// and quiet hours in which nothing is sent. Every function takes the clock as a parameter.
//
// Daylight saving, in wall-clock terms (what residents see):
//   - A wall time that does not exist (the spring-forward gap) fires once, at the first instant
//     after the gap: a daily 01:30 wave in Europe/London fires at 02:00 BST on the last Sunday
//     of March, and is never skipped to the next day (robfig/cron issue 541).
//   - A wall time that occurs twice (fall-back) fires once, at its first occurrence, never twice
//     (Kubernetes issue 121594).
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the zone database is embedded: images carry no /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed cron specification in a time zone.
type Schedule struct {
	spec *cron.SpecSchedule
	loc  *time.Location
	expr string
}

// shorthands are the descriptors a campaign may use, as five-field specifications.
var shorthands = map[string]string{
	"@yearly":    "0 0 1 1 *",
	"@annually":  "0 0 1 1 *",
	"@quarterly": "0 0 1 1,4,7,10 *",
	"@monthly":   "0 0 1 * *",
	"@weekly":    "0 0 * * 0",
	"@daily":     "0 0 * * *",
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day of week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// LoadLocation loads an IANA time zone; the empty name is UTC. "Local" is refused: it would
// depend on the machine the operator runs on.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New(`time zone "Local" depends on the machine; name an IANA zone such as "Europe/London"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Parse reads a five-field cron specification (minute hour day-of-month month day-of-week) or
// one of @yearly, @annually, @quarterly, @monthly, @weekly and @daily, to be evaluated in the
// IANA time zone timeZone (empty means UTC). Errors say what to fix, naming the field.
func Parse(spec, timeZone string) (Schedule, error) {
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return Schedule{}, err
	}
	expr := strings.TrimSpace(spec)
	if strings.HasPrefix(expr, "@") {
		five, ok := shorthands[strings.ToLower(expr)]
		if !ok {
			return Schedule{}, fmt.Errorf("cron %q: unknown shorthand; use @yearly, @quarterly, @monthly, @weekly or @daily", spec)
		}
		expr = five
	}
	parts := strings.Fields(expr)
	if len(parts) != 5 {
		return Schedule{}, fmt.Errorf("cron %q: expected 5 fields (minute hour day-of-month month day-of-week), found %d", spec, len(parts))
	}
	for i, p := range parts {
		if err := checkField(p, fields[i]); err != nil {
			return Schedule{}, fmt.Errorf("cron field %d (%s): %w", i+1, fields[i].name, err)
		}
	}
	parsed, err := parser.Parse(strings.Join(parts, " "))
	if err != nil {
		return Schedule{}, fmt.Errorf("cron %q: %w", spec, err)
	}
	s := Schedule{spec: parsed.(*cron.SpecSchedule), loc: loc, expr: strings.Join(parts, " ")}
	// A specification such as "0 0 30 2 *" parses but never fires.
	if s.nextCivil(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, fmt.Errorf("cron %q never fires: no date matches its day and month fields", spec)
	}
	return s, nil
}

// checkField validates one field: a comma-separated list of *, N, N-M, each with an optional
// /STEP, numbers or (for month and day of week) three-letter names.
func checkField(text string, f field) error {
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return fmt.Errorf("empty item in %q", text)
		}
		rangePart, stepPart, hasStep := strings.Cut(item, "/")
		if hasStep {
			step, err := strconv.Atoi(stepPart)
			if err != nil {
				return fmt.Errorf("step %q is not a number", stepPart)
			}
			if step <= 0 {
				return fmt.Errorf("step %d must be at least 1", step)
			}
			if step > f.max-f.min+1 {
				return fmt.Errorf("step %d is larger than the range %d-%d", step, f.min, f.max)
			}
		}
		if rangePart == "*" || rangePart == "?" {
			continue
		}
		lowText, highText, isRange := strings.Cut(rangePart, "-")
		low, err := fieldValue(lowText, f)
		if err != nil {
			return err
		}
		if isRange {
			high, err := fieldValue(highText, f)
			if err != nil {
				return err
			}
			if low > high {
				return fmt.Errorf("range %s runs backwards", rangePart)
			}
		}
	}
	return nil
}

func fieldValue(text string, f field) (int, error) {
	if v, ok := f.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is neither a number nor a name such as %s", text, exampleName(f))
		}
		return 0, fmt.Errorf("%q is not a number", text)
	}
	if v < f.min || v > f.max {
		if f.name == "day of week" && v == 7 {
			return 0, fmt.Errorf("7 is out of range %d-%d (use 0 or SUN for Sunday)", f.min, f.max)
		}
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

func exampleName(f field) string {
	if f.name == "month" {
		return "JAN"
	}
	return "MON"
}

// Location is the schedule's time zone.
func (s Schedule) Location() *time.Location { return s.loc }

// String is the five-field specification the schedule runs.
func (s Schedule) String() string { return s.expr }

// IsZero reports whether s is the zero Schedule, which never fires.
func (s Schedule) IsZero() bool { return s.spec == nil }

// Next is the first due time strictly after `after`, or the zero time if there is none within
// thirty years (the zero Schedule has none). See the package comment for daylight saving.
func (s Schedule) Next(after time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	c := civil(after.In(s.loc)).Truncate(time.Minute)
	// Wall-clock minutes map to instants monotonically (non-decreasing), so the first candidate
	// whose instant is after `after` is the answer. Candidates at or before it come only from a
	// repeated hour; a day has at most a few hours of them.
	for range 24 * 60 {
		c = s.nextCivil(c)
		if c.IsZero() {
			return time.Time{}
		}
		if t := instant(c, s.loc); t.After(after) {
			return t
		}
		c = c.Add(time.Minute)
	}
	return time.Time{}
}

const starBit = 1 << 63

// nextCivil is the first wall-clock minute at or after c matching the specification. Wall-clock
// times are held as time.Time in UTC, a calendar without daylight saving.
func (s Schedule) nextCivil(c time.Time) time.Time {
	limit := c.Year() + 30
	sp := s.spec
wrap:
	if c.Year() > limit {
		return time.Time{}
	}
	for sp.Month&(1<<uint(c.Month())) == 0 {
		c = time.Date(c.Year(), c.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		if c.Month() == time.January {
			goto wrap
		}
	}
	for !dayMatches(sp, c) {
		c = time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, time.UTC)
		if c.Day() == 1 {
			goto wrap
		}
	}
	for sp.Hour&(1<<uint(c.Hour())) == 0 {
		c = time.Date(c.Year(), c.Month(), c.Day(), c.Hour()+1, 0, 0, 0, time.UTC)
		if c.Hour() == 0 {
			goto wrap
		}
	}
	for sp.Minute&(1<<uint(c.Minute())) == 0 {
		c = c.Add(time.Minute)
		if c.Minute() == 0 {
			goto wrap
		}
	}
	return c
}

// dayMatches follows cron: when both day fields are restricted a day matching either fires;
// when one is *, the other decides.
func dayMatches(s *cron.SpecSchedule, c time.Time) bool {
	domMatch := 1<<uint(c.Day())&s.Dom > 0
	dowMatch := 1<<uint(c.Weekday())&s.Dow > 0
	if s.Dom&starBit > 0 || s.Dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

// civil is the wall-clock reading of t, as a UTC time.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant is the first instant whose wall clock in loc reads c; for a wall time inside a
// spring-forward gap, the first instant after the gap.
func instant(c time.Time, loc *time.Location) time.Time {
	ts := instants(c, loc)
	if len(ts) > 0 {
		return ts[0]
	}
	// In a gap: read c with the offset in force before the gap; that instant is after the
	// transition, whose start is the first instant after the gap.
	_, before := c.Add(-36 * time.Hour).In(loc).Zone()
	start, _ := c.Add(-time.Duration(before) * time.Second).In(loc).ZoneBounds()
	if start.IsZero() {
		return c.Add(-time.Duration(before) * time.Second)
	}
	return start
}

// instants are the instants, in order, whose wall clock in loc reads c: one, two in a
// fall-back repeated hour, none in a spring-forward gap.
func instants(c time.Time, loc *time.Location) []time.Time {
	var out []time.Time
	seen := map[int]bool{}
	for _, probe := range []time.Duration{-36 * time.Hour, 36 * time.Hour} {
		_, off := c.Add(probe).In(loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		t := c.Add(-time.Duration(off) * time.Second)
		if civil(t.In(loc)).Equal(c) {
			out = append(out, t.In(loc))
		}
	}
	if len(out) == 2 && out[1].Before(out[0]) {
		out[0], out[1] = out[1], out[0]
	}
	return out
}
