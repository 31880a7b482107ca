package collector_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// questionNumber is a question on a survey page: its id, whether it is hidden, and its number.
var questionNumber = regexp.MustCompile(`<div class="question[^"]*" data-question="([^"]+)"( hidden)?>\s*(?:<fieldset[^>]*>\s*<legend>|<label[^>]*>)<span class="number">([^<]*)</span>`)

// numbersOnPage are a survey page's questions in order, each "id=n." ("id= (hidden)" for a
// hidden question, which has no number).

func numbersOnPage(page string) (numbers []string) {
	for _, m := range questionNumber.FindAllStringSubmatch(page, -1) {
		numbers = append(numbers, m[1]+"="+m[3]+strings.Repeat(" (hidden)", len(m[2])/len(" hidden")))
	}
	return numbers
}

// The questions shown are numbered 1, 2, 3… in order, a hidden one skipped; a problem is told
// by the number of the question as shown.
func TestQuestionNumbersSkipHiddenQuestions(t *testing.T) {
	e := newEnv(t)
	link := e.repairsWave()
	shown := url.Values{"shown": {"repair tp01 topics"}}
	for name, c := range map[string]struct {
		form  url.Values // nil: the page as first opened
		want  string
		texts []string
	}{
		"first opened":            {want: "repair=1. tp02= (hidden) tp01=2. topics=3."},
		"in another language":     {want: "repair=1. tp02= (hidden) tp01=2. topics=3.", form: url.Values{"q.repair": {"1"}, "switch-lang": {"cy"}, "shown": shown["shown"]}},
		"a repair brings tp02 up": {want: "repair=1. tp02=2. tp01=3. topics=4.", form: url.Values{"q.repair": {"0"}, "shown": shown["shown"]}},
		"a problem, by its number": {want: "repair=1. tp02= (hidden) tp01=2. topics=3.", form: url.Values{"q.repair": {"1"}, "shown": shown["shown"]},
			texts: []string{">Question 2: Please answer this question.</a>"}},
	} {
		t.Run(name, func(t *testing.T) {
			var page string
			if c.form == nil {
				_, page = e.get(link("T-numbers"))
			} else {
				_, page = e.post(link("T-numbers"), c.form)
			}
			if got := strings.Join(numbersOnPage(page), " "); got != c.want {
				t.Errorf("numbers %q, want %q\n%s", got, c.want, page)
			}
			mustContain(t, page, c.texts...)
		})
	}
	// A survey without conditions numbers every question, a text question's label too.
	_, page := e.get("/s/" + e.link("T-numbers", closes))
	if got := strings.Join(numbersOnPage(page), " "); got != "tp01=1. tp02=2. visit=3. comments=4." {
		t.Errorf("numbers %q", got)
	}
}
