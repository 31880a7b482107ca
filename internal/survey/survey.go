// Package survey is the questionnaire as a wave asks it: the snapshot the manager registers with
// the response service when a wave starts (so the page always shows what the person was invited
// to, even if the campaign is edited later), and the rules for reading a submitted form.
package survey

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Definition is a wave's questionnaire.
type Definition struct {
	Title     string     `json:"title"`
	Intro     string     `json:"intro,omitempty"`
	Primary   string     `json:"primary,omitempty"`
	Questions []Question `json:"questions"`
	// Anonymous answers are stored with no link to the person (spec.survey.anonymous).
	Anonymous bool `json:"anonymous,omitempty"`
	// Language is the language of the texts above (BCP 47); Translations are the texts in
	// other languages, in the campaign's order.
	Language     string        `json:"language,omitempty"`
	Translations []Translation `json:"translations,omitempty"`
}

// Translation is a survey's texts in another language.
type Translation struct {
	Language  string                   `json:"language"`
	Title     string                   `json:"title"`
	Intro     string                   `json:"intro,omitempty"`
	Questions map[string]QuestionTexts `json:"questions"`
}

// QuestionTexts are a question's texts in another language: Labels of its scale's points,
// lowest first.
type QuestionTexts struct {
	Text          string   `json:"text"`
	Labels        []string `json:"labels,omitempty"`
	Choices       []string `json:"choices,omitempty"`
	NotApplicable string   `json:"notApplicable,omitempty"`
}

// Languages are the languages the survey can be read in, its own first ("en" when unset).
func (d Definition) Languages() []string {
	out := []string{cmp.Or(d.Language, "en")}
	for _, t := range d.Translations {
		out = append(out, t.Language)
	}
	return out
}

// In is the survey as read in a language: its texts replaced by the translation's (each one
// the translation has). The answers are the same in every language: a choice is its index, a
// scale point its value, and conditions read them in the survey's own language, so use the
// survey itself, not this, to read a form.
func (d Definition) In(lang string) Definition {
	var tr *Translation
	for i := range d.Translations {
		if d.Translations[i].Language == lang {
			tr = &d.Translations[i]
		}
	}
	if tr == nil {
		return d
	}
	out := d
	out.Language, out.Translations = lang, nil
	out.Title = tr.Title
	if tr.Intro != "" {
		out.Intro = tr.Intro
	}
	out.Questions = make([]Question, len(d.Questions))
	for i, q := range d.Questions {
		t, ok := tr.Questions[q.ID]
		if !ok {
			out.Questions[i] = q
			continue
		}
		q.Text = cmp.Or(t.Text, q.Text)
		if len(t.Choices) == len(q.Choices) {
			q.Choices = t.Choices
		}
		if len(t.Labels) == len(q.Points) {
			points := make([]Point, len(q.Points))
			for j, p := range q.Points {
				points[j] = Point{Value: p.Value, Label: t.Labels[j]}
			}
			q.Points = points
		}
		q.NotApplicable = cmp.Or(t.NotApplicable, q.NotApplicable)
		out.Questions[i] = q
	}
	return out
}

// Question is one question with everything needed to render and score it.
type Question struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Required bool   `json:"required,omitempty"`
	// Points of a scale, lowest first, each with its descriptor.
	Points []Point `json:"points,omitempty"`
	// Positive is how many top points count as satisfied (top-box).
	Positive int `json:"positive,omitempty"`
	// Choices of a Choice question; an answer is the index of one, or, for a Multiple one, the
	// set of those ticked as a bit mask (bit i: choice i).
	Choices []string `json:"choices,omitempty"`
	// Multiple: "tick all that apply", between MinSelections and MaxSelections of the choices
	// (0: no bound).
	Multiple      bool `json:"multiple,omitempty"`
	MinSelections int  `json:"minSelections,omitempty"`
	MaxSelections int  `json:"maxSelections,omitempty"`
	// NotApplicable is the label of the extra "don't know / not applicable" answer, if offered.
	NotApplicable string `json:"notApplicable,omitempty"`
	// ShowIf is a CEL expression over the answers to earlier questions (CEL values as
	// AnswerValue gives them): the question is asked only when it is true. Empty: always asked.
	ShowIf string `json:"showIf,omitempty"`
}

