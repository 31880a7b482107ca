package schedule

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mustParse(t *testing.T, spec, zone string) Schedule {
	t.Helper()
	s, err := Parse(spec, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", spec, zone, err)
	}
	return s
}

func TestParseErrorsSayWhatToFix(t *testing.T) {
	for _, c := range []struct{ spec, zone, want string }{
		{"0 9 1 1,4,7,10 *", "Europe/Londn", `unknown time zone "Europe/Londn"`},
		{"0 9 1 1,4,7,10 *", "Local", `time zone "Local" depends on the machine`},
		{"0 9 32 * *", "UTC", "cron field 3 (day of month): 32 is out of range 1-31"},
		{"60 9 * * *", "UTC", "cron field 1 (minute): 60 is out of range 0-59"},
		{"0 24 * * *", "UTC", "cron field 2 (hour): 24 is out of range 0-23"},
		{"0 9 * 13 *", "UTC", "cron field 4 (month): 13 is out of range 1-12"},
		{"0 9 * * 7", "UTC", "cron field 5 (day of week): 7 is out of range 0-6 (use 0 or SUN for Sunday)"},
		{"0 9 * FOO *", "UTC", `cron field 4 (month): "FOO" is neither a number nor a name such as JAN`},
		{"0 9 * * FUN", "UTC", `cron field 5 (day of week): "FUN" is neither a number nor a name such as MON`},
		{"x 9 * * *", "UTC", `cron field 1 (minute): "x" is not a number`},
		{"0 9 5-1 * *", "UTC", "cron field 3 (day of month): range 5-1 runs backwards"},
		{"*/0 * * * *", "UTC", "cron field 1 (minute): step 0 must be at least 1"},
		{"*/x * * * *", "UTC", `cron field 1 (minute): step "x" is not a number`},
		{"0 */25 * * *", "UTC", "cron field 2 (hour): step 25 is larger than the range 0-23"},
		{"0 9 1 1,,4 *", "UTC", `cron field 4 (month): empty item in "1,,4"`},
		{"0 9 * * * *", "UTC", "expected 5 fields (minute hour day-of-month month day-of-week), found 6"},
		{"0 9 * *", "UTC", "found 4"},
		{"", "UTC", "found 0"},
		{"@hourly", "UTC", "unknown shorthand; use @yearly, @quarterly, @monthly, @weekly or @daily"},
		{"@every 1h", "UTC", "unknown shorthand"},
		{"0 0 30 2 *", "UTC", `cron "0 0 30 2 *" never fires`},
	} {
		_, err := Parse(c.spec, c.zone)
		if err == nil {
			t.Errorf("Parse(%q, %q) succeeded, want %q", c.spec, c.zone, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q, %q) = %q, want it to say %q", c.spec, c.zone, err, c.want)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, c := range []struct{ spec, norm string }{
		{"@quarterly", "0 0 1 1,4,7,10 *"},
		{"@YEARLY", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"},
		{"  0 10  1 JAN,apr,Jul,OCT *  ", "0 10 1 JAN,apr,Jul,OCT *"},
		{"0 18 * * MON-FRI", "0 18 * * MON-FRI"},
		{"0 0 29 2 *", "0 0 29 2 *"},
		{"*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5"},
		{"0 9 ? * 1", "0 9 ? * 1"},
	} {
		s := mustParse(t, c.spec, "Europe/London")
		if s.String() != c.norm {
			t.Errorf("Parse(%q).String() = %q, want %q", c.spec, s.String(), c.norm)
		}
	}
	if s := mustParse(t, "@daily", ""); s.Location() != time.UTC {
		t.Errorf("empty zone is %v, want UTC", s.Location())
	}
}

func TestNext(t *testing.T) {
	for _, c := range []struct {
		name, spec, zone, after, want string
	}{
		{"quarterly in UTC", "0 9 1 1,4,7,10 *", "UTC", "2026-11-23T10:00:00Z", "2027-01-01T09:00:00Z"},
		{"@quarterly", "@quarterly", "UTC", "2026-03-31T23:59:59Z", "2026-04-01T00:00:00Z"},
		{"strictly after", "@quarterly", "UTC", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"quarterly in London summer time", "0 10 1 1,4,7,10 *", "Europe/London", "2026-02-01T00:00:00Z", "2026-04-01T09:00:00Z"},
		{"quarterly in London winter time", "0 10 1 1,4,7,10 *", "Europe/London", "2026-11-23T00:00:00Z", "2027-01-01T10:00:00Z"},
		{"weekday evenings in London", "0 18 * * 1-5", "Europe/London", "2026-11-27T18:00:00Z", "2026-11-30T18:00:00Z"},
		{"leap day", "0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"day of month or day of week", "0 9 1 * MON", "UTC", "2026-11-24T00:00:00Z", "2026-11-30T09:00:00Z"},

		// Europe/London: clocks go forward 01:00 GMT -> 02:00 BST on 29 March 2026 and back
		// 02:00 BST -> 01:00 GMT on 25 October 2026.
		{"London gap fires after the gap", "30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
		{"London gap: next day as usual", "30 1 * * *", "Europe/London", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		{"London gap hour spec", "0 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
		{"London repeated hour: first occurrence", "30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"London repeated hour: never twice", "30 1 * * *", "Europe/London", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"London repeated hour, every 15 minutes", "*/15 * * * *", "Europe/London", "2026-10-25T00:50:00Z", "2026-10-25T02:00:00Z"},

		// America/New_York: 02:00 EST -> 03:00 EDT on 8 March 2026; 02:00 EDT -> 01:00 EST on
		// 1 November 2026.
		{"New York gap", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
		{"New York gap, next day", "30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		{"New York repeated hour", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
		{"New York repeated hour, never twice", "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},

		// Australia/Lord_Howe shifts by 30 minutes: 02:00 +10:30 -> 02:30 +11 on 4 October 2026,
		// 02:00 +11 -> 01:30 +10:30 on 5 April 2026.
		{"Lord Howe half-hour gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z"},
		{"Lord Howe after the gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"},
		{"Lord Howe repeated half hour", "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-04T14:45:00Z"},
		{"Lord Howe never twice", "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustParse(t, c.spec, c.zone)
			got := s.Next(utc(c.after))
			if !got.Equal(utc(c.want)) {
				t.Errorf("Next(%s) = %s (%s local), want %s", c.after, got.UTC().Format(time.RFC3339),
					got.In(s.Location()).Format("2006-01-02 15:04 MST"), c.want)
			}
		})
	}
	var zero Schedule
	if !zero.Next(utc("2026-01-01T00:00:00Z")).IsZero() {
		t.Error("the zero Schedule fired")
	}
}

// Across two years of DST changes in every test zone, a daily wave fires exactly once on every
// local day, and no wall-clock time fires twice.
func TestDailyWavesFireOncePerDay(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	zones := []string{"Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"}
	for _, zone := range zones {
		for range 12 {
			hour, minute := r.IntN(24), r.IntN(60)
			if r.IntN(3) == 0 { // favour the hours where the clocks change
				hour = 1 + r.IntN(2)
			}
			spec := strconv.Itoa(minute) + " " + strconv.Itoa(hour) + " * * *"
			s := mustParse(t, spec, zone)
			loc := s.Location()
			start := utc("2026-01-01T00:00:00Z")
			end := utc("2028-01-01T00:00:00Z")
			days := map[string]int{}
			prev := start
			for at := s.Next(start); at.Before(end); at = s.Next(at) {
				if !at.After(prev) {
					t.Fatalf("%s %s: %s does not follow %s", zone, spec, at, prev)
				}
				prev = at
				days[at.In(loc).Format("2006-01-02")]++
			}
			for d := start.In(loc); d.Before(end.Add(-48 * time.Hour)); d = d.AddDate(0, 0, 1) {
				day := d.Format("2006-01-02")
				if d.Before(start.Add(48*time.Hour)) || day == "" {
					continue
				}
				if days[day] != 1 {
					t.Fatalf("%s %q fired %d times on %s", zone, spec, days[day], day)
				}
			}
		}
	}
}

func TestDue(t *testing.T) {
	quarterly := mustParse(t, "0 9 1 1,4,7,10 *", "UTC")
	for _, c := range []struct {
		name     string
		last     string
		now      string
		deadline time.Duration
		want     Due
	}{
		{"on time", "2026-04-01T09:00:00Z", "2026-07-01T09:00:05Z", 0,
			Due{Time: utc("2026-07-01T09:00:00Z"), Next: utc("2026-10-01T09:00:00Z")}},
		{"nothing due", "2026-07-01T09:00:00Z", "2026-08-15T00:00:00Z", 0,
			Due{Next: utc("2026-10-01T09:00:00Z")}},
		{"manager down over two due times: one catch-up wave", "2026-01-01T09:00:00Z", "2026-07-02T00:00:00Z", 0,
			Due{Time: utc("2026-07-01T09:00:00Z"), Missed: 1, Next: utc("2026-10-01T09:00:00Z")}},
		{"late, within the deadline", "2026-04-01T09:00:00Z", "2026-07-03T08:00:00Z", 72 * time.Hour,
			Due{Time: utc("2026-07-01T09:00:00Z"), Next: utc("2026-10-01T09:00:00Z")}},
		{"past the deadline: skipped", "2026-01-01T09:00:00Z", "2026-07-05T00:00:00Z", 72 * time.Hour,
			Due{Missed: 2, TooLate: true, Skipped: utc("2026-07-01T09:00:00Z"), Next: utc("2026-10-01T09:00:00Z")}},
		{"created after the due time", "2026-06-15T00:00:00Z", "2026-06-20T00:00:00Z", 0,
			Due{Next: utc("2026-07-01T09:00:00Z")}},
		{"created exactly at a due time", "2026-07-01T09:00:00Z", "2026-07-01T09:00:00Z", 0,
			Due{Next: utc("2026-10-01T09:00:00Z")}},
		{"down for six years: looks back a year", "2020-01-01T09:00:00Z", "2026-08-01T00:00:00Z", 0,
			Due{Time: utc("2026-07-01T09:00:00Z"), Missed: 3, Next: utc("2026-10-01T09:00:00Z")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := quarterly.Due(utc(c.last), utc(c.now), c.deadline)
			if !got.Time.Equal(c.want.Time) || got.Missed != c.want.Missed || got.TooLate != c.want.TooLate ||
				!got.Skipped.Equal(c.want.Skipped) || !got.Next.Equal(c.want.Next) {
				t.Errorf("Due = %+v\nwant  %+v", got, c.want)
			}
		})
	}

	// A dense schedule left alone for a year: one wave, a bounded count, quickly.
	minutely := mustParse(t, "* * * * *", "UTC")
	got := minutely.Due(utc("2025-06-01T00:00:00Z"), utc("2026-06-01T12:00:30Z"), 0)
	if !got.Time.Equal(utc("2026-06-01T12:00:00Z")) || got.Missed != MaxMissedCounted {
		t.Errorf("minutely Due = %+v", got)
	}

	// Across the London spring gap: the 01:30 wave is due at 02:00 BST, once.
	nightly := mustParse(t, "30 1 * * *", "Europe/London")
	gap := nightly.Due(utc("2026-03-28T01:30:00Z"), utc("2026-03-29T01:05:00Z"), time.Hour)
	if !gap.Time.Equal(utc("2026-03-29T01:00:00Z")) || gap.Missed != 0 {
		t.Errorf("gap Due = %+v", gap)
	}
	again := nightly.Due(gap.Time, utc("2026-03-29T01:30:00Z"), time.Hour)
	if !again.Time.IsZero() {
		t.Errorf("the gap wave came due twice: %+v", again)
	}
}

func TestQuietHours(t *testing.T) {
	london, _ := LoadLocation("Europe/London")
	lordHowe, _ := LoadLocation("Australia/Lord_Howe")
	evening, err := ParseQuietHours("20:00", "08:00", london)
	if err != nil {
		t.Fatal(err)
	}
	lunch, _ := ParseQuietHours("12:00", "14:00", time.UTC)
	late, _ := ParseQuietHours("23:00", "01:30", london)
	lh, _ := ParseQuietHours("21:00", "07:00", lordHowe)
	for _, c := range []struct {
		name string
		q    QuietHours
		at   string
		want string
	}{
		{"daytime is permitted", evening, "2026-06-10T12:00:00Z", "2026-06-10T12:00:00Z"},
		{"evening waits for 08:00 BST", evening, "2026-06-10T21:00:00Z", "2026-06-11T07:00:00Z"},
		{"after midnight", evening, "2026-06-11T02:00:00Z", "2026-06-11T07:00:00Z"},
		{"the start is quiet", evening, "2026-06-10T19:00:00Z", "2026-06-11T07:00:00Z"},
		{"the end is permitted", evening, "2026-06-11T07:00:00Z", "2026-06-11T07:00:00Z"},
		{"across the spring change: 08:00 BST", evening, "2026-03-28T22:00:00Z", "2026-03-29T07:00:00Z"},
		{"across the autumn change: 08:00 GMT", evening, "2026-10-24T21:00:00Z", "2026-10-25T08:00:00Z"},
		{"winter", evening, "2026-12-01T05:00:00Z", "2026-12-01T08:00:00Z"},
		{"a period within a day", lunch, "2026-06-10T13:59:00Z", "2026-06-10T14:00:00Z"},
		{"an end inside the spring gap: right after the gap", late, "2026-03-28T23:30:00Z", "2026-03-29T01:00:00Z"},
		{"Lord Howe across its half-hour change", lh, "2026-10-03T11:00:00Z", "2026-10-03T20:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.q.NextPermitted(utc(c.at))
			if !got.Equal(utc(c.want)) {
				t.Errorf("NextPermitted(%s) = %s, want %s", c.at, got.UTC().Format(time.RFC3339), c.want)
			}
			if c.q.Quiet(got) {
				t.Errorf("NextPermitted(%s) = %s is quiet", c.at, got)
			}
		})
	}
	if got := evening.NextQuiet(utc("2026-06-10T12:00:00Z")); !got.Equal(utc("2026-06-10T19:00:00Z")) {
		t.Errorf("NextQuiet = %s, want 19:00Z (20:00 BST)", got)
	}
	var none QuietHours
	if none.Quiet(utc("2026-06-10T23:00:00Z")) || !none.NextQuiet(utc("2026-06-10T23:00:00Z")).IsZero() {
		t.Error("no quiet hours should never be quiet")
	}
	for _, bad := range [][2]string{{"24:00", "08:00"}, {"7:00", "08:00"}, {"20:00", "20:00"}, {"20:00", "8am"}} {
		if _, err := ParseQuietHours(bad[0], bad[1], london); err == nil {
			t.Errorf("ParseQuietHours(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

// Quiet hours across two years in every test zone: NextPermitted is never quiet, never before
// the instant asked about, and the identity when permitted.
func TestQuietHoursProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, zone := range []string{"Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		loc, _ := LoadLocation(zone)
		for range 40 {
			s, e := r.IntN(24*60), r.IntN(24*60)
			if s == e {
				continue
			}
			q := QuietHours{start: s, end: e, loc: loc}
			for range 200 {
				at := utc("2026-01-01T00:00:00Z").Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
				got := q.NextPermitted(at)
				if got.Before(at) || q.Quiet(got) || (!q.Quiet(at) && !got.Equal(at)) {
					t.Fatalf("%s quiet %d-%d: NextPermitted(%s) = %s", zone, s, e, at, got)
				}
				if got.Sub(at) > 49*time.Hour { // a day whose permitted minutes fall in a DST gap waits a day more
					t.Fatalf("%s quiet %d-%d: waited %s", zone, s, e, got.Sub(at))
				}
				if nq := q.NextQuiet(at); !nq.After(at) || nq.Sub(at) > 25*time.Hour {
					t.Fatalf("%s quiet %d-%d: NextQuiet(%s) = %s", zone, s, e, at, nq)
				}
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"0 9 1 1,4,7,10 *", "@quarterly", "*/15 9-17 * * MON-FRI", "0 0 29 2 *", "0 9 32 * *", "1-2/3,5 * * * *", "@x", "? ? ? ? ?"} {
		f.Add(seed, "Europe/London")
	}
	f.Fuzz(func(t *testing.T, spec, zone string) {
		s, err := Parse(spec, zone)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		from := utc("2026-03-28T00:00:00Z")
		prev := from
		for range 5 {
			next := s.Next(prev)
			if next.IsZero() {
				break
			}
			if !next.After(prev) {
				t.Fatalf("Parse(%q, %q): Next(%s) = %s", spec, zone, prev, next)
			}
			prev = next
		}
		again, err := Parse(s.String(), zone)
		if err != nil || again.String() != s.String() {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %v", spec, s.String(), err)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	s, _ := Parse("0 10 1 1,4,7,10 *", "Europe/London")
	at := utc("2026-01-01T00:00:00Z")
	for b.Loop() {
		at = s.Next(at)
		if at.Year() > 2100 {
			at = utc("2026-01-01T00:00:00Z")
		}
	}
}

func BenchmarkNextMinutely(b *testing.B) {
	s, _ := Parse("*/5 * * * *", "Europe/London")
	at := utc("2026-01-01T00:00:00Z")
	for b.Loop() {
		at = s.Next(at)
	}
}

func BenchmarkDueAfterLongOutage(b *testing.B) {
	s, _ := Parse("* * * * *", "Europe/London")
	last, now := utc("2025-06-01T00:00:00Z"), utc("2026-06-01T12:00:30Z")
	for b.Loop() {
		s.Due(last, now, 0)
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		_, _ = Parse("0 10 1 1,4,7,10 *", "Europe/London")
	}
}

// Baselines, measured in the same run as the benchmarks above (see hack/bench.sh).

// robfig/cron's own Next for the same specification and zone: what DST safety costs.
func BenchmarkBaselineRobfigNext(b *testing.B) {
	s, _ := Parse("0 10 1 1,4,7,10 *", "Europe/London")
	spec := *s.spec
	spec.Location = s.loc
	at := utc("2026-01-01T00:00:00Z")
	for b.Loop() {
		at = spec.Next(at)
		if at.Year() > 2100 {
			at = utc("2026-01-01T00:00:00Z")
		}
	}
}

// The naive catch-up: walk every due time since the last wave. What the windowed search saves.
func BenchmarkBaselineDueNaive(b *testing.B) {
	s, _ := Parse("* * * * *", "Europe/London")
	last, now := utc("2025-06-01T00:00:00Z"), utc("2026-06-01T12:00:30Z")
	for b.Loop() {
		var latest time.Time
		for t := s.Next(last); !t.After(now); t = s.Next(t) {
			latest = t
		}
		_ = latest
	}
}
