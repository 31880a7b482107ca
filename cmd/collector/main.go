// Command collector is the response service: the survey and opt-out pages for respondents, the
// ledger API for senders and the wave API for the manager. It owns the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // the time zone database in the binary: the image has none

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	storeURL := flag.String("store", env("SURVEY_STORE", "sqlite:///var/lib/survey/survey.db"),
		"the store: sqlite:///path/to/file.db or postgres://... (env SURVEY_STORE)")
	keysDir := flag.String("token-keys-dir", env("SURVEY_TOKEN_KEYS_DIR", "/etc/survey/token-keys"),
		"directory of link-signing keys, a mounted Secret: one file per key (env SURVEY_TOKEN_KEYS_DIR)")
	apiTokenFile := flag.String("api-token-file", env("SURVEY_API_TOKEN_FILE", "/etc/survey/api/token"),
		"file holding the bearer tokens of the ledger and wave APIs, one per line, all accepted (env SURVEY_API_TOKEN_FILE)")
	listen := flag.String("listen", env("SURVEY_LISTEN", ":8080"), "address to serve on (env SURVEY_LISTEN)")
	metricsListen := flag.String("metrics-listen", env("SURVEY_METRICS_LISTEN", ":9090"),
		"address to serve /metrics on, apart from the public port; empty serves none (env SURVEY_METRICS_LISTEN)")
	publicURL := flag.String("public-url", env("SURVEY_PUBLIC_URL", ""),
		"the URL respondents reach the service at, such as https://listen.example.org (env SURVEY_PUBLIC_URL)")
	shutdownGrace := flag.Duration("shutdown-grace", 25*time.Second, "how long in-flight requests may take to finish on shutdown")
	flag.DurationVar(&reloadEvery, "reload-every", reloadEvery, "how often the token keys and API tokens are read again, as their Secrets rotate")
	flag.DurationVar(&expireEvery, "expire-every", expireEvery, "how often data past its campaign's retention (spec.retention) is deleted")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, *storeURL, *keysDir, *apiTokenFile, *listen, *metricsListen, *publicURL, *shutdownGrace); err != nil {
		log.Error("collector stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, storeURL, keysDir, apiTokenFile, listen, metricsListen, publicURL string, grace time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	data, err := os.ReadFile(apiTokenFile)
	if err != nil {
		return fmt.Errorf("reading the API token: %w", err)
	}
	apiTokens, err := apitoken.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", apiTokenFile, err)
	}
	var accepted atomic.Pointer[[][]byte]
	accepted.Store(&apiTokens)
	go apitoken.Watch(ctx, log, apiTokenFile, reloadEvery, apiTokens, func(t [][]byte) { accepted.Store(&t) })
	keys, err := token.LoadKeyRing(keysDir)
	if err != nil {
		return err
	}
	var ring atomic.Pointer[token.KeyRing]
	ring.Store(keys)
	go reloadKeys(ctx, log, keysDir, &ring)

	var origin string
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("--public-url %q is not an absolute URL", publicURL)
		}
		origin = u.Scheme + "://" + u.Host
	}

	st, err := store.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := collector.New(collector.Config{
		Store: st, Keys: ring.Load, APITokens: func() [][]byte { return *accepted.Load() },
		Logger: log, Registry: reg, PublicOrigin: origin,
	})
	if err != nil {
		return err
	}
	httpServer := &http.Server{
		Addr:              listen,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	errs := make(chan error, 2)
	go func() { errs <- httpServer.ListenAndServe() }()
	go srv.RunExpiry(ctx, expireEvery)
	log.Info("collector serving", "listen", listen, "signingKey", keys.SigningKeyID())
	if metricsListen != "" {
		// Metrics on a port of their own, which the public Service does not expose.
		l, err := net.Listen("tcp", metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		metricsServer := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { errs <- metricsServer.Serve(l) }()
		defer metricsServer.Close()
		log.Info("metrics serving", "listen", l.Addr().String())
	}

	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, and let in-flight requests finish their commits.
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := httpServer.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// reloadEvery is how often the mounted Secrets (token keys, API tokens) are read again.
var reloadEvery = 30 * time.Second

// expireEvery is how often data past its retention is deleted.
var expireEvery = time.Hour

// reloadKeys re-reads the key ring as the mounted Secret rotates; a broken update keeps the
// ring in use.
func reloadKeys(ctx context.Context, log *slog.Logger, dir string, ring *atomic.Pointer[token.KeyRing]) {
	tick := time.NewTicker(reloadEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			keys, err := token.LoadKeyRing(dir)
			if err != nil {
				log.Error("reloading token keys; keeping the current ones", "error", err)
				continue
			}
			if keys.SigningKeyID() != ring.Load().SigningKeyID() {
				log.Info("token keys reloaded", "signingKey", keys.SigningKeyID())
			}
			ring.Store(keys)
		}
	}
}
