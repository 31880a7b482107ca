package controllers_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/controllers"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testenv"
	"github.com/surveyops/survey-operator/internal/token"
)

// The suite runs the reconcilers against a real kube-apiserver and etcd (envtest, which has no
// Job controller: tests play its part by writing Job status) and a real response service on
// SQLite, with a fake clock the tests move.

var (
	env       *envtest.Environment
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
	responses store.Store
	service   *responseapi.Client
	// serviceURL is the response service, for the tests that answer surveys through it.
	serviceURL string
	tokenKeys  *token.KeyRing
	clk        *clocktesting.FakePassiveClock
)

const (
	systemNS = "survey-system"
	apiToken = "controller-test-api-token"
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	// The FollowUp reconciler counts cases every second here: give it a few rounds.
	SetDefaultEventuallyTimeout(5 * time.Second)
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())

	var err error
	env, _, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(env.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	clk = clocktesting.NewFakePassiveClock(time.Now())
	responses, err = store.Open(ctx, "sqlite://"+filepath.Join(GinkgoT().TempDir(), "survey.db"))
	Expect(err).NotTo(HaveOccurred())
	keys, err := token.NewKeyRing(token.Key{ID: "2026-11", Secret: bytes.Repeat([]byte{7}, 32)})
	Expect(err).NotTo(HaveOccurred())
	srv, err := collector.New(collector.Config{Store: responses, Keys: func() *token.KeyRing { return keys },
		APIToken: []byte(apiToken), Now: clk.Now})
	Expect(err).NotTo(HaveOccurred())
	ts := httptest.NewServer(srv.Handler())
	DeferCleanup(ts.Close)
	service = responseapi.NewClient(ts.URL, apiToken, nil)
	serviceURL, tokenKeys = ts.URL, keys

	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNS}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-token-keys", Namespace: systemNS},
		Data: map[string][]byte{"2026-11": bytes.Repeat([]byte{7}, 32)}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-api-token", Namespace: systemNS},
		Data: map[string][]byte{"token": []byte(apiToken)}})).To(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	if responses != nil {
		responses.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// startManager runs a manager with the campaign reconciler until the returned function stops
// it. Each call is a fresh manager, as after a restart.
func startManager() (stop func()) {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect((&controllers.SurveyCampaignReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder("survey-operator"), Clock: clk, Responses: service,
		Settings: campaign.Settings{Image: "survey-operator:test", CollectorURL: "http://collector.test:8080",
			PublicURL: "https://listen.example.org"},
		Credentials: controllers.Credentials{Namespace: systemNS, TokenKeysSecret: "survey-token-keys", APITokenSecret: "survey-api-token"},
		Poll:        controllers.PollPolicy{Min: time.Minute, Max: 10 * time.Minute},
	}).SetupWithManager(mgr)).To(Succeed())
	Expect((&controllers.FollowUpReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("survey-operator"), Clock: clk, Responses: service,
		Poll: time.Second, Idle: time.Second, ContactInterval: time.Minute,
		Settings: campaign.Settings{Image: "survey-operator:test", CollectorURL: "http://collector.test:8080",
			PublicURL: "https://listen.example.org"},
	}).SetupWithManager(mgr)).To(Succeed())
	mctx, mcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return func() {
		mcancel()
		<-done
	}
}
