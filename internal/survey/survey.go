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
	// Choices of a Choice question; an answer is the index of one.
	Choices []string `json:"choices,omitempty"`
	// NotApplicable is the label of the extra "don't know / not applicable" answer, if offered.
	NotApplicable string `json:"notApplicable,omitempty"`
}

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

// ReadForm reads the answers of a submitted form. It returns the answers that are valid, whether
// every required question is answered, and a problem, in words for the respondent, for each
// question whose answer is not allowed, and, unless partial answers are accepted (an SMS reply
// answers one question), for each required question left unanswered. Nothing is to be stored
// while there are problems.
func (d Definition) ReadForm(get func(field string) string, acceptPartial bool) (answers []Answer, complete bool, problems map[string]string) {
	problems = map[string]string{}
	complete = true
	for _, q := range d.Questions {
		raw := strings.TrimSpace(get(FieldName(q.ID)))
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
	}
	return answers, complete && len(problems) == 0, problems
}
