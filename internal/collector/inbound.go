package collector

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/surveyops/survey-operator/internal/dsn"
	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

type problemsJSON struct {
	Error    string            `json:"error"`
	Problems map[string]string `json:"problems"`
}

// inbound takes answers from a gateway. They merge with what the person already answered (an
// SMS conversation answers one question per message), so a partial response grows.
func (s *Server) inbound(w http.ResponseWriter, r *http.Request) {
	body, ok := signedBody(w, r)
	if !ok {
		return
	}
	var in responseapi.InboundResponse
	if err := decodeStrict(body, &in); err != nil || in.Token == "" || in.Channel == "" {
		writeJSONError(w, http.StatusBadRequest, "the body must be JSON with token, channel and answers")
		return
	}
	now := s.cfg.Now()
	g, ok := s.gateway(w, r, body, in.Token, in.Channel, now)
	if !ok {
		return
	}
	c, once, expired, wave := g.claims, g.once, g.expired, g.wave
	// "STOP": the person wants no more surveys, whether or not the wave is still open.
	if stopWord(in.Reply) {
		if err := s.store.OptOut(r.Context(), nameOf(wave.Namespace), nameOf(c.Recipient), now); err != nil {
			s.storeError(w, err)
			return
		}
		s.responses.WithLabelValues("opted-out").Inc()
		writeJSON(w, http.StatusOK, responseapi.InboundResult{OptedOut: true})
		return
	}
	if expired || !now.Before(wave.ClosesAt) {
		writeJSONError(w, http.StatusGone, "the wave closed at "+wave.ClosesAt.Format("2006-01-02T15:04:05Z07:00"))
		return
	}
	def, err := s.definition(wave)
	if err != nil {
		s.storeError(w, err)
		return
	}
	// Merge with the answers already given, then read the whole as a form would be.
	merged := map[string]string{}
	prev, err := s.store.GetResponse(r.Context(), nameOf(c.CampaignUID), nameOf(c.Wave), nameOf(c.Recipient))
	switch {
	case err == nil:
		merged = formValues(def, prev.Answers)
	case !errors.Is(err, store.ErrNotFound):
		s.storeError(w, err)
		return
	}
	known := map[string]bool{}
	for _, q := range def.Questions {
		known[q.ID] = true
	}
	problems := map[string]string{}
	for q, v := range in.Answers {
		if !known[q] {
			problems[q] = "there is no such question in this survey"
			continue
		}
		merged[q] = v
	}
	// A question the answers do not call for (its showIf) is not asked: its answer is dropped.
	answers, _, complete, formProblems := def.ReadForm(func(f string) []string {
		return []string{merged[f[len("q."):]]}
	}, true, s.shows)
	for q, p := range formProblems {
		problems[q] = p.String()
	}
	if len(problems) > 0 {
		s.responses.WithLabelValues("invalid").Inc()
		writeJSON(w, http.StatusUnprocessableEntity, problemsJSON{Error: "some answers cannot be recorded", Problems: problems})
		return
	}
	resp := store.Response{CampaignUID: c.CampaignUID, WaveID: c.Wave, RecipientKey: c.Recipient, Namespace: wave.Namespace,
		Segment: c.Segment, Channel: in.Channel, Complete: complete, Once: once}
	resp.Answers = storeAnswers(answers)
	if err := s.openCases(r.Context(), def, &resp, now); err != nil {
		s.storeError(w, err)
		return
	}
	created, err := s.store.SaveResponse(r.Context(), resp, now)
	switch {
	case errors.Is(err, store.ErrWaveClosed):
		writeJSONError(w, http.StatusGone, "the wave has closed")
		return
	case err != nil:
		s.storeError(w, err)
		return
	}
	if created {
		s.responses.WithLabelValues("created").Inc()
	} else {
		s.responses.WithLabelValues("updated").Inc()
	}
	writeJSON(w, http.StatusOK, responseapi.InboundResult{Saved: true, Complete: complete})
}

// gatewayRequest is an authenticated request of a channel gateway about one link.
type gatewayRequest struct {
	claims  token.Claims
	once    store.Once
	expired bool
	wave    store.Wave
}

// gateway authenticates a gateway's request about a link: the link is authentic (expired or
// not), it was sent through the channel the gateway names (an email's link posted by the SMS
// gateway would be counted under SMS), and the body is signed with that channel's key. Every
// authentication failure looks the same from outside.
func (s *Server) gateway(w http.ResponseWriter, r *http.Request, body []byte, link, channel string, now time.Time) (gatewayRequest, bool) {
	refuse := func() { writeJSONError(w, http.StatusUnauthorized, "not authenticated") }
	c, err := s.verify(r.Context(), link, now)
	if !linkError(err) {
		s.storeError(w, err)
		return gatewayRequest{}, false
	}
	expired := errors.Is(err, token.ErrExpired)
	if (err != nil && !expired) || c.Purpose != token.PurposeSurvey || c.Channel != channel {
		refuse()
		return gatewayRequest{}, false
	}
	key, err := s.store.ChannelKey(r.Context(), nameOf(c.CampaignUID), nameOf(c.Wave), nameOf(channel))
	if errors.Is(err, store.ErrNotFound) {
		refuse()
		return gatewayRequest{}, false
	}
	if err != nil {
		s.storeError(w, err)
		return gatewayRequest{}, false
	}
	once, ok := signed(w, r, body, key, now)
	if !ok {
		return gatewayRequest{}, false
	}
	wave, err := s.store.GetWave(r.Context(), nameOf(c.CampaignUID), nameOf(c.Wave))
	if err != nil {
		s.storeError(w, err)
		return gatewayRequest{}, false
	}
	return gatewayRequest{claims: c, once: once, expired: expired, wave: wave}, true
}

