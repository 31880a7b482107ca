package collector

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
)

// page is what every page has: its words, and the language and direction they are in.
type page struct {
	Words *i18n.Words
	Lang  string
	Dir   string
}

func pageIn(words *i18n.Words) page { return page{Words: words, Lang: words.Lang(), Dir: words.Dir()} }

// langOption is one of a survey's other languages, for the switch.
type langOption struct{ Lang, Name, Dir string }

type surveyView struct {
	page
	PageTitle string
	// Definition is the survey as read in the page's language.
	Definition survey.Definition
	Values     map[string]string
	Problems   map[string]string
	// Others are the survey's other languages, for the switch.
	Others []langOption
	// survey is the survey in its own language, whose choices conditions compare answers with.
	survey     survey.Definition
	Answered   bool
	AnsweredOn string
	Saved      bool
	Closes     string
	OptOutPath string
	// Hidden are the conditional questions the answers so far do not call for; Shown lists the
	// others, space-separated, for the form to send back; VisiblePath is where the page asks
	// which to show as the answers change (only a survey with conditional questions).
	Hidden      map[string]bool
	Shown       string
	VisiblePath string
	// Revealed: the answers sent brought up questions the page had not shown.
	Revealed bool
}

type messageView struct {
	page
	PageTitle  string
	Heading    string
	Paragraphs []string
	Action     string
}

