package audience

import (
	"strings"
	"testing"
)

func TestTriggers(t *testing.T) {
	questions := []string{"recommend", "first-visit", "comments"}
	detractor := `(has(response.answers.recommend) && response.answers.recommend <= 6) ||
		("first-visit" in response.answers && response.answers["first-visit"] == "No, it is still not fixed")`
	prg, err := CompileTrigger(detractor, questions)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		answers map[string]any
		want    bool
	}{
		{map[string]any{"recommend": 3}, true},
		{map[string]any{"recommend": 6}, true},
		{map[string]any{"recommend": 9}, false},
		{map[string]any{"recommend": 10, "first-visit": "No, it is still not fixed"}, true},
		{map[string]any{"first-visit": "Yes"}, false},
		{map[string]any{}, false}, // skipped or "don't know": absent
	}
	for _, c := range cases {
		got, err := Matches(prg, c.answers, "emergency", "sms")
		if err != nil || got != c.want {
			t.Errorf("Matches(%v) = %v, %v; want %v", c.answers, got, err, c.want)
		}
	}
	seg, err := CompileTrigger(`response.segment == "emergency" && response.channel == "sms"`, questions)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Matches(seg, nil, "routine", "sms"); ok {
		t.Error("segment ignored")
	}

	bad := map[string]string{
		`response.answers.recomend <= 6`: `the survey has no question "recomend"`,
		`response.answer.recommend <= 6`: `response has no field "answer"`,
		`response.answers.recommend`:     `it must give true or false`,
		`respons.segment == "x"`:         `undeclared reference to 'respons'`,
	}
	for expr, want := range bad {
		if _, err := CompileTrigger(expr, questions); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CompileTrigger(%q) = %v, want %q", expr, err, want)
		}
	}
	// Comparing a text with a number is an error at evaluation, not a silent false.
	if _, err := Matches(prg, map[string]any{"recommend": "nine"}, "", ""); err == nil {
		t.Error("a type error was taken as false")
	}
}