// stopWords are the replies that ask for no more messages: the keywords carriers and
// regulators recognise for SMS, and their equivalents in the languages the operator ships
// (the catalogues' stop_words: "STOPIO" in Welsh, "إلغاء الاشتراك" in Arabic).
var stopWords = i18n.StopWords()

// stopWord reports whether a reply is a stop word (in any case, alone in the message).
func stopWord(reply string) bool {
	return slices.Contains(stopWords, strings.ToUpper(strings.TrimSpace(reply)))
}

// delivery records a gateway's delivery receipt: a permanent failure marks the invitation
// bounced (not delivered, and not reminded); a temporary one leaves it possibly delivered, so
// the next reminder tries again; both, and deliveries, are counted.
func (s *Server) delivery(w http.ResponseWriter, r *http.Request) {
	body, ok := signedBody(w, r)
	if !ok {
		return
	}
	var in responseapi.DeliveryEvent
	if err := decodeStrict(body, &in); err != nil || in.Token == "" || in.Channel == "" ||
		(in.Event != "delivered" && in.Event != "deferred" && in.Event != "bounced") {
		writeJSONError(w, http.StatusBadRequest, "the body must be JSON with token, channel and event: delivered, deferred or bounced")
		return
	}
	now := s.cfg.Now()
	g, ok := s.gateway(w, r, body, in.Token, in.Channel, now)
	if !ok {
		return
	}
	// Every signed request's signature is remembered, a receipt's too: within its time it is
	// refused on every signed route, whatever it was first used for.
	if err := s.store.RecordSigned(r.Context(), g.once, now); err != nil {
		s.storeError(w, err)
		return
	}
	if in.Event == "bounced" {
		key := store.InvitationKey{CampaignUID: g.claims.CampaignUID, WaveID: g.claims.Wave, RecipientKey: g.claims.Recipient}
		if err := s.store.Mark(r.Context(), key, store.StateBounced, textOf("bounced"), now); err != nil {
			s.storeError(w, err)
			return
		}
	}
	s.deliveries.WithLabelValues(in.Event).Inc()
	writeJSON(w, http.StatusOK, map[string]string{"recorded": in.Event})
}

// maxReportBytes bounds a delivery status notification.
const maxReportBytes = 2 << 20

// mailReport records a mail server's delivery status notification about an invitation: the
// link token in the returned message's headers names it, and the caller's credential must be
// for its namespace. A permanent failure marks the invitation bounced; a delay or a delivery
// is counted.
func (s *Server) mailReport(w http.ResponseWriter, r *http.Request) {
	rep, err := dsn.Parse(http.MaxBytesReader(w, r.Body, maxReportBytes))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "the body must be a delivery status notification as the mail server sent it: "+err.Error())
		return
	}
	if rep.Token == "" {
		writeJSONError(w, http.StatusUnprocessableEntity, "the notification does not return the message's headers: its invitation cannot be found")
		return
	}
	// What the mail server wrote goes through the gate like any other value: the status is
	// an enhanced status code (RFC 3463), or the report is refused.
	if rep.Status != "" && !enhancedStatus.MatchString(rep.Status) {
		writeJSONError(w, http.StatusBadRequest, "the notification's Status is not an enhanced status code (such as 5.1.1)")
		return
	}
	now := s.cfg.Now()
	c, err := s.verify(r.Context(), rep.Token, now)
	if !linkError(err) {
		s.storeError(w, err)
		return
	}
	if (err != nil && !errors.Is(err, token.ErrExpired)) || c.Purpose != token.PurposeSurvey {
		writeJSONError(w, http.StatusUnprocessableEntity, "the notification is about a message this service did not send")
		return
	}
	if !s.permitWaves(w, r, store.WaveRef{CampaignUID: c.CampaignUID, WaveID: c.Wave}) {
		return
	}
	if rep.Outcome == dsn.Bounced {
		key := store.InvitationKey{CampaignUID: c.CampaignUID, WaveID: c.Wave, RecipientKey: c.Recipient}
		if err := s.store.Mark(r.Context(), key, store.StateBounced, textOf("dsn-"+rep.Status), now); err != nil {
			s.storeError(w, err)
			return
		}
	}
	s.deliveries.WithLabelValues(string(rep.Outcome)).Inc()
	writeJSON(w, http.StatusOK, map[string]string{"recorded": string(rep.Outcome), "status": rep.Status})
}

// signedBody reads the body of a signed request (it is what the signature covers), refusing
// one longer than a form may be.
func signedBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "the body is too large")
		return nil, false
	}
	return body, true
}

// signed checks a signed request (responseapi.VerifySignedRoute: scheme v2, bound to the route, or v1 until its removal) and answers a refusal: every bad
// signature looks the same from outside, and a stale timestamp is named only to whoever holds
// the key. It returns the signature, which the write remembers so that a replay is refused.
func signed(w http.ResponseWriter, r *http.Request, body, key []byte, now time.Time) (store.Once, bool) {
	// The signature's headers, each of which the gate has checked as plain text, are read by
	// the signature's own parser (fuzzed: FuzzVerifySigned).
	signature, until, err := responseapi.VerifySignedRoute(r.Header, key, r.Method, r.URL.Path, body, now) //nolint:forbidigo // checked headers, read by the signature's fuzzed parser
	switch {
	case errors.Is(err, responseapi.ErrStale):
		writeJSONError(w, http.StatusUnauthorized, "not authenticated: the request was signed more than 5 minutes from the service's clock")
		return store.Once{}, false
	case err != nil:
		writeJSONError(w, http.StatusUnauthorized, "not authenticated")
		return store.Once{}, false
	}
	return store.Once{Signature: signature, Until: until}, true
}

// enhancedStatus is an enhanced mail system status code (RFC 3463): class.subject.detail.
var enhancedStatus = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
