// Package collector is the response service: it serves the survey page and the opt-out page to
// respondents, the ledger API to senders and the wave API to the manager. It is the only owner of
// the store. A response is acknowledged only after its transaction has committed.
//
// Nothing personal is logged or measured: logs and metrics name routes (patterns such as
// "GET /s/{token}"), never tokens, recipient keys or answers.
package collector

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
	"github.com/surveyops/survey-operator/internal/touchpoint"
)

//go:embed web
var web embed.FS

// maxFormBytes bounds a survey form: 50 questions of up to 4,000 characters fit. The API's
// bodies are bounded by responseapi.MaxBodyBytes.
const maxFormBytes = 64 << 10

// Config is what the server needs.
type Config struct {
	Store store.Store
	// Keys returns the current token key ring (it may be reloaded as the Secret rotates).
	Keys func() *token.KeyRing
	// APIToken is the bearer token of the ledger and wave APIs; APITokens, when set, returns
	// the tokens accepted instead (each line of the token file, reloaded as it rotates).
	APIToken  []byte
	APITokens func() [][]byte
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Registry receives the metrics; a new one when nil.
	Registry *prometheus.Registry
	// Ready reports whether the service can take traffic; the store's Ping when nil.
	Ready func(r *http.Request) error
	// PublicOrigin is the origin respondents use (scheme://host), trusted for form posts when a
	// proxy in front rewrites the Host header. Optional.
	PublicOrigin string
}

// Server serves the response service's HTTP endpoints.
type Server struct {
	cfg Config
	// store is the store behind the gate: the handlers call it only so (cfg.Store is nil once
	// New has made it; the lint rule request-input-through-the-gate forbids store.Store's
	// methods here).
	store     gated.Store
	pages     map[string]*template.Template
	responses *prometheus.CounterVec
	// deliveries counts gateways' delivery receipts by event.
	deliveries *prometheus.CounterVec
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	// followUpErrors counts follow-up rules that could not be evaluated for a response.
	followUpErrors prometheus.Counter
	// expired counts the rows retention deleted (retention.go).
	expired *prometheus.CounterVec
	// ignored counts the events no campaign takes, and taken remembers which they take
	// (touchpoints.go).
	ignored  *prometheus.CounterVec
	taken    takenTypes
	compiled memo[string, cel.Program]
	// conditions are the compiled showIf expressions of the waves' questions (conditions.go).
	conditions memo[string, cel.Program]
	namespaces memo[string, string]
	// definitions are the waves' parsed survey definitions (a wave's snapshot never changes).
	definitions memo[store.WaveRef, survey.Definition]
	log         *slog.Logger
}

// New makes a server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("collector: a store and a key ring are required")
	}
	if cfg.APITokens == nil {
		if len(cfg.APIToken) < apitoken.MinBytes {
			return nil, errors.New("collector: the API token must have at least 16 bytes")
		}
		tokens := [][]byte{cfg.APIToken}
		cfg.APITokens = func() [][]byte { return tokens }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	gatedStore := gated.NewStore(cfg.Store)
	cfg.Store = nil
	if cfg.Ready == nil {
		cfg.Ready = func(r *http.Request) error { return gatedStore.Ping(r.Context()) }
	}
	s := &Server{cfg: cfg, store: gatedStore, pages: map[string]*template.Template{}, log: cfg.Logger}
	s.compiled.max, s.namespaces.max, s.definitions.max, s.conditions.max = maxCompiled, maxNamespaces, maxDefinitions, maxCompiled
	funcs := template.FuncMap{
		"inc":      func(i int) int { return i + 1 },
		"optionID": optionID,
		"fieldID": func(_ survey.Definition, q survey.Question) string {
			if q.IsScale() || len(q.Choices) > 0 {
				return optionID(q.ID, 0)
			}
			return "q-" + q.ID
		},
		// picked: whether a multiple choice's value (indexes separated by commas) ticks choice j.
		"picked": func(value string, j int) bool { return slices.Contains(strings.Split(value, ","), strconv.Itoa(j)) },
	}
	for _, page := range []string{"survey", "message"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(web, "web/layout.html", "web/"+page+".html")
		if err != nil {
			return nil, err
		}
		s.pages[page] = t
	}
	s.responses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "survey_collector_responses_total",
		Help: "Survey submissions by result: created, updated, invalid (re-shown with problems), closed (refused after the window), answered (a second answer to an anonymous survey, refused), opted-out (a gateway's stop word).",
	}, []string{"result"})
	s.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "survey_collector_delivery_events_total",
		Help: "Gateways' delivery receipts by event: delivered, deferred (tried again by the next reminder), bounced (the invitation counts as not delivered).",
	}, []string{"event"})
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "survey_collector_http_requests_total",
		Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "survey_collector_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	s.followUpErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "survey_collector_followup_rule_errors_total",
		Help: "Follow-up rules that could not be evaluated for a response (the response is stored; no case is opened).",
	})
	s.expired = newRetentionMetrics()
	s.ignored = newIgnoredEvents()
	for _, c := range []prometheus.Collector{s.responses, s.deliveries, s.requests, s.latency, s.followUpErrors, s.expired, s.ignored} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func optionID(question string, i int) string { return "q-" + question + "-" + strconv.Itoa(i) }

