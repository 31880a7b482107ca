package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

// The touch-point campaigns' routes (docs/touchpoints.md): the manager registers which events
// a campaign takes; the events route then keeps only those some campaign of the namespace
// takes; the manager and the campaign's sending Jobs ask what is due, and the Jobs record what
// they decided about each event with the invitations it made.

// maxEventTypes bounds the event types one campaign takes (the CRD allows 16).
const maxEventTypes = 16

// takenTTL is how long the event types a namespace's campaigns take are remembered by the
// events route. A registration through this replica is seen at once; one through another
// replica (PostgreSQL), within this.
const takenTTL = 5 * time.Second

// takenTypes remembers, for takenTTL, the event types each namespace's campaigns take.
type takenTypes struct {
	mu sync.Mutex
	m  map[string]takenEntry
}

type takenEntry struct {
	types []store.EventType
	until time.Time
}

func (c *takenTypes) get(ctx context.Context, st gated.Store, namespace gated.Name, now time.Time) ([]store.EventType, error) {
	c.mu.Lock()
	e, ok := c.m[namespace.String()]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.types, nil
	}
	types, err := st.TakenTypes(ctx, namespace)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 10_000 {
		c.m = map[string]takenEntry{}
	}
	c.m[namespace.String()] = takenEntry{types: types, until: now.Add(takenTTL)}
	return types, nil
}

func (c *takenTypes) forget(namespace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, namespace)
}

func newIgnoredEvents() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "survey_collector_events_ignored_total",
		Help: "Touch-point events accepted (202) but not stored, because no touch-point campaign of their namespace takes their type and source, by namespace. A count that grows where events were expected is a type misspelt in a campaign or in the producer.",
	}, []string{"namespace"})
}

