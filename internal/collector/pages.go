package collector

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
)

// dateFormat is how dates are shown to respondents, for example "Friday 24 April 2026".
const dateFormat = "Monday 2 January 2006"

type surveyView struct {
	PageTitle  string
	Definition survey.Definition
	Values     map[string]string
	Problems   map[string]string
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

func (s *Server) message(w http.ResponseWriter, status int, heading string, paragraphs ...string) {
	s.render(w, status, "message", messageView{PageTitle: heading, Heading: heading, Paragraphs: paragraphs})
}

// invalidLink is the one answer to every link that fails verification: it does not say why.
func (s *Server) invalidLink(w http.ResponseWriter) {
	s.message(w, http.StatusNotFound, "This link does not work",
		"Please check that you copied the whole link from your message. If it still does not work, the survey may have been withdrawn.")
}

func (s *Server) closed(w http.ResponseWriter, at time.Time) {
	s.message(w, http.StatusGone, "This survey has closed",
		"This survey closed on "+at.Format(dateFormat)+". Thank you for your interest: we can no longer record answers to it.")
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
	c, err := s.verify(r.Context(), r.PathValue("token"), now)
	switch {
	case !linkError(err):
		s.unavailable(w, err)
		return linkedWave{}, false
	case errors.Is(err, token.ErrExpired) && c.Purpose == token.PurposeSurvey:
		s.closed(w, c.Expiry)
		return linkedWave{}, false
	case err != nil || c.Purpose != token.PurposeSurvey:
		s.invalidLink(w)
		return linkedWave{}, false
	}
	wave, ok := s.loadWave(w, r, c)
	if !ok {
		return linkedWave{}, false
	}
	if !now.Before(wave.ClosesAt) {
		s.closed(w, wave.ClosesAt)
		return linkedWave{}, false
	}
	def, err := s.definition(wave)
	if err != nil {
		s.unavailable(w, err)
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
	wave, err := s.cfg.Store.GetWave(r.Context(), c.CampaignUID, c.Wave)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.invalidLink(w) // a wave the service does not know looks like any other bad link
		return store.Wave{}, false
	case err != nil:
		s.unavailable(w, err)
		return store.Wave{}, false
	}
	return wave, true
}

func (s *Server) unavailable(w http.ResponseWriter, err error) {
	s.cfg.Logger.Error("store unavailable", "error", err)
	s.message(w, http.StatusServiceUnavailable, "Sorry, we cannot take answers just now",
		"Nothing you sent has been lost or saved twice. Please try again in a few minutes.")
}

func (s *Server) view(l linkedWave, r *http.Request) surveyView {
	return surveyView{
		PageTitle:  l.def.Title,
		Definition: l.def,
		Values:     map[string]string{},
		Problems:   map[string]string{},
		Closes:     l.wave.ClosesAt.Format(dateFormat),
		OptOutPath: "/o/" + r.PathValue("token"),
	}
}

// formField reads a posted form's values of a field (several for a multiple choice's boxes).
func formField(r *http.Request) func(field string) []string {
	return func(field string) []string { return r.PostForm[field] }
}

// showFor sets which questions the view shows for its values.
func (s *Server) showFor(v *surveyView, r *http.Request) {
	if !v.Definition.Conditional() {
		return
	}
	asked := s.asked(v.Definition, func(field string) []string { return []string{v.Values[strings.TrimPrefix(field, "q.")]} })
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
	v.VisiblePath = "/s/" + r.PathValue("token") + "/visible"
}

func (s *Server) surveyPage(w http.ResponseWriter, r *http.Request) {
	l, ok := s.open(w, r)
	if !ok {
		return
	}
	v := s.view(l, r)
	prev, err := s.cfg.Store.GetResponse(r.Context(), l.claims.CampaignUID, l.claims.Wave, l.claims.Recipient)
	switch {
	case err == nil:
		v.Answered, v.AnsweredOn = true, prev.SubmittedAt.Format(dateFormat)
		v.Values = formValues(l.def, prev.Answers) // none for an anonymous survey
		v.Saved = r.URL.Query().Get("saved") == "1"
	case !errors.Is(err, store.ErrNotFound):
		s.unavailable(w, err)
		return
	}
	s.showFor(&v, r)
	s.render(w, http.StatusOK, "survey", v)
}

func (s *Server) submitSurvey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.message(w, http.StatusRequestEntityTooLarge, "Your answers are too long to send",
				"Please shorten your written answers and send them again.")
			return
		}
		s.message(w, http.StatusBadRequest, "Your answers could not be read",
			"Please go back to the survey page and send your answers again.")
		return
	}
	l, ok := s.open(w, r)
	if !ok {
		return
	}
	answers, asked, complete, problems := l.def.ReadForm(formField(r), false, s.shows)
	revealed := l.def.Conditional() && unseen(asked, r.PostForm.Get(shownField))
	if len(problems) > 0 || revealed {
		v := s.view(l, r)
		for _, q := range l.def.Questions {
			v.Values[q.ID] = strings.Join(r.PostForm[survey.FieldName(q.ID)], ",")
		}
		s.showFor(&v, r)
		if revealed {
			// Without JavaScript the page learns which questions the answers call for only when
			// they are sent: it comes back with them, and nothing is saved yet. Problems are
			// shown for the questions the person saw.
			v.Revealed = true
			for id := range problems {
				if !strings.Contains(" "+r.PostForm.Get(shownField)+" ", " "+id+" ") {
					delete(problems, id)
				}
			}
		}
		if v.Problems = problems; len(problems) > 0 {
			s.responses.WithLabelValues("invalid").Inc()
			v.PageTitle = "Error: " + v.PageTitle
			s.render(w, http.StatusUnprocessableEntity, "survey", v)
			return
		}
		s.render(w, http.StatusOK, "survey", v)
		return
	}
	resp := store.Response{
		CampaignUID: l.claims.CampaignUID, WaveID: l.claims.Wave, RecipientKey: l.claims.Recipient,
		Namespace: l.wave.Namespace, Segment: l.claims.Segment, Channel: l.claims.Channel, Complete: complete,
	}
	resp.Answers = storeAnswers(answers)
	now := s.cfg.Now()
	if err := s.openCases(r.Context(), l.def, &resp, now); err != nil {
		s.unavailable(w, err)
		return
	}
	created, err := s.cfg.Store.SaveResponse(r.Context(), resp, now)
	switch {
	case errors.Is(err, store.ErrWaveClosed):
		s.responses.WithLabelValues("closed").Inc()
		s.closed(w, l.wave.ClosesAt)
		return
	case errors.Is(err, store.ErrAnswered):
		s.responses.WithLabelValues("answered").Inc()
		s.message(w, http.StatusConflict, "You have answered this survey already",
			"This survey is anonymous: nothing links your answers to you, so they cannot be shown or changed. Thank you for taking part.")
		return
	case err != nil:
		s.unavailable(w, err)
		return
	}
	if created {
		s.responses.WithLabelValues("created").Inc()
	} else {
		s.responses.WithLabelValues("updated").Inc()
	}
	// Committed: only now is the submission acknowledged, by sending the person to the page
	// that thanks them (post, redirect, get: a reload does not send the form again).
	http.Redirect(w, r, "/s/"+r.PathValue("token")+"?saved=1", http.StatusSeeOther)
}

