package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
)

func optionalDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 48h", field, v)
	}
	return d, nil
}

func (s *Server) putFollowUp(w http.ResponseWriter, r *http.Request) {
	var reg responseapi.FollowUpRegistration
	if !decode(w, r, &reg) {
		return
	}
	rule := store.FollowUpRule{UID: pathID(r, "uid"), Namespace: reg.Namespace, Name: reg.Name, CampaignUID: reg.CampaignUID,
		Trigger: reg.Trigger, When: reg.When, Segments: reg.Segments, TicketKey: reg.TicketKey, Active: reg.Active}
	var errs []error
	var err error
	rule.After, err = optionalDuration("after", reg.After)
	errs = append(errs, err)
	rule.ContactWithin, err = optionalDuration("contactWithin", reg.ContactWithin)
	errs = append(errs, err)
	rule.ResolveWithin, err = optionalDuration("resolveWithin", reg.ResolveWithin)
	errs = append(errs, err)
	switch {
	case rule.Namespace == "" || rule.CampaignUID == "":
		errs = append(errs, errors.New("namespace and campaignUID are required"))
	case rule.Trigger != "Response" && rule.Trigger != "NonResponse":
		errs = append(errs, fmt.Errorf("trigger must be Response or NonResponse, not %q", rule.Trigger))
	case rule.Trigger == "Response" && rule.When != "":
		if _, err := s.trigger(rule); err != nil {
			errs = append(errs, fmt.Errorf("when: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.store.PutFollowUp(r.Context(), rule, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"registered": true})
}

// deleteFollowUp deactivates a rule whose FollowUp was deleted: no new cases; its cases stay
// for the campaign's reports. An unknown rule is already gone.
func (s *Server) deleteFollowUp(w http.ResponseWriter, r *http.Request) {
	rule, err := s.store.GetFollowUp(r.Context(), pathName(r, "uid"))
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	rule.Active = false
	if err := s.store.PutFollowUp(r.Context(), rule, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sweepFollowUp opens the cases of a NonResponse rule that are due, and answers with the stats.
func (s *Server) sweepFollowUp(w http.ResponseWriter, r *http.Request) {
	rule, err := s.store.GetFollowUp(r.Context(), pathName(r, "uid"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	opened, err := s.store.OpenNonResponseCases(r.Context(), rule, s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.writeStats(w, r, rule.UID, opened)
}

func (s *Server) followUpStats(w http.ResponseWriter, r *http.Request) {
	if !s.permitFollowUp(w, r, pathID(r, "uid")) {
		return
	}
	if _, err := s.store.GetFollowUp(r.Context(), pathName(r, "uid")); err != nil {
		s.storeError(w, err)
		return
	}
	s.writeStats(w, r, pathID(r, "uid"), 0)
}

func (s *Server) writeStats(w http.ResponseWriter, r *http.Request, uid string, opened int) {
	st, err := s.store.CaseStats(r.Context(), nameOf(uid), s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	pj := func(p store.Percentiles) responseapi.Percentiles {
		return responseapi.Percentiles{N: p.N, MedianSeconds: p.Median.Seconds(), P90Seconds: p.P90.Seconds()}
	}
	writeJSON(w, http.StatusOK, responseapi.CaseStats{Matched: st.Matched, Contacted: st.Contacted, Resolved: st.Resolved, ToContact: st.ToContact,
		Overdue: st.Overdue, Breaches: st.Breaches, Opened: opened, TimeToContact: pj(st.TimeToContact), TimeToResolve: pj(st.TimeToResolve)})
}

// maxCompiled bounds the compiled expressions of Response rules the server holds.
const maxCompiled = 1024

// trigger compiles (once while it is held) a Response rule's expression.
func (s *Server) trigger(rule store.FollowUpRule) (cel.Program, error) {
	return s.compiled.get(rule.When, func() (cel.Program, error) { return audience.CompileTrigger(rule.When, nil) })
}

// openCases decides which follow-up cases a response opens: the campaign's active Response
// rules whose segments include the response's and whose expression is true for it (none for an
// anonymous survey). A rule that
// cannot be evaluated for this response is logged (without the answers) and opens nothing; the
// response is stored regardless.
func (s *Server) openCases(ctx context.Context, def survey.Definition, resp *store.Response, now time.Time) error {
	if def.Anonymous { // a case would tie the person to their answers (the manager refuses such rules too)
		return nil
	}
	rules, err := s.store.FollowUpRules(ctx, nameOf(resp.CampaignUID))
	if err != nil || len(rules) == 0 {
		return err
	}
	answers := triggerAnswers(def, resp.Answers)
	for _, rule := range rules {
		if rule.Trigger != "Response" || len(rule.Segments) > 0 && !slices.Contains(rule.Segments, resp.Segment) {
			continue
		}
		match := true
		if rule.When != "" {
			prg, err := s.trigger(rule)
			if err == nil {
				match, err = audience.Matches(prg, answers, resp.Segment, resp.Channel)
			}
			if err != nil {
				// The evaluation error is not logged: CEL quotes the values it failed on, which are
				// the respondent's answers (a comment with an address or a phone number).
				s.log.Warn("a follow-up rule could not be evaluated for a response; check its when expression against the questions' kinds",
					"followup", rule.Namespace+"/"+rule.Name)
				s.followUpErrors.Inc()
				continue
			}
		}
		if !match {
			continue
		}
		c := store.Case{CaseKey: store.CaseKey{FollowUpUID: rule.UID}}
		if rule.ContactWithin > 0 {
			c.ContactDue = now.Add(rule.ContactWithin)
		}
		if rule.ResolveWithin > 0 {
			c.ResolveDue = now.Add(rule.ResolveWithin)
		}
		resp.Cases = append(resp.Cases, c)
	}
	return nil
}

// triggerAnswers is response.answers: a number for scale questions, the choice's text for
// Choice, the text for Text; "don't know" and unanswered questions are absent.
func triggerAnswers(def survey.Definition, answers []store.Answer) map[string]any {
	kinds := map[string]survey.Question{}
	for _, q := range def.Questions {
		kinds[q.ID] = q
	}
	out := map[string]any{}
	for _, a := range answers {
		if v, ok := survey.AnswerValue(kinds[a.Question], survey.Answer{Question: a.Question, Value: a.Value, Text: a.Text,
			NotApplicable: a.NotApplicable}); ok {
			out[a.Question] = v
		}
	}
	return out
}

// resolveLink verifies a case link. An expired link is refused: the matter is then for the
// organisation's own channels.
func (s *Server) resolveLink(w http.ResponseWriter, r *http.Request) (store.Case, bool) {
	c, err := s.verify(r.Context(), pathID(r, "token"), s.cfg.Now())
	if !linkError(err) {
		s.unavailable(w, r, err)
		return store.Case{}, false
	}
	if errors.Is(err, token.ErrExpired) && c.Purpose == token.PurposeResolve {
		s.message(w, http.StatusGone, "This link has expired",
			"Thank you for coming back to us. This link no longer works; if the matter is still not sorted, please contact us the usual way.")
		return store.Case{}, false
	}
	key, ok := caseKey(c)
	if err != nil || !ok {
		s.invalidLink(w, r)
		return store.Case{}, false
	}
	cs, err := s.store.GetCase(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		s.invalidLink(w, r)
		return store.Case{}, false
	}
	if err != nil {
		s.unavailable(w, r, err)
		return store.Case{}, false
	}
	return cs, true
}

func (s *Server) resolvePage(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.resolveLink(w, r)
	if !ok {
		return
	}
	if !cs.ResolvedAt.IsZero() {
		s.message(w, http.StatusOK, "This matter is resolved",
			"We recorded on "+i18n.For("en").Date(cs.ResolvedAt)+" that it is sorted. Thank you for letting us know.")
		return
	}
	s.render(w, http.StatusOK, "message", messageView{page: pageIn(i18n.For("en")),
		PageTitle: "Is it sorted?",
		Heading:   "Is it sorted?",
		Paragraphs: []string{
			"We contacted you about what you told us in our survey. If the matter is now sorted, please tell us by pressing the button below.",
			"If it is not sorted yet, you do not need to do anything: we will keep in touch until it is.",
		},
		Action: "Yes, it is sorted",
	})
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = parseForm(r)
	cs, ok := s.resolveLink(w, r)
	if !ok {
		return
	}
	if err := s.store.ResolveCase(r.Context(), cs.CaseKey, gated.Text{}, store.Once{}, s.cfg.Now()); err != nil {
		s.unavailable(w, r, err)
		return
	}
	s.message(w, http.StatusOK, "Thank you", "We have recorded that the matter is sorted. Thank you for telling us.")
}

func (s *Server) caseCallback(w http.ResponseWriter, r *http.Request) {
	body, ok := signedBody(w, r)
	if !ok {
		return
	}
	var in responseapi.CaseCallback
	if err := decodeStrict(body, &in); err != nil || in.CaseID == "" || len(in.TicketRef) > 200 || !survey.PlainText(in.TicketRef) {
		writeJSONError(w, http.StatusBadRequest, "the body must be UTF-8 JSON with caseId and at most a 200-character ticketRef of plain text")
		return
	}
	refuse := func() { writeJSONError(w, http.StatusUnauthorized, "not authenticated") }
	// A helpdesk may close a ticket long after the person's link expired: the case id's own
	// signature and the callback's signature are what count.
	c, err := s.verify(r.Context(), in.CaseID, s.cfg.Now())
	if !linkError(err) {
		s.storeError(w, err)
		return
	}
	key, ok := caseKey(c)
	if (err != nil && !errors.Is(err, token.ErrExpired)) || !ok {
		refuse()
		return
	}
	rule, err := s.store.GetFollowUp(r.Context(), nameOf(key.FollowUpUID))
	if errors.Is(err, store.ErrNotFound) || err == nil && len(rule.TicketKey) == 0 {
		refuse()
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	once, ok := signed(w, r, body, rule.TicketKey, s.cfg.Now())
	if !ok {
		return
	}
	if err := s.store.ResolveCase(r.Context(), key, textOf(in.TicketRef), once, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"resolved": true})
}

func (s *Server) casesToContact(w http.ResponseWriter, r *http.Request) {
	limit, err := strconv.Atoi(queryValue(r, "limit"))
	if err != nil || limit <= 0 || limit > responseapi.MaxBatch {
		limit = responseapi.MaxBatch
	}
	if !s.permitFollowUp(w, r, pathID(r, "uid")) {
		return
	}
	cases, err := s.store.CasesToContact(r.Context(), pathName(r, "uid"), limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := responseapi.Cases{Cases: []responseapi.Case{}}
	for _, c := range cases {
		cj := responseapi.Case{CampaignUID: c.CampaignUID, WaveID: c.WaveID, RecipientKey: c.RecipientKey, Segment: c.Segment, Channel: c.Channel}
		if !c.ContactDue.IsZero() {
			due := c.ContactDue
			cj.ContactDue = &due
		}
		out.Cases = append(out.Cases, cj)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) casesContacted(w http.ResponseWriter, r *http.Request) {
	var in responseapi.Cases
	if !decode(w, r, &in) {
		return
	}
	if len(in.Cases) > responseapi.MaxBatch {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("at most %d cases", responseapi.MaxBatch))
		return
	}
	keys := make([]store.CaseKey, len(in.Cases))
	for i, c := range in.Cases {
		keys[i] = store.CaseKey{FollowUpUID: pathID(r, "uid"), CampaignUID: c.CampaignUID, WaveID: c.WaveID, RecipientKey: c.RecipientKey}
	}
	if !s.permitFollowUp(w, r, pathID(r, "uid")) {
		return
	}
	if err := s.store.MarkContacted(r.Context(), keys, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"contacted": len(keys)})
}

// caseKey is the store's key of the case a case link names.
func caseKey(c token.Claims) (store.CaseKey, bool) {
	k, ok := token.CaseOf(c)
	return store.CaseKey(k), ok
}