func (s *Server) render(w http.ResponseWriter, status int, page string, view any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", view); err != nil {
		s.cfg.Logger.Error("rendering a page", "page", page, "error", err)
		http.Error(w, "Sorry, something went wrong. Please try again later.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message is a page of English text (pages the catalogues do not have yet).
func (s *Server) message(w http.ResponseWriter, status int, heading string, paragraphs ...string) {
	s.render(w, status, "message", messageView{page: pageIn(i18n.For("en")), PageTitle: heading, Heading: heading, Paragraphs: paragraphs})
}

// wordsFor are the page's words for a request: in the language the link asks for (?lang=), else
// the first of the browser's that one of langs matches, else the first of langs (the
// operator's shipped languages, English first, when the survey is not known).
func wordsFor(r *http.Request, langs []string) *i18n.Words {
	if len(langs) == 0 {
		langs = append([]string{"en"}, slices.DeleteFunc(i18n.Shipped(), func(l string) bool { return l == "en" })...)
	}
	return i18n.For(i18n.Choose(langs, queryValue(r, "lang"), headerValue(r, "Accept-Language")))
}

// say is a page of the catalogues' words: a heading and paragraphs, by message id, filled from
// pairs of names and values.
func (s *Server) say(w http.ResponseWriter, status int, words *i18n.Words, heading string, paragraphs []string, pairs ...any) {
	v := messageView{page: pageIn(words), Heading: words.T(heading, pairs...)}
	v.PageTitle = v.Heading
	for _, p := range paragraphs {
		v.Paragraphs = append(v.Paragraphs, words.T(p, pairs...))
	}
	s.render(w, status, "message", v)
}

// invalidLink is the one answer to every link that fails verification: it does not say why.
func (s *Server) invalidLink(w http.ResponseWriter, r *http.Request) {
	s.say(w, http.StatusNotFound, wordsFor(r, nil), "invalid_title", []string{"invalid_body"})
}

func (s *Server) closed(w http.ResponseWriter, r *http.Request, at time.Time) {
	words := wordsFor(r, nil)
	s.say(w, http.StatusGone, words, "closed_title", []string{"closed_body"}, "On", words.Date(at))
}

// wave is what a survey link leads to.
type linkedWave struct {
	claims token.Claims
	wave   store.Wave
	def    survey.Definition
}

// open verifies a survey link and loads its wave. It writes the refusal itself and returns false
// when the link cannot be used: invalid, expired, or its wave closed.
func (s *Server) open(w http.ResponseWriter, r *http.Request) (linkedWave, bool) {
	now := s.cfg.Now()
	c, err := s.verify(r.Context(), pathID(r, "token"), now)
	switch {
	case !linkError(err):
		s.unavailable(w, r, err)
		return linkedWave{}, false
	case errors.Is(err, token.ErrExpired) && c.Purpose == token.PurposeSurvey:
		s.closed(w, r, c.Expiry)
		return linkedWave{}, false
	case err != nil || c.Purpose != token.PurposeSurvey:
		s.invalidLink(w, r)
		return linkedWave{}, false
	}
	wave, ok := s.loadWave(w, r, c)
	if !ok {
		return linkedWave{}, false
	}
	if !now.Before(wave.ClosesAt) {
		s.closed(w, r, wave.ClosesAt)
		return linkedWave{}, false
	}
	def, err := s.definition(wave)
	if err != nil {
		s.unavailable(w, r, err)
		return linkedWave{}, false
	}
	return linkedWave{claims: c, wave: wave, def: def}, true
}

// maxDefinitions bounds the parsed survey definitions the server holds.
const maxDefinitions = 1024

// definition is a wave's survey, parsed once while it is held. The definition is shared:
// nothing may change it.
func (s *Server) definition(wave store.Wave) (survey.Definition, error) {
	return s.definitions.get(store.WaveRef{CampaignUID: wave.CampaignUID, WaveID: wave.WaveID},
		func() (survey.Definition, error) { return survey.Parse(wave.Definition) })
}

// formValues are stored answers as the form's field values (a multiple choice's, the indexes
// ticked separated by commas).
func formValues(def survey.Definition, answers []store.Answer) map[string]string {
	multiple := map[string]bool{}
	for _, q := range def.Questions {
		multiple[q.ID] = q.Multiple
	}
	values := map[string]string{}
	for _, a := range answers {
		switch {
		case a.NotApplicable:
			values[a.Question] = survey.NotApplicableValue
		case a.Value != nil && multiple[a.Question]:
			var picked []string
			for _, i := range survey.Indexes(*a.Value) {
				picked = append(picked, strconv.Itoa(i))
			}
			values[a.Question] = strings.Join(picked, ",")
		case a.Value != nil:
			values[a.Question] = strconv.Itoa(*a.Value)
		default:
			values[a.Question] = a.Text
		}
	}
	return values
}

// storeAnswers are read answers as the store keeps them.
func storeAnswers(answers []survey.Answer) []store.Answer {
	out := make([]store.Answer, len(answers))
	for i, a := range answers {
		out[i] = store.Answer{Question: a.Question, Value: a.Value, Text: a.Text, NotApplicable: a.NotApplicable}
	}
	return out
}

// loadWave loads the wave a verified link names, answering the person itself when it cannot.
func (s *Server) loadWave(w http.ResponseWriter, r *http.Request, c token.Claims) (store.Wave, bool) {
	wave, err := s.store.GetWave(r.Context(), nameOf(c.CampaignUID), nameOf(c.Wave))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.invalidLink(w, r) // a wave the service does not know looks like any other bad link
		return store.Wave{}, false
	case err != nil:
		s.unavailable(w, r, err)
		return store.Wave{}, false
	}
	return wave, true
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if store.IsBadInput(err) { // behind the gate, the database refused a value: a bad link
		s.invalidLink(w, r)
		return
	}
	s.cfg.Logger.Error("store unavailable", "error", err)
	s.say(w, http.StatusServiceUnavailable, wordsFor(r, nil), "unavailable_title", []string{"unavailable_body"})
}

// view is the survey page in a language of the survey's.
func (s *Server) view(l linkedWave, r *http.Request, lang string) surveyView {
	words := i18n.For(lang)
	def := l.def.In(lang)
	v := surveyView{
		page:       pageIn(words),
		PageTitle:  def.Title,
		Definition: def,
		Values:     map[string]string{},
		Problems:   map[string]string{},
		Closes:     words.Date(l.wave.ClosesAt),
		OptOutPath: "/o/" + pathID(r, "token") + "?lang=" + lang,
		survey:     l.def,
	}
	for _, other := range l.def.Languages() {
		if other != lang {
			v.Others = append(v.Others, langOption{Lang: other, Name: i18n.Name(other), Dir: i18n.Dir(other)})
		}
	}
	return v
}

// langOf is the language a survey page is in: the one the person switched to, else the link's
// (?lang=), else their browser's, else the survey's own.
func langOf(l linkedWave, r *http.Request) string {
	langs := l.def.Languages()
	if r.Method == http.MethodPost { // a form is read on POST only, and the gate bounds it
		if to := formValue(r, switchField); to != "" && slices.Contains(langs, to) {
			return to
		}
	}
	return i18n.Choose(langs, queryValue(r, "lang"), headerValue(r, "Accept-Language"))
}

// switchField is the button that changes the page's language, keeping the answers given.
const switchField = "switch-lang"

// localize words a form's problems in the page's language.
func localize(words *i18n.Words, problems map[string]survey.Problem) map[string]string {
	out := make(map[string]string, len(problems))
	for id, p := range problems {
		out[id] = words.T("p_"+p.ID, "Min", p.Min, "Max", p.Max, "N", p.N)
	}
	return out
}

// Hint words how many choices a multiple choice question takes.
func (v surveyView) Hint(q survey.Question) string {
	switch lo, hi := q.MinSelections, q.MaxSelections; {
	case lo > 0 && hi > 0 && lo == hi:
		return v.Words.T("choose_exactly", "N", lo)
	case lo > 0 && hi > 0:
		return v.Words.T("choose_between", "Min", lo, "Max", hi)
	case hi > 0:
		return v.Words.T("choose_up_to", "Max", hi)
	case lo > 1:
		return v.Words.T("choose_at_least", "Min", lo)
	}
	return v.Words.T("choose_all")
}

// Number is a question's number on the page: the questions shown are numbered 1, 2, 3… in
// order, the hidden ones skipped; a hidden question has none (0). survey.js numbers them again
// as it shows and hides them.
func (v surveyView) Number(id string) int {
	n := 0
	for _, q := range v.Definition.Questions {
		if v.Hidden[q.ID] {
			if q.ID == id {
				return 0
			}
			continue
		}
		n++
		if q.ID == id {
			return n
		}
	}
	return 0
}

// formField reads a posted form's values of a field (several for a multiple choice's boxes).
func formField(r *http.Request) func(field string) []string {
	return func(field string) []string { return postedValues(r, field) }
}

// showFor sets which questions the view shows for its values.
func (s *Server) showFor(v *surveyView, r *http.Request) {
	if !v.survey.Conditional() {
		return
	}
	// The survey's own choices, not the page's translation: conditions compare answers with them.
	asked := s.asked(v.survey, func(field string) []string { return []string{v.Values[strings.TrimPrefix(field, "q.")]} })
	v.Hidden = map[string]bool{}
	var shown []string
	for _, q := range v.Definition.Questions {
		if asked[q.ID] {
			shown = append(shown, q.ID)
		} else {
			v.Hidden[q.ID] = true
		}
	}
	v.Shown = strings.Join(shown, " ")
	v.VisiblePath = "/s/" + pathID(r, "token") + "/visible"
}

func (s *Server) surveyPage(w http.ResponseWriter, r *http.Request) {
	l, ok := s.open(w, r)
	if !ok {
		return
	}
	v := s.view(l, r, langOf(l, r))
	prev, err := s.store.GetResponse(r.Context(), nameOf(l.claims.CampaignUID), nameOf(l.claims.Wave), nameOf(l.claims.Recipient))
	switch {
	case err == nil:
		v.Answered, v.AnsweredOn = true, v.Words.Date(prev.SubmittedAt)
		v.Values = formValues(l.def, prev.Answers) // none for an anonymous survey
		v.Saved = queryValue(r, "saved") == "1"
	case !errors.Is(err, store.ErrNotFound):
		s.unavailable(w, r, err)
		return
	}
	s.showFor(&v, r)
	s.render(w, http.StatusOK, "survey", v)
}

func (s *Server) submitSurvey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := parseForm(r); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.say(w, http.StatusRequestEntityTooLarge, wordsFor(r, nil), "too_long_title", []string{"too_long_body"})
			return
		}
		s.say(w, http.StatusBadRequest, wordsFor(r, nil), "unreadable_title", []string{"unreadable_body"})
		return
	}
	l, ok := s.open(w, r)
	if !ok {
		return
	}
	lang := langOf(l, r)
	answers, asked, complete, problems := l.def.ReadForm(formField(r), false, s.shows)
	revealed := l.def.Conditional() && unseen(asked, formValue(r, shownField))
	switching := formValue(r, switchField) != ""
	if len(problems) > 0 || revealed || switching {
		// Not saved: the page comes back with the answers given, in the language asked for
		// when the person changed it (nothing else is said then).
		v := s.view(l, r, lang)
		for _, q := range l.def.Questions {
			v.Values[q.ID] = strings.Join(postedValues(r, survey.FieldName(q.ID)), ",")
		}
		s.showFor(&v, r)
		if revealed {
			// Without JavaScript the page learns which questions the answers call for only when
			// they are sent: it comes back with them, and nothing is saved yet. Problems are
			// shown for the questions the person saw.
			v.Revealed = !switching
			for id := range problems {
				if !strings.Contains(" "+formValue(r, shownField)+" ", " "+id+" ") {
					delete(problems, id)
				}
			}
		}
		if switching {
			clear(problems)
		}
		if v.Problems = localize(v.Words, problems); len(problems) > 0 {
			s.responses.WithLabelValues("invalid").Inc()
			v.PageTitle = v.Words.T("error_title", "Title", v.PageTitle)
			s.render(w, http.StatusUnprocessableEntity, "survey", v)
			return
		}
		s.render(w, http.StatusOK, "survey", v)
		return
	}
	resp := store.Response{
		CampaignUID: l.claims.CampaignUID, WaveID: l.claims.Wave, RecipientKey: l.claims.Recipient,
		Namespace: l.wave.Namespace, Segment: l.claims.Segment, Channel: l.claims.Channel, Complete: complete, Language: lang,
	}
	resp.Answers = storeAnswers(answers)
	now := s.cfg.Now()
	if err := s.openCases(r.Context(), l.def, &resp, now); err != nil {
		s.unavailable(w, r, err)
		return
	}
	created, err := s.store.SaveResponse(r.Context(), resp, now)
	switch {
	case errors.Is(err, store.ErrWaveClosed):
		s.responses.WithLabelValues("closed").Inc()
		s.closed(w, r, l.wave.ClosesAt)
		return
	case errors.Is(err, store.ErrAnswered):
		s.responses.WithLabelValues("answered").Inc()
		s.say(w, http.StatusConflict, i18n.For(lang), "anon_again_title", []string{"anon_again_body"})
		return
	case err != nil:
		s.unavailable(w, r, err)
		return
	}
	if created {
		s.responses.WithLabelValues("created").Inc()
	} else {
		s.responses.WithLabelValues("updated").Inc()
	}
	// Committed: only now is the submission acknowledged, by sending the person to the page
	// that thanks them (post, redirect, get: a reload does not send the form again).
	http.Redirect(w, r, "/s/"+pathID(r, "token")+"?saved=1&lang="+url.QueryEscape(lang), http.StatusSeeOther)
}