// Conditional reports whether any question is asked only on a condition.
func (d Definition) Conditional() bool {
	for _, q := range d.Questions {
		if q.ShowIf != "" {
			return true
		}
	}
	return false
}

// AnswerValue is an answer as expressions over answers see it (a question's showIf, a
// FollowUp's trigger): the point for a scale, the choice's text for a Choice, the text for a
// Text question; false for "don't know / not applicable" and for an answer that is not valid,
// which expressions see as absent.
func AnswerValue(q Question, a Answer) (any, bool) {
	switch {
	case a.NotApplicable:
		return nil, false
	case a.Value != nil && q.Multiple:
		return q.Picked(*a.Value), true
	case a.Value != nil && len(q.Choices) > 0:
		if *a.Value >= 0 && *a.Value < len(q.Choices) {
			return q.Choices[*a.Value], true
		}
		return nil, false
	case a.Value != nil:
		return int64(*a.Value), true
	case a.Text != "":
		return a.Text, true
	}
	return nil, false
}

// Picked are the choices a Multiple question's answer ticked, in order.
func (q Question) Picked(mask int) []string {
	var out []string
	for i, c := range q.Choices {
		if mask&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// Indexes are the indexes of the choices ticked in a Multiple answer's mask.
func Indexes(mask int) []int {
	var out []int
	for i := 0; mask>>i != 0; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// Shows decides whether a conditional question is asked, given the answers to the questions
// asked before it (by question id, as AnswerValue gives them).
type Shows func(q Question, earlier map[string]any) bool

// Point is one point of a scale.
type Point struct {
	Value int    `json:"value"`
	Label string `json:"label"`
}

// Parse reads a snapshot.
func Parse(data []byte) (Definition, error) {
	var d Definition
	if err := json.Unmarshal(data, &d); err != nil {
		return Definition{}, fmt.Errorf("survey definition: %w", err)
	}
	if len(d.Questions) == 0 {
		return Definition{}, fmt.Errorf("survey definition has no questions")
	}
	return d, nil
}

// JSON is the snapshot's canonical encoding.
func (d Definition) JSON() []byte {
	b, _ := json.Marshal(d)
	return b
}

// IsScale reports whether the question is answered on a scale.
func (q Question) IsScale() bool { return len(q.Points) > 0 }

// Answer is one answer read from a form: a scale point or choice index in Value, free text in
// Text, or NotApplicable.
type Answer struct {
	Question      string
	Value         *int
	Text          string
	NotApplicable bool
}

// Problem is what is wrong with an answer, for the page to word in the person's language (its
// ID is the catalogue's message "p_"+ID, in internal/i18n); String words it in English.
type Problem struct {
	ID          string
	Min, Max, N int
}

func (p Problem) String() string {
	switch p.ID {
	case "required":
		return "Please answer this question."
	case "choose":
		return "Please choose one of the answers shown."
	case "choose_from":
		return "Please choose from the answers shown."
	case "min":
		return fmt.Sprintf("Please choose at least %d of the answers.", p.Min)
	case "max":
		return fmt.Sprintf("Please choose no more than %d of the answers (you chose %d).", p.Max, p.N)
	case "chars":
		return "Please remove the unusual characters from your answer (it has characters that are not text)."
	case "long":
		return fmt.Sprintf("Please shorten your answer to %d characters (it has %d).", p.Max, p.N)
	}
	return p.ID
}

// MaxTextLength bounds a free-text answer, in characters.
const MaxTextLength = 4000

// NotApplicableValue is the form value of the "don't know / not applicable" answer.
const NotApplicableValue = "na"

// PlainText reports whether s is text a store can keep and a page can show: valid UTF-8, with
// no NUL and no control characters other than tab, line feed and carriage return.
func PlainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// FieldName is the form field of a question.
func FieldName(questionID string) string { return "q." + questionID }

// ReadForm reads the answers of a submitted form. It returns the answers that are valid, the
// questions asked (a conditional question is asked when shows says so, given the valid answers
// before it; every question when shows is nil), whether every required question asked is
// answered, and a problem, in words for the respondent, for each question asked whose answer is
// not allowed, and, unless partial answers are accepted (an SMS reply answers one question),
// for each required question asked and left unanswered. A question not asked is not missing:
// its answer, if the form has one, is dropped, and it never makes a response partial. Nothing
// is to be stored while there are problems.
//
// get returns a field's values: one for most questions, one per choice ticked for a Multiple
// one (a gateway may send them in one value, separated by commas).
func (d Definition) ReadForm(get func(field string) []string, acceptPartial bool, shows Shows) (answers []Answer, asked []string, complete bool, problems map[string]Problem) {
	problems = map[string]Problem{}
	complete = true
	earlier := map[string]any{}
	for _, q := range d.Questions {
		if q.ShowIf != "" && shows != nil && !shows(q, earlier) {
			continue
		}
		asked = append(asked, q.ID)
		values := get(FieldName(q.ID))
		var raw string
		if len(values) > 0 {
			raw = strings.TrimSpace(values[0])
		}
		if q.Multiple {
			var picked []string
			for _, v := range values {
				for p := range strings.SplitSeq(v, ",") {
					if p = strings.TrimSpace(p); p != "" {
						picked = append(picked, p)
					}
				}
			}
			raw = strings.Join(picked, ",")
		}
		if raw == "" {
			if q.Required {
				complete = false
				if !acceptPartial {
					problems[q.ID] = Problem{ID: "required"}
				}
			}
			continue
		}
		a := Answer{Question: q.ID}
		switch {
		case q.NotApplicable != "" && raw == NotApplicableValue:
			a.NotApplicable = true
		case q.Multiple:
			mask, n := 0, 0
			for p := range strings.SplitSeq(raw, ",") {
				v, err := strconv.Atoi(p)
				if err != nil || v < 0 || v >= len(q.Choices) {
					n = -1
					break
				}
				if mask&(1<<v) == 0 {
					mask, n = mask|1<<v, n+1
				}
			}
			switch {
			case n < 0:
				problems[q.ID] = Problem{ID: "choose_from"}
				continue
			case q.MinSelections > 0 && n < q.MinSelections:
				problems[q.ID] = Problem{ID: "min", Min: q.MinSelections}
				continue
			case q.MaxSelections > 0 && n > q.MaxSelections:
				problems[q.ID] = Problem{ID: "max", Max: q.MaxSelections, N: n}
				continue
			}
			a.Value = &mask
		case q.IsScale():
			v, err := strconv.Atoi(raw)
			if err != nil || v < q.Points[0].Value || v > q.Points[len(q.Points)-1].Value {
				problems[q.ID] = Problem{ID: "choose"}
				continue
			}
			a.Value = &v
		case len(q.Choices) > 0:
			v, err := strconv.Atoi(raw)
			if err != nil || v < 0 || v >= len(q.Choices) {
				problems[q.ID] = Problem{ID: "choose"}
				continue
			}
			a.Value = &v
		default: // Text
			if !PlainText(raw) {
				problems[q.ID] = Problem{ID: "chars"}
				continue
			}
			if n := len([]rune(raw)); n > MaxTextLength {
				problems[q.ID] = Problem{ID: "long", Max: MaxTextLength, N: n}
				continue
			}
			a.Text = raw
		}
		answers = append(answers, a)
		if v, ok := AnswerValue(q, a); ok {
			earlier[q.ID] = v
		}
	}
	return answers, asked, complete && len(problems) == 0, problems
}
