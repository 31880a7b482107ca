// Package survey is the questionnaire as a wave asks it: the snapshot the manager registers with
// the response service when a wave starts (so the page always shows what the person was invited
// to, even if the campaign is edited later), and the rules for reading a submitted form.
package survey

import (
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
func (d Definition) ReadForm(get func(field string) []string, acceptPartial bool, shows Shows) (answers []Answer, asked []string, complete bool, problems map[string]string) {
	problems = map[string]string{}
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
					problems[q.ID] = "Please answer this question."
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
				problems[q.ID] = "Please choose from the answers shown."
				continue
			case q.MinSelections > 0 && n < q.MinSelections:
				problems[q.ID] = fmt.Sprintf("Please choose at least %d of the answers.", q.MinSelections)
				continue
			case q.MaxSelections > 0 && n > q.MaxSelections:
				problems[q.ID] = fmt.Sprintf("Please choose no more than %d of the answers (you chose %d).", q.MaxSelections, n)
				continue
			}
			a.Value = &mask
		case q.IsScale():
			v, err := strconv.Atoi(raw)
			if err != nil || v < q.Points[0].Value || v > q.Points[len(q.Points)-1].Value {
				problems[q.ID] = "Please choose one of the answers shown."
				continue
			}
			a.Value = &v
		case len(q.Choices) > 0:
			v, err := strconv.Atoi(raw)
			if err != nil || v < 0 || v >= len(q.Choices) {
				problems[q.ID] = "Please choose one of the answers shown."
				continue
			}
			a.Value = &v
		default: // Text
			if !PlainText(raw) {
				problems[q.ID] = "Please remove the unusual characters from your answer (it has characters that are not text)."
				continue
			}
			if n := len([]rune(raw)); n > MaxTextLength {
				problems[q.ID] = fmt.Sprintf("Please shorten your answer to %d characters (it has %d).", MaxTextLength, n)
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
