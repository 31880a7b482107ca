package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func run(args ...string) (string, error) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// Responses needed at 95% for the populations and margins a landlord meets, worked by hand from
// n = n0·N/(n0 + N − 1), n0 = 1.959964²/(4·m²).
func TestPlanResponsesNeeded(t *testing.T) {
	want := map[int][4]int{ // ±5, ±4, ±3, ±2
		1000:   {278, 376, 517, 707},
		2500:   {334, 485, 749, 1225},
		7271:   {365, 555, 931, 1806},
		10000:  {370, 567, 965, 1937},
		25000:  {379, 587, 1024, 2191},
		100000: {383, 597, 1056, 2345},
	}
	for population, row := range want {
		for i, margin := range []string{"5", "4", "3", "2"} {
			out, err := run("plan", "--population", strconv.Itoa(population), "--margin", margin, "-o", "json")
			if err != nil {
				t.Fatalf("plan %d ±%s: %v", population, margin, err)
			}
			var p Plan
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("plan -o json printed %q: %v", out, err)
			}
			if p.ResponsesNeeded != row[i] {
				t.Errorf("population %d ±%s: %d responses needed, want %d", population, margin, p.ResponsesNeeded, row[i])
			}
		}
	}
}

func TestPlanText(t *testing.T) {
	out, err := run("plan", "--population", "7271", "--margin", "4", "--expected-response-rate", "30")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"Population:               7,271",
		"Target:                   ±4 points at 95% confidence",
		"Responses needed:         555",
		"Invitations needed:       1,850 at a 30% response rate",
		"Current plan:             inviting 7,271 gives about 2,181 responses, ±1.8 points (meets the target)",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	out, err = run("plan", "--population", "2000", "--margin", "3", "--expected-response-rate", "25", "--invitations", "1000")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "more than everyone") || !strings.Contains(out, "inviting 1,000 gives about 250 responses") ||
		!strings.Contains(out, "(misses the target)") {
		t.Errorf("unreachable plan:\n%s", out)
	}
}

func TestPlanRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--margin", "4"}, `required flag(s) "population" not set`},
		{[]string{"plan", "--population", "100"}, `required flag(s) "margin" not set`},
		{[]string{"plan", "--population", "0", "--margin", "4"}, "--population must be a whole number of people above 0"},
		{[]string{"plan", "--population", "-5", "--margin", "4"}, "--population must be a whole number of people above 0"},
		{[]string{"plan", "--population", "abc", "--margin", "4"}, `invalid argument "abc" for "--population"`},
		{[]string{"plan", "--population", "100", "--margin", "0"}, "--margin is in percentage points and must be above 0"},
		{[]string{"plan", "--population", "100", "--margin", "60"}, "at most 50"},
		{[]string{"plan", "--population", "100", "--margin", "4", "--confidence", "0.95"}, "--confidence is a percentage from 50 to below 100 (such as 95)"},
		{[]string{"plan", "--population", "100", "--margin", "4", "--expected-response-rate", "0"}, "--expected-response-rate is a percentage above 0"},
		{[]string{"plan", "--population", "100", "--margin", "4", "--invitations", "101"}, "--invitations must be between 1 and the population (100)"},
		{[]string{"plan", "--population", "100", "--margin", "4", "-o", "yaml"}, `unknown output format "yaml": use text or json`},
		{[]string{"plan", "extra", "--population", "100", "--margin", "4"}, `unknown command "extra"`},
	} {
		_, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
