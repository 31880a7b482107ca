package audience

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// touchPointSpec is a post-repair campaign: a repair's data is one person and the repair.
func touchPointSpec() Spec {
	return Spec{
		IDField: "tenancy",
		Segments: []Segment{
			{Name: "emergency", Match: `attrs.priority == "1"`, Channels: []string{"sms", "email"}},
			{Name: "gas", Match: `attrs.repairType == "gas"`, Channels: []string{"email"}},
			{Name: "routine", Match: `attrs.repairType != "none"`, Channels: []string{"email", "sms"}},
		},
		ContactColumns: map[string]string{"email": "email", "sms": "mobile"},
		LanguageColumn: "language",
	}
}

func TestPlace(t *testing.T) {
	p, err := Compile(touchPointSpec(), nil)
	if err != nil {
		t.Fatal(err)
	}
	person := func(kv ...string) map[string]string {
		m := map[string]string{"tenancy": "T-000123-01", "email": "a.tenant@example.org", "mobile": "+447700900123",
			"language": "cy", "repairType": "plumbing", "priority": "3"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<none>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, tc := range map[string]struct {
		fields    map[string]string
		placement Placement
		segment   string
		channel   string
		contact   string
		err       string // a part of the error
	}{
		"a routine repair, by email":    {fields: person(), placement: Placed, segment: "routine", channel: "email", contact: "a.tenant@example.org"},
		"an emergency, by text first":   {fields: person("priority", "1"), placement: Placed, segment: "emergency", channel: "sms", contact: "+447700900123"},
		"routine, with a mobile only":   {fields: person("email", "<none>"), placement: Placed, segment: "routine", channel: "sms", contact: "+447700900123"},
		"routine, an empty email":       {fields: person("email", ""), placement: Placed, segment: "routine", channel: "sms"},
		"no segment takes it":           {fields: person("repairType", "none"), placement: NoSegment},
		"gas, by email, which it lacks": {fields: person("repairType", "gas", "email", "<none>"), placement: Unreachable, segment: "gas"},
		"no id":                         {fields: person("tenancy", "<none>"), err: `no "tenancy", the person's id`},
		"an empty id":                   {fields: person("tenancy", ""), err: `no "tenancy"`},
		"an id with a tab":              {fields: person("tenancy", "T-1\tT-2"), err: `"tenancy" holds an id with a control character`},
		"an id over 200 bytes":          {fields: person("tenancy", strings.Repeat("t", MaxIDBytes+1)), err: `"tenancy" holds an id longer than 200 bytes`},
		"no contact at all":             {fields: person("email", "<none>", "mobile", ""), err: `no contact: none of "email" (email), "mobile" (sms)`},
		"a match on a field it lacks":   {fields: person("priority", "<none>"), err: `segments[0].match cannot be evaluated: this line has no field "priority"`},
	} {
		t.Run(name, func(t *testing.T) {
			inv, placement, err := p.Place(tc.fields, "seed", "https://repairs.example/jobs\x00R-1")
			if tc.err != "" {
				var le *LineError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a *LineError with %q", err, tc.err)
				}
				for _, v := range tc.fields {
					if len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Errorf("the error quotes the data: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if placement != tc.placement || inv.Segment != tc.segment || inv.Channel != tc.channel || (tc.contact != "" && inv.Contact != tc.contact) {
				t.Errorf("%s %q %q %q, want %s %q %q %q", placement, inv.Segment, inv.Channel, inv.Contact, tc.placement, tc.segment, tc.channel, tc.contact)
			}
			if inv.Key != tc.fields["tenancy"] || inv.Language != "cy" {
				t.Errorf("key %q, language %q", inv.Key, inv.Language)
			}
		})
	}
}

// A sampled segment takes about its percent of events, and the same event always the same way.
func TestPlaceSamplesByTheEvent(t *testing.T) {
	spec := touchPointSpec()
	spec.Segments[1].Percent = 50
	p, err := Compile(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	gas := map[string]string{"tenancy": "T-1", "email": "t1@example.org", "repairType": "gas", "priority": "3"}
	placed := 0
	const events = 4000
	for i := range events {
		key := fmt.Sprintf("src\x00R-%d", i)
		_, first, err := p.Place(gas, "campaign-uid", key)
		if err != nil {
			t.Fatal(err)
		}
		if _, again, _ := p.Place(gas, "campaign-uid", key); again != first {
			t.Fatalf("event %d: %s, then %s", i, first, again)
		}
		if first == Placed {
			placed++
		} else if first != NotSampled {
			t.Fatalf("event %d: %s", i, first)
		}
	}
	// 50%: the binomial's standard deviation at 4,000 is about 32; 5 of them is 160.
	if placed < events/2-160 || placed > events/2+160 {
		t.Errorf("%d of %d placed, want about half", placed, events)
	}
	// The same share as a list's scan: the hash at most the segment's threshold.
	if got := percentThreshold(50); got != 1<<63 {
		t.Errorf("percentThreshold(50) = %d", got)
	}
}

// A segment sampled by count cannot take one person at a time.
func TestPlaceRefusesACount(t *testing.T) {
	spec := touchPointSpec()
	spec.Segments[2].Count = 100
	p, err := Compile(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Place(map[string]string{"tenancy": "T-1", "email": "t@example.org", "repairType": "plumbing", "priority": "3"}, "s", "k")
	var le *LineError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "segments[2].sample.count") {
		t.Errorf("error %v, want one naming segments[2].sample.count", err)
	}
}
