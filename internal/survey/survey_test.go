package survey

import (
	"slices"
	"strconv"
	"testing"
)

func points(labels ...string) []Point {
	out := make([]Point, len(labels))
	for i, l := range labels {
		out[i] = Point{Value: i + 1, Label: l}
	}
	return out
}

func sample() Definition {
	csat := points("Very dissatisfied", "Fairly dissatisfied", "Neither", "Fairly satisfied", "Very satisfied")
	nps := make([]Point, 11)
	for i := range nps {
		nps[i] = Point{Value: i, Label: strconv.Itoa(i)}
	}
	return Definition{
		Title:   "Tenant survey",
		Primary: "tp01",
		Questions: []Question{
			{ID: "tp01", Kind: "CSAT", Text: "Overall?", Required: true, Points: csat, Positive: 2},
			{ID: "tp02", Kind: "CSAT", Text: "Repairs?", NotApplicable: "No repair", Points: csat, Positive: 2},
			{ID: "nps", Kind: "NPS", Text: "Recommend?", Points: nps, Positive: 2},
			{ID: "fair", Kind: "Rating", Text: "Fair?", Points: points("Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"), Positive: 2},
			{ID: "visit", Kind: "Choice", Text: "First visit?", Choices: []string{"Yes", "No"}},
			{ID: "why", Kind: "Text", Text: "Why?"},
		},
	}
}

func TestParseRoundTrip(t *testing.T) {
	d := sample()
	back, err := Parse(d.JSON())
	if err != nil || len(back.Questions) != 6 || back.Questions[1].NotApplicable != "No repair" || back.Questions[3].Points[3].Label != "Agree" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if _, err := Parse([]byte(`{"title":"x"}`)); err == nil {
		t.Error("a definition without questions parsed")
	}
}

func TestReadForm(t *testing.T) {
	d := sample()
	form := func(kv map[string]string) func(string) []string {
		return func(f string) []string {
			if v, ok := kv[f]; ok {
				return []string{v}
			}
			return nil
		}
	}

	answers, _, complete, problems := d.ReadForm(form(map[string]string{
		"q.tp01": "4", "q.tp02": "na", "q.nps": "10", "q.fair": "5", "q.visit": "1", "q.why": "  Quick and polite.  ",
	}), false, nil)
	if !complete || len(problems) != 0 || len(answers) != 6 {
		t.Fatalf("full form: %v %v %+v", complete, problems, answers)
	}
	if *answers[0].Value != 4 || !answers[1].NotApplicable || *answers[4].Value != 1 || answers[5].Text != "Quick and polite." {
		t.Errorf("answers = %+v", answers)
	}

	_, _, complete, problems = d.ReadForm(form(map[string]string{
		"q.nps": "11", "q.fair": "x", "q.visit": "2", "q.tp02": "0", "q.tp01": "na",
	}), false, nil)
	if complete {
		t.Error("complete with problems")
	}
	for _, q := range []string{"tp01", "tp02", "nps", "fair", "visit"} {
		if problems[q].ID == "" {
			t.Errorf("no problem reported for %s: %v", q, problems)
		}
	}
	if problems["why"].ID != "" {
		t.Errorf("an unanswered optional question is a problem: %v", problems)
	}

	long := make([]rune, MaxTextLength+1)
	for i := range long {
		long[i] = 'é'
	}
	_, _, _, problems = d.ReadForm(form(map[string]string{"q.tp01": "3", "q.why": string(long)}), false, nil)
	if problems["why"].ID == "" {
		t.Error("an over-long text was accepted")
	}

	// A partial answer, as an SMS reply gives: accepted, but not complete.
	answers, _, complete, problems = d.ReadForm(form(map[string]string{"q.nps": "3"}), true, nil)
	if complete || len(problems) != 0 || len(answers) != 1 {
		t.Errorf("partial: %v %v %+v", complete, problems, answers)
	}
}

// A conditional question is asked when shows says so, given the valid answers before it; one
// not asked drops its answer, and never makes a response partial however required it is.
func TestReadFormAsksConditionalQuestions(t *testing.T) {
	d := sample()
	d.Questions[1].ShowIf = `answers.visit == "Yes"` // evaluated by the caller's shows
	d.Questions[1].Required = true
	d.Questions = []Question{d.Questions[4], d.Questions[1], d.Questions[0]} // visit, tp02 (if Yes), tp01
	var seen []map[string]any
	shows := func(_ Question, earlier map[string]any) bool {
		seen = append(seen, earlier)
		return earlier["visit"] == "Yes"
	}
	form := func(kv map[string]string) func(string) []string {
		return func(f string) []string {
			if v, ok := kv[f]; ok {
				return []string{v}
			}
			return nil
		}
	}

	answers, asked, complete, problems := d.ReadForm(form(map[string]string{"q.visit": "1", "q.tp02": "2", "q.tp01": "4"}), false, shows)
	if !complete || len(problems) != 0 || len(answers) != 2 || !slices.Equal(asked, []string{"visit", "tp01"}) {
		t.Errorf("visit No: answers %+v, asked %v, complete %v, problems %v", answers, asked, complete, problems)
	}
	if len(seen) != 1 || seen[0]["visit"] != "No" {
		t.Errorf("shows saw %v", seen)
	}
	_, asked, complete, problems = d.ReadForm(form(map[string]string{"q.visit": "0", "q.tp01": "4"}), false, shows)
	if complete || problems["tp02"].ID == "" || !slices.Equal(asked, []string{"visit", "tp02", "tp01"}) {
		t.Errorf("visit Yes, tp02 unanswered: asked %v, complete %v, problems %v", asked, complete, problems)
	}
}

// A multiple Choice question: the choices ticked as a mask, within the bounds, sent as several
// values (a form's checkboxes) or as one separated by commas (a gateway).
func TestReadFormMultipleChoice(t *testing.T) {
	d := Definition{Title: "T", Questions: []Question{{ID: "topics", Kind: "Choice", Required: true, Multiple: true,
		MinSelections: 1, MaxSelections: 2, Choices: []string{"Repairs", "Rent", "Neighbourhood", "Communal areas"}}}}
	read := func(values ...string) ([]Answer, bool, map[string]Problem) {
		answers, _, complete, problems := d.ReadForm(func(string) []string { return values }, false, nil)
		return answers, complete, problems
	}
	answers, complete, problems := read("2", "0")
	if !complete || len(problems) != 0 || len(answers) != 1 || *answers[0].Value != 0b101 {
		t.Fatalf("two ticked: %+v %v %v", answers, complete, problems)
	}
	if v, ok := AnswerValue(d.Questions[0], answers[0]); !ok || !slices.Equal(v.([]string), []string{"Repairs", "Neighbourhood"}) {
		t.Errorf("AnswerValue = %v", v)
	}
	if answers, _, problems := read("1, 3"); len(problems) != 0 || *answers[0].Value != 0b1010 {
		t.Errorf("one value with commas: %+v %v", answers, problems)
	}
	for values, want := range map[string]string{
		"0,1,2": "Please choose no more than 2 of the answers (you chose 3).",
		"4":     "Please choose from the answers shown.",
		"":      "Please answer this question.",
	} {
		if _, _, problems := read(values); problems["topics"].String() != want {
			t.Errorf("%q: %v, want %q", values, problems, want)
		}
	}
	d.Questions[0].MinSelections = 2
	if _, _, problems := read("3"); problems["topics"].String() != "Please choose at least 2 of the answers." {
		t.Errorf("one of at least two: %v", problems)
	}
	if got := Indexes(0b1010); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("Indexes = %v", got)
	}
}
