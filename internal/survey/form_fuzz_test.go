package survey

import (
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// fuzzSurvey has a question of every kind: scales (one required, one with "not applicable"),
// a choice, multiple choices with bounds and without, free text, and questions asked on a
// condition of earlier answers.
func fuzzSurvey() Definition {
	d := sample()
	d.Questions = append(d.Questions,
		Question{ID: "help", Kind: "Choice", Text: "What helped?", Choices: []string{"a", "b", "c", "d", "e", "f"}, Multiple: true,
			MinSelections: 1, MaxSelections: 3},
		Question{ID: "other", Kind: "Choice", Text: "Anything else?", Choices: []string{"x", "y"}, Multiple: true, NotApplicable: "None"},
		Question{ID: "worse", Kind: "Text", Text: "What went wrong?", Required: true, ShowIf: `answers.tp01 <= 2`},
		Question{ID: "first", Kind: "Choice", Text: "How did you hear?", Choices: []string{"Post", "Web"},
			ShowIf: `has(answers.visit) && answers.visit == "Yes" && "b" in answers.help`},
	)
	return d
}

// FuzzReadForm reads any urlencoded body as the survey page's form, as the response service
// does (http.Request.ParseForm, then ReadForm with every value of each field, conditions
// decided by CEL: internal/collector's submitSurvey and visible), and as a gateway's answers
// (one value a field: its inbound). Properties:
//   - the questions asked are the survey's, in order, each once, every unconditional one;
//   - every answer is to a question asked, in order, once, and has no problem; it is one of:
//     "not applicable" where offered, a scale point of the scale, a choice's index, a set of
//     choices within the bounds, or text that is valid UTF-8 with no NUL or control character
//     but tab and line ends, trimmed, not empty, at most MaxTextLength characters;
//   - problems are about questions asked; a form is complete exactly when it has no problem
//     and every required question asked is answered;
//   - the answers, written back as the page writes them, read as the same answers.
func FuzzReadForm(f *testing.F) {
	d := fuzzSurvey()
	// The conditions, as the response service decides them (audience.CompileShowIf and Shown,
	// which this domain package may not import): CEL over the earlier answers, false when it
	// cannot be evaluated.
	env, err := cel.NewEnv(cel.Variable("answers", cel.MapType(cel.StringType, cel.DynType)), ext.Strings())
	if err != nil {
		f.Fatal(err)
	}
	programs := map[string]cel.Program{}
	for _, q := range d.Questions {
		if q.ShowIf != "" {
			checked, iss := env.Compile(q.ShowIf)
			if iss.Err() != nil {
				f.Fatal(iss.Err())
			}
			if programs[q.ID], err = env.Program(checked); err != nil {
				f.Fatal(err)
			}
		}
	}
	shows := func(q Question, earlier map[string]any) bool {
		out, _, err := programs[q.ID].Eval(map[string]any{"answers": earlier})
		b, ok := out.(interface{ Value() any })
		return err == nil && ok && b.Value() == true
	}
	low := func(field string) []string { return map[string][]string{"q.tp01": {"1"}}[field] }
	if _, asked, _, _ := d.ReadForm(low, true, shows); !slices.Contains(asked, "worse") {
		f.Fatalf("a low score does not ask what went wrong: asked %v", asked)
	}
	f.Fuzz(func(t *testing.T, body string, partial bool) {
		r, err := http.NewRequest(http.MethodPost, "/s/token", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			return // the page answers 400 before it reads any answer
		}
		form := func(field string) []string { return r.PostForm[field] }
		checkForm(t, d, body, partial, shows, form)
		checkForm(t, d, body, true, shows, func(field string) []string { return []string{r.PostForm.Get(field)} })
	})
}

func checkForm(t *testing.T, d Definition, body string, partial bool, shows Shows, get func(string) []string) {
	t.Helper()
	answers, asked, complete, problems := d.ReadForm(get, partial, shows)
	var ids []string
	for _, q := range d.Questions {
		ids = append(ids, q.ID)
		if q.ShowIf == "" && !slices.Contains(asked, q.ID) {
			t.Fatalf("%q: %s is not asked", body, q.ID)
		}
	}
	for i, id := range asked {
		if i > 0 && slices.Index(ids, id) <= slices.Index(ids, asked[i-1]) || !slices.Contains(ids, id) {
			t.Fatalf("%q: asked %v", body, asked)
		}
	}
	for id := range problems {
		if !slices.Contains(asked, id) {
			t.Fatalf("%q: a problem with %s, which is not asked (%v)", body, id, asked)
		}
	}
	answered, last := map[string]bool{}, -1
	for _, a := range answers {
		at := slices.Index(ids, a.Question)
		if at <= last || !slices.Contains(asked, a.Question) || problems[a.Question].ID != "" {
			t.Fatalf("%q: an answer to %s (asked %v, problems %v)", body, a.Question, asked, problems)
		}
		last, answered[a.Question] = at, true
		checkAnswer(t, body, d.Questions[at], a)
	}
	want := len(problems) == 0
	for _, q := range d.Questions {
		if q.Required && slices.Contains(asked, q.ID) && !answered[q.ID] {
			want = false
			if !partial && problems[q.ID].ID == "" {
				t.Fatalf("%q: %s is required and unanswered, with no problem", body, q.ID)
			}
		}
	}
	if complete != want {
		t.Fatalf("%q: complete %v, with problems %v and answers %+v", body, complete, problems, answers)
	}

	// Written back as the page writes stored answers (collector's formValues), they read the same.
	values := map[string]string{}
	for i, a := range answers {
		q := d.Questions[slices.Index(ids, a.Question)]
		switch {
		case a.NotApplicable:
			values[FieldName(q.ID)] = NotApplicableValue
		case q.Multiple:
			var picked []string
			for _, j := range Indexes(*a.Value) {
				picked = append(picked, strconv.Itoa(j))
			}
			values[FieldName(q.ID)] = strings.Join(picked, ",")
		case a.Value != nil:
			values[FieldName(q.ID)] = strconv.Itoa(*a.Value)
		default:
			values[FieldName(q.ID)] = answers[i].Text
		}
	}
	again, askedAgain, _, _ := d.ReadForm(func(field string) []string {
		if v, ok := values[field]; ok {
			return []string{v}
		}
		return nil
	}, true, shows)
	if !slices.Equal(askedAgain, asked) || !slices.EqualFunc(again, answers, sameAnswer) {
		t.Fatalf("%q: the answers %+v (asked %v) read back as %+v (asked %v)", body, answers, asked, again, askedAgain)
	}
}

func sameAnswer(a, b Answer) bool {
	return a.Question == b.Question && a.Text == b.Text && a.NotApplicable == b.NotApplicable &&
		(a.Value == nil) == (b.Value == nil) && (a.Value == nil || *a.Value == *b.Value)
}

// checkAnswer fails unless a is an answer the question allows.
func checkAnswer(t *testing.T, body string, q Question, a Answer) {
	t.Helper()
	kinds := 0
	for _, set := range []bool{a.NotApplicable, a.Value != nil, a.Text != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		t.Fatalf("%q: the answer to %s is %+v", body, q.ID, a)
	}
	switch {
	case a.NotApplicable:
		if q.NotApplicable == "" {
			t.Fatalf("%q: %s answered 'not applicable', which it does not offer", body, q.ID)
		}
	case q.Multiple:
		if a.Value == nil || *a.Value <= 0 || *a.Value >= 1<<len(q.Choices) {
			t.Fatalf("%q: %s answered %+v", body, q.ID, a)
		}
		if n := bits.OnesCount(uint(*a.Value)); q.MinSelections > 0 && n < q.MinSelections || q.MaxSelections > 0 && n > q.MaxSelections {
			t.Fatalf("%q: %s answered with %d choices", body, q.ID, n)
		}
	case q.IsScale():
		if a.Value == nil || *a.Value < q.Points[0].Value || *a.Value > q.Points[len(q.Points)-1].Value {
			t.Fatalf("%q: %s answered %+v", body, q.ID, a)
		}
	case len(q.Choices) > 0:
		if a.Value == nil || *a.Value < 0 || *a.Value >= len(q.Choices) {
			t.Fatalf("%q: %s answered %+v", body, q.ID, a)
		}
	default:
		if a.Value != nil || !utf8.ValidString(a.Text) || strings.ContainsRune(a.Text, 0) || !PlainText(a.Text) ||
			a.Text != strings.TrimSpace(a.Text) || utf8.RuneCountInString(a.Text) > MaxTextLength {
			t.Fatalf("%q: %s answered the text %q", body, q.ID, a.Text)
		}
		for _, r := range a.Text {
			if r < ' ' && r != '\t' && r != '\n' && r != '\r' || r >= 0x7f && r < 0xa0 {
				t.Fatalf("%q: %s answered with the control character %U", body, q.ID, r)
			}
		}
	}
}