func (s *Server) optOutPage(w http.ResponseWriter, r *http.Request) {
	l, ok := s.optOutLink(w, r)
	if !ok {
		return
	}
	words := optOutWords(l, r)
	s.render(w, http.StatusOK, "message", messageView{
		page:       pageIn(words),
		PageTitle:  words.T("optout_title"),
		Heading:    words.T("optout_title"),
		Paragraphs: []string{words.T("optout_body_1"), words.T("optout_body_2")},
		Action:     words.T("optout_action"),
	})
}

// optOut honours an opt-out. Mail clients' one-click unsubscribe (RFC 8058) posts here too.
func (s *Server) optOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = parseForm(r)
	l, ok := s.optOutLink(w, r)
	if !ok {
		return
	}
	if err := s.store.OptOut(r.Context(), nameOf(l.wave.Namespace), nameOf(l.claims.Recipient), s.cfg.Now()); err != nil {
		s.unavailable(w, r, err)
		return
	}
	s.say(w, http.StatusOK, optOutWords(l, r), "optedout_title", []string{"optedout_body"})
}

// optOutLink verifies a link for opting out: an expired survey link still opts out.
func (s *Server) optOutLink(w http.ResponseWriter, r *http.Request) (linkedWave, bool) {
	c, err := s.verify(r.Context(), pathID(r, "token"), s.cfg.Now())
	if !linkError(err) {
		s.unavailable(w, r, err)
		return linkedWave{}, false
	}
	if (err != nil && !errors.Is(err, token.ErrExpired)) || c.Purpose != token.PurposeSurvey {
		s.invalidLink(w, r)
		return linkedWave{}, false
	}
	wave, ok := s.loadWave(w, r, c)
	if !ok {
		return linkedWave{}, false
	}
	// The survey's languages, for the page to speak the person's as the survey page does. A
	// survey that cannot be read does not stop anyone opting out (optOutWords).
	def, err := s.definition(wave)
	if err != nil {
		s.cfg.Logger.Error("reading a wave's survey for the opt-out page", "error", err)
		def = survey.Definition{}
	}
	return linkedWave{claims: c, wave: wave, def: def}, true
}

// optOutWords are the opt-out pages' words: in the language the survey page would speak to the
// person (the link's, else their browser's, of the survey's languages), or, when the survey
// could not be read, of the operator's.
func optOutWords(l linkedWave, r *http.Request) *i18n.Words {
	if len(l.def.Questions) == 0 {
		return wordsFor(r, nil)
	}
	return i18n.For(langOf(l, r))
}