// putTouchPoints registers which events a campaign takes (none: it takes no more).
func (s *Server) putTouchPoints(w http.ResponseWriter, r *http.Request) {
	var reg responseapi.TouchPointsRegistration
	if !decode(w, r, &reg) {
		return
	}
	var errs []error
	namespace, err := gated.ParseName(reg.Namespace)
	if err != nil {
		errs = append(errs, errors.New("namespace is required, at most 253 bytes"))
	}
	campaign, err := gated.ParseName(reg.Campaign)
	if err != nil {
		errs = append(errs, errors.New("campaign is required, at most 253 bytes"))
	}
	if len(reg.Events) > maxEventTypes {
		errs = append(errs, fmt.Errorf("events holds at most %d types", maxEventTypes))
	}
	tp := store.TouchPoints{CampaignUID: pathID(r, "campaign"), Namespace: namespace.String(), Campaign: campaign.String()}
	for i, e := range reg.Events {
		if _, err := gated.ParseName(e.Type); err != nil {
			errs = append(errs, fmt.Errorf("events[%d].type is required, at most 253 bytes", i))
		}
		if e.Source != "" && !ledgerText(e.Source) {
			errs = append(errs, fmt.Errorf("events[%d].source is at most 253 bytes", i))
		}
		tp.Types = append(tp.Types, store.EventType{Type: e.Type, Source: e.Source})
	}
	delay, err := time.ParseDuration(reg.Delay)
	if err != nil || delay < 0 {
		errs = append(errs, errors.New("delay is a Go duration of at least 0"))
	}
	maxAge, err := time.ParseDuration(reg.MaxAge)
	if err != nil || maxAge <= 0 {
		errs = append(errs, errors.New("maxAge is a Go duration above 0"))
	}
	tp.Delay, tp.MaxAge = delay, maxAge
	if err := errors.Join(errs...); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.store.PutTouchPoints(r.Context(), tp, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	s.taken.forget(tp.Namespace)
	writeJSON(w, http.StatusOK, map[string]bool{"registered": true})
}

// dueTouchPoints says how many of a campaign's events are due, and when the next falls due.
func (s *Server) dueTouchPoints(w http.ResponseWriter, r *http.Request) {
	if !permit(w, r, pathID(r, "namespace")) {
		return
	}
	due, err := s.store.DueTouchPoints(r.Context(), pathName(r, "namespace"), pathName(r, "campaign"), s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := responseapi.TouchPointsDue{Due: due.Due}
	if !due.First.IsZero() {
		out.First = &due.First
	}
	if !due.Next.IsZero() {
		out.Next = &due.Next
	}
	writeJSON(w, http.StatusOK, out)
}

// dueEvents lists a campaign's due, undecided events, the earliest due first.
func (s *Server) dueEvents(w http.ResponseWriter, r *http.Request) {
	if !permit(w, r, pathID(r, "namespace")) {
		return
	}
	events, err := s.store.DueEvents(r.Context(), pathName(r, "namespace"), pathName(r, "campaign"), s.cfg.Now(), responseapi.MaxDueEvents)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := responseapi.DueEvents{Events: make([]responseapi.DueEvent, len(events))}
	for i, e := range events {
		out.Events[i] = responseapi.DueEvent{Source: e.Source, ID: e.ID, Type: e.Type, Subject: e.Subject,
			ReceivedAt: e.ReceivedAt, Due: e.Due, TooOld: e.TooOld, Fields: e.Fields, WaveID: e.WaveID, RecipientKey: e.RecipientKey, Segment: e.Segment}
		if !e.Time.IsZero() {
			at := e.Time
			out.Events[i].Time = &at
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// decide records a Job's decisions about a campaign's events with the invitations they made,
// in one transaction, and answers with the invitations as stored (as reserve does).
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	if !permit(w, r, pathID(r, "namespace")) {
		return
	}
	var req responseapi.DecideRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Decisions) == 0 || len(req.Decisions) > responseapi.MaxDueEvents || len(req.Invitations) > len(req.Decisions) {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("decisions must hold 1 to %d rows, and invitations no more than decisions", responseapi.MaxDueEvents))
		return
	}
	decisions := make([]store.Decision, len(req.Decisions))
	for i, d := range req.Decisions {
		if !ledgerText(d.Source, d.ID) {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("decisions[%d]: source and id are text of 1 to 253 bytes", i))
			return
		}
		invited := d.Outcome == responseapi.OutcomeInvited
		switch {
		case !slices.Contains(store.EventOutcomes(), store.EventOutcome(d.Outcome)):
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("decisions[%d].outcome is not an outcome", i))
			return
		case invited != (d.WaveID != "") || invited != (d.RecipientKey != ""):
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("decisions[%d]: waveID and recipientKey are given for an invited event, and only for one", i))
			return
		}
		decisions[i] = store.Decision{Source: d.Source, ID: d.ID, Outcome: store.EventOutcome(d.Outcome), Due: d.Due,
			WaveID: d.WaveID, RecipientKey: d.RecipientKey, Segment: d.Segment, Attributes: d.Attributes}
	}
	invs, ok := ledgerInvitations(w, req.Invitations)
	if !ok {
		return
	}
	stored, err := s.store.Decide(r.Context(), pathName(r, "namespace"), pathName(r, "campaign"), decisions, invs, s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseapi.ReserveRequest{Invitations: ledgerRows(stored)})
}

// eventPeople gives a follow-up sender the data of the latest event that invited each person:
// where a touch-point campaign's people are reached, as a list campaign's are in their list.
// The body's namespace must be the path's.
func (s *Server) eventPeople(w http.ResponseWriter, r *http.Request) {
	req, ok := s.keysQuery(w, r, false)
	if !ok {
		return
	}
	if req.Namespace != pathID(r, "namespace") {
		writeJSONError(w, http.StatusBadRequest, "namespace must be the path's")
		return
	}
	people, err := s.store.EventPeople(r.Context(), req.namespace, pathName(r, "campaign"), req.keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseapi.EventPeople{People: people})
}

// wavePeople gives a reminder round the people a campaign's events invited in a wave, a page
// at a time, with the data that reaches them.
func (s *Server) wavePeople(w http.ResponseWriter, r *http.Request) {
	if !permit(w, r, pathID(r, "namespace")) {
		return
	}
	raw := r.URL.Query().Get("after") //nolint:forbidigo // refused unless queryValue takes it whole
	after, err := gated.ParseText(queryValue(r, "after"))
	if err != nil || after.String() != raw {
		writeJSONError(w, http.StatusBadRequest, "after must be a key: plain text")
		return
	}
	people, err := s.store.WavePeople(r.Context(), pathName(r, "namespace"), pathName(r, "campaign"), pathName(r, "wave"), after, responseapi.MaxWavePeople)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseapi.EventPeople{People: people})
}
