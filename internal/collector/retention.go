package collector

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

// putRetention registers a campaign's retention (spec.retention), as the manager sends it.
func (s *Server) putRetention(w http.ResponseWriter, r *http.Request) {
	var reg responseapi.RetentionRegistration
	if !decode(w, r, &reg) {
		return
	}
	ret := store.Retention{Namespace: reg.Namespace}
	var errs []error
	var err error
	ret.Responses, err = optionalDuration("responses", reg.Responses)
	errs = append(errs, err)
	ret.Invitations, err = optionalDuration("invitations", reg.Invitations)
	errs = append(errs, err)
	switch reg.Keep {
	case "", responseapi.KeepAggregates:
	case responseapi.KeepNothing:
		ret.DropAggregates = true
	default:
		errs = append(errs, errors.New(`keep must be "Aggregates" or "Nothing"`))
	}
	if reg.Namespace == "" {
		errs = append(errs, errors.New("namespace is required"))
	}
	if err := errors.Join(errs...); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.store.PutRetention(r.Context(), pathName(r, "campaign"), ret, s.cfg.Now()); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"registered": true})
}

// retentionMetrics count what expiry deleted, by kind of row.
func newRetentionMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "survey_collector_expired_rows_total",
		Help: "Rows deleted because their campaign's retention (spec.retention) ran out, by data: responses, answers, cases, invitations; and touch-point events past their 30 days (events).",
	}, []string{"data"})
}

// Expire deletes, now (the server's clock), what has outlived its campaign's retention, and
// counts it in the metrics.
func (s *Server) Expire(ctx context.Context) (store.Expired, error) {
	got, err := s.store.Expire(ctx, s.cfg.Now())
	s.expired.WithLabelValues("responses").Add(float64(got.Responses))
	s.expired.WithLabelValues("answers").Add(float64(got.Answers))
	s.expired.WithLabelValues("cases").Add(float64(got.Cases))
	s.expired.WithLabelValues("invitations").Add(float64(got.Invitations))
	s.expired.WithLabelValues("events").Add(float64(got.Events))
	if got.Waves > 0 || got.Events > 0 {
		s.log.Info("expired data past its retention", "waves", got.Waves, "responses", got.Responses, "answers", got.Answers,
			"cases", got.Cases, "invitations", got.Invitations, "events", got.Events)
	}
	return got, err
}

// RunExpiry calls Expire at once and then every interval until ctx ends. Replicas sharing a
// PostgreSQL database may run it together: a row deleted twice is deleted once.
func (s *Server) RunExpiry(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expiring data past its retention (tried again at the next tick)", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