func (s *Server) optOutPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.optOutLink(w, r); !ok {
		return
	}
	s.render(w, http.StatusOK, "message", messageView{
		PageTitle: "Stop receiving surveys",
		Heading:   "Stop receiving surveys",
		Paragraphs: []string{
			"If you confirm, we will not send you this survey again, nor any other survey or reminder from this organisation's listening programme.",
			"This does not change anything else about your tenancy or your account.",
		},
		Action: "Stop sending me surveys",
	})
}

// optOut honours an opt-out. Mail clients' one-click unsubscribe (RFC 8058) posts here too.
func (s *Server) optOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = r.ParseForm()
	l, ok := s.optOutLink(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.OptOut(r.Context(), l.wave.Namespace, l.claims.Recipient, s.cfg.Now()); err != nil {
		s.unavailable(w, err)
		return
	}
	s.message(w, http.StatusOK, "You will not receive any more surveys",
		"We have recorded your choice. You will not be sent surveys or reminders from this listening programme again.")
}

// optOutLink verifies a link for opting out: an expired survey link still opts out.
func (s *Server) optOutLink(w http.ResponseWriter, r *http.Request) (linkedWave, bool) {
	c, err := s.verify(r.Context(), r.PathValue("token"), s.cfg.Now())
	if !linkError(err) {
		s.unavailable(w, err)
		return linkedWave{}, false
	}
	if (err != nil && !errors.Is(err, token.ErrExpired)) || c.Purpose != token.PurposeSurvey {
		s.invalidLink(w)
		return linkedWave{}, false
	}
	wave, ok := s.loadWave(w, r, c)
	if !ok {
		return linkedWave{}, false
	}
	return linkedWave{claims: c, wave: wave}, true
}
