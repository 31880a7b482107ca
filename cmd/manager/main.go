// Command manager runs the survey-operator controllers: it reconciles SurveyCampaign and FollowUp
// resources, launches sending Jobs and writes status. It never sends a message itself.
package main

import (
	"crypto/tls"
	"flag"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // the time zone database in the binary: the image has none

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	surveysv1alpha1 "github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/controllers"
	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(surveysv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr          string
		probeAddr            string
		enableLeaderElection bool
		leaderElectionNS     string
		secureMetrics        bool
		enableHTTP2          bool
		senderImage          string
		collectorURL         string
		publicURL            string
		apiTokenFile         string
		credentialsNS        string
		tokenKeysSecret      string
		apiTokenSecret       string
		concurrency          int
		qps                  float64
		burst                int
		pprofAddr            string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"Address the metrics endpoint binds to (:8443 for HTTPS, :8080 for HTTP, 0 to disable).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election, so that only one manager replica is active at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election Lease (default: the namespace the manager runs in; required out of cluster).")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with Kubernetes authentication and authorization (false: plain HTTP).")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.StringVar(&senderImage, "sender-image", envOr("SENDER_IMAGE", "survey-operator:latest"),
		"Image of the sending Jobs (the operator's own image; env SENDER_IMAGE).")
	flag.StringVar(&collectorURL, "collector-url", "http://survey-collector.survey-operator-system.svc:8080",
		"Where the manager and the senders reach the response service's API.")
	flag.StringVar(&publicURL, "public-url", "http://localhost:8080",
		"Where respondents reach the response service's pages: the base of every survey link.")
	flag.StringVar(&apiTokenFile, "api-token-file", "/var/run/survey/api-token/token",
		"File holding the response service's API bearer token.")
	flag.StringVar(&credentialsNS, "credentials-namespace", envOr("POD_NAMESPACE", "survey-operator-system"),
		"Namespace of the Secrets below (env POD_NAMESPACE).")
	flag.StringVar(&tokenKeysSecret, "token-keys-secret", "survey-token-keys",
		"Secret of link-signing keys (each data key a key id), copied for the sending Jobs.")
	flag.StringVar(&apiTokenSecret, "api-token-secret", "survey-api-token",
		"Secret with the response service's API token (data key \"token\"), copied for the sending Jobs.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 4, "How many campaigns are reconciled at once.")
	flag.Float64Var(&qps, "kube-api-qps", 100, "Client-side limit of requests per second to the API server.")
	flag.IntVar(&burst, "kube-api-burst", 200, "Client-side burst of requests to the API server.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "",
		"Address to serve Go's profiles on (/debug/pprof/; plain HTTP, unauthenticated: bind it to localhost). Empty serves none.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(qps), burst
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "survey-operator.surveys.surveyops.io",
		LeaderElectionNamespace: leaderElectionNS,
		// A manager that is stopped (a rollout, a deleted pod) hands the lease over at once
		// instead of leaving the next one to wait for it to expire: safe, as main returns as
		// soon as the manager stops.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "unable to create the manager")
		os.Exit(1)
	}

	// The token is read again as its Secret rotates (the first line is the one sent). Until the
	// file holds a valid token, the response service refuses the manager's calls, which the
	// campaigns' conditions then show.
	apiToken, err := os.ReadFile(apiTokenFile)
	var tokens [][]byte
	if err == nil {
		tokens, err = apitoken.Parse(apiToken)
	}
	if err != nil {
		setupLog.Error(err, "no valid API token for the response service yet; its calls will be refused until the file holds one", "file", apiTokenFile)
		apiToken = nil
	}
	responses := responseapi.NewClient(collectorURL, string(apiToken), nil)
	ctx := ctrl.SetupSignalHandler()
	go apitoken.Watch(ctx, slog.New(logr.ToSlogHandler(ctrl.Log.WithName("api-token"))), apiTokenFile, 30*time.Second, tokens,
		func(t [][]byte) { responses.SetToken(string(t[0])) })
	settings := campaign.Settings{Image: senderImage, CollectorURL: collectorURL, PublicURL: publicURL}
	if err := (&controllers.SurveyCampaignReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("survey-operator"),
		Responses: responses,
		Settings:  settings,
		Credentials: controllers.Credentials{Namespace: credentialsNS, TokenKeysSecret: tokenKeysSecret,
			APITokenSecret: apiTokenSecret},
		MaxConcurrentReconciles: concurrency,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "unable to set up the SurveyCampaign controller")
		os.Exit(1)
	}
	if err := (&controllers.FollowUpReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Settings:  settings,
		Recorder:  mgr.GetEventRecorder("survey-operator"),
		Responses: responses,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "unable to set up the FollowUp controller")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "unable to set up the readiness check")
		os.Exit(1)
	}

	setupLog.Info("starting the manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "the manager stopped with an error")
		os.Exit(1)
	}
}