// MetricsHandler serves GET /metrics, for a port of its own: the public Handler, which
// respondents reach from the internet, does not serve them.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	return mux
}

// Handler is the service's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	csrf := http.NewCrossOriginProtection()
	if s.cfg.PublicOrigin != "" {
		_ = csrf.AddTrustedOrigin(s.cfg.PublicOrigin)
	}
	// Every route is registered through the gate (gate.go), with the most it reads from a body.
	gated := func(pattern string, body int64, h http.Handler) {
		mux.Handle(pattern, s.observe(pattern, s.gated(newGateRoute(pattern, body), h)))
	}
	page := func(pattern string, h http.HandlerFunc) {
		body := int64(0)
		if strings.HasPrefix(pattern, "POST ") {
			body = maxFormBytes
		}
		gated(pattern, body, securePage(csrf.Handler(h)))
	}

	page("GET /s/{token}", s.surveyPage)
	page("POST /s/{token}", s.submitSurvey)
	page("POST /s/{token}/visible", s.visible)
	page("GET /o/{token}", s.optOutPage)
	page("POST /o/{token}", s.optOut)
	page("GET /f/{token}", s.resolvePage)
	page("POST /f/{token}", s.resolve)

	// The API: the manager and the senders show a bearer token; gateways and helpdesks sign
	// their bodies with a key they were given, which each handler checks.
	for _, rh := range []struct {
		route responseapi.Route
		h     http.HandlerFunc
	}{
		{responseapi.RoutePutWave, s.putWave},
		{responseapi.RouteSummary, s.summary},
		{responseapi.RouteExport, s.export},
		{responseapi.RouteFrame, s.putFrame},
		{responseapi.RouteReserve, s.reserve},
		{responseapi.RouteMark, s.mark},
		{responseapi.RouteMarks, s.marks},
		{responseapi.RouteContacted, s.contacted},
		{responseapi.RouteUnanswered, s.unanswered},
		{responseapi.RouteOptedOut, s.optedOut},
		{responseapi.RouteSuppressed, s.suppressed},
		{responseapi.RoutePutRetention, s.putRetention},
		{responseapi.RouteErase, s.erase},
		{responseapi.RouteEvents, s.postEvents},
		{responseapi.RoutePutTouchPoints, s.putTouchPoints},
		{responseapi.RouteDueTouchPoints, s.dueTouchPoints},
		{responseapi.RouteDueEvents, s.dueEvents},
		{responseapi.RouteDecide, s.decide},
		{responseapi.RouteEventPeople, s.eventPeople},
		{responseapi.RouteWavePeople, s.wavePeople},
		{responseapi.RoutePutFollowUp, s.putFollowUp},
		{responseapi.RouteDeleteFollowUp, s.deleteFollowUp},
		{responseapi.RouteSweepFollowUp, s.sweepFollowUp},
		{responseapi.RouteFollowUpStats, s.followUpStats},
		{responseapi.RouteCases, s.casesToContact},
		{responseapi.RouteCasesContacted, s.casesContacted},
		{responseapi.RouteInbound, s.inbound},
		{responseapi.RouteCaseCallback, s.caseCallback},
		{responseapi.RouteDelivery, s.delivery},
		{responseapi.RouteMailReport, s.mailReport},
	} {
		route, h := rh.route, rh.h
		var handler http.Handler = h
		if route.Auth == responseapi.Bearer {
			handler = s.authorize(route, handler)
		}
		gated(route.Pattern(), apiBody(route), handler)
	}

	static, _ := fs.Sub(web, "web")
	for _, f := range []string{"survey.css", "survey.js"} {
		pattern := "GET /static/" + f
		gated(pattern, 0, cacheFor(time.Hour, http.StripPrefix("/static/", http.FileServerFS(static))))
	}
	gated("GET /healthz", 0, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	gated("GET /readyz", 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.cfg.Ready(r); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	mux.Handle("/", s.observe("other", s.gated(newGateRoute("/", 0), securePage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.message(w, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})))))
	return mux
}

// apiBody is the most an API route reads from a body: nothing on GET and DELETE, a form's
// worth for the signed routes of gateways and helpdesks, a mail report's for mail reports,
// and responseapi.MaxBodyBytes (batches of the ledger) for the rest.
func apiBody(route responseapi.Route) int64 {
	switch {
	case route.Method == http.MethodGet || route.Method == http.MethodDelete:
		return 0
	case route.Pattern() == responseapi.RouteMailReport.Pattern():
		return maxReportBytes
	case route.Pattern() == responseapi.RouteEvents.Pattern():
		return touchpoint.MaxBodyBytes
	case route.Auth == responseapi.Signed:
		return maxFormBytes
	}
	return responseapi.MaxBodyBytes
}

// statusRecorder remembers the status code for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to flush, to move deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) observe(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if rec.code >= 500 {
			s.cfg.Logger.Error("request failed", "route", route, "status", rec.code)
		}
	})
}

// securePage sets the headers of every page shown to respondents: no third-party anything, no
// referrer leaking the personal link, no caching of personal pages, no framing.
func securePage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		h.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
