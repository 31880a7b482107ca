package survey

import (
	"testing"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

func sample() Definition {
	five := int32(5)
	one := int32(1)
	pos := int32(2)
	return FromSpec(&v1alpha1.Survey{
		Title: "Tenant survey",
		Questions: []v1alpha1.Question{
			{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Text: "Overall?", Required: true},
			{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Text: "Repairs?", NotApplicable: "No repair"},
			{ID: "nps", Kind: v1alpha1.QuestionNPS, Text: "Recommend?"},
			{ID: "fair", Kind: v1alpha1.QuestionRating, Text: "Fair?", Scale: &v1alpha1.Scale{Min: one, Max: five, Positive: &pos,
				Labels: []string{"Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"}}},
			{ID: "visit", Kind: v1alpha1.QuestionChoice, Text: "First visit?", Choices: []string{"Yes", "No"}},
			{ID: "why", Kind: v1alpha1.QuestionText, Text: "Why?"},
		},
	})
}

func TestFromSpec(t *testing.T) {
	d := sample()
	if d.Primary != "tp01" || len(d.Questions) != 6 {
		t.Fatalf("definition = %+v", d)
	}
	csat := d.Questions[0]
	if len(csat.Points) != 5 || csat.Points[0] != (Point{1, "Very dissatisfied"}) || csat.Points[4] != (Point{5, "Very satisfied"}) || csat.Positive != 2 {
		t.Errorf("CSAT = %+v", csat)
	}
	nps := d.Questions[2]
	if len(nps.Points) != 11 || nps.Points[0].Value != 0 || nps.Points[10].Label != "10 - Extremely likely" || nps.Positive != 2 {
		t.Errorf("NPS = %+v", nps)
	}
	if d.Questions[3].Points[3].Label != "Agree" || d.Questions[4].IsScale() || d.Questions[5].IsScale() {
		t.Errorf("rating/choice/text = %+v", d.Questions[3:])
	}
	back, err := Parse(d.JSON())
	if err != nil || len(back.Questions) != 6 || back.Questions[1].NotApplicable != "No repair" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if _, err := Parse([]byte(`{"title":"x"}`)); err == nil {
		t.Error("a definition without questions parsed")
	}
}

func TestReadForm(t *testing.T) {
	d := sample()
	form := func(kv map[string]string) func(string) string { return func(f string) string { return kv[f] } }

	answers, complete, problems := d.ReadForm(form(map[string]string{
		"q.tp01": "4", "q.tp02": "na", "q.nps": "10", "q.fair": "5", "q.visit": "1", "q.why": "  Quick and polite.  ",
	}), false)
	if !complete || len(problems) != 0 || len(answers) != 6 {
		t.Fatalf("full form: %v %v %+v", complete, problems, answers)
	}
	if *answers[0].Value != 4 || !answers[1].NotApplicable || *answers[4].Value != 1 || answers[5].Text != "Quick and polite." {
		t.Errorf("answers = %+v", answers)
	}

	_, complete, problems = d.ReadForm(form(map[string]string{
		"q.nps": "11", "q.fair": "x", "q.visit": "2", "q.tp02": "0", "q.tp01": "na",
	}), false)
	if complete {
		t.Error("complete with problems")
	}
	for _, q := range []string{"tp01", "tp02", "nps", "fair", "visit"} {
		if problems[q] == "" {
			t.Errorf("no problem reported for %s: %v", q, problems)
		}
	}
	if problems["why"] != "" {
		t.Errorf("an unanswered optional question is a problem: %v", problems)
	}

	long := make([]rune, MaxTextLength+1)
	for i := range long {
		long[i] = 'é'
	}
	_, _, problems = d.ReadForm(form(map[string]string{"q.tp01": "3", "q.why": string(long)}), false)
	if problems["why"] == "" {
		t.Error("an over-long text was accepted")
	}

	// A partial answer, as an SMS reply gives: accepted, but not complete.
	answers, complete, problems = d.ReadForm(form(map[string]string{"q.nps": "3"}), true)
	if complete || len(problems) != 0 || len(answers) != 1 {
		t.Errorf("partial: %v %v %+v", complete, problems, answers)
	}
}
