package collector

import (
	"errors"
	"io"
	"net/http"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/touchpoint"
)

// postEvents takes a namespace's touch-point events (docs/touchpoints.md): CloudEvents in
// binary, structured or batched mode, read and checked whole by touchpoint.Read, then stored
// in one transaction, each once. The answer is 202 only once every event is stored; a
// delivery repeated changes nothing and is 202 too. A refused event refuses the request,
// naming the event and the attribute or field, and nothing is stored.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	if !permit(w, r, pathID(r, "namespace")) {
		return
	}
	body, err := io.ReadAll(r.Body) // within the gate's bound, touchpoint.MaxBodyBytes
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "the body is larger than the events route takes")
			return
		}
		writeJSONError(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	// The headers (each checked as plain text by the gate) carry a binary-mode event's
	// attributes (ce-*): the CloudEvents reader, fuzzed (FuzzRead), reads them.
	events, err := touchpoint.Read(r.Header, body) //nolint:forbidigo // checked headers, read by the fuzzed CloudEvents reader
	if err != nil {
		var refused *touchpoint.Error
		if errors.As(err, &refused) {
			writeJSONError(w, refused.Status, refused.Error())
			return
		}
		writeJSONError(w, http.StatusBadRequest, "the events cannot be read")
		return
	}
	// An event of a type no campaign of the namespace takes is accepted and dropped: a
	// producer sending every type to one sink must not retry for ever, nor dead-letter the
	// stream, for the types nobody surveys; and what nobody asks about is not kept.
	namespace, now := pathName(r, "namespace"), s.cfg.Now()
	taken, err := s.taken.get(r.Context(), s.store, namespace, now)
	if err != nil {
		s.storeError(w, err)
		return
	}
	rows := make([]store.Event, 0, len(events))
	for _, e := range events {
		if store.Takes(taken, e.Type, e.Source) {
			rows = append(rows, store.Event{Source: e.Source, ID: e.ID, Type: e.Type, Subject: e.Subject, Time: e.Time, Fields: e.Fields})
		}
	}
	ignored := len(events) - len(rows)
	created := 0
	if len(rows) > 0 {
		if created, err = s.store.PutEvents(r.Context(), namespace, rows, now); err != nil {
			s.storeError(w, err)
			return
		}
	}
	if ignored > 0 {
		s.ignored.WithLabelValues(namespace.String()).Add(float64(ignored))
	}
	writeJSON(w, http.StatusAccepted, responseapi.EventsAccepted{Events: len(events), New: created, Ignored: ignored})
}
