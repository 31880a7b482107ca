package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// The fast tests of the reconcilers: a controller-runtime fake client, a fake clock and a fake
// response service, one reconcile at a time. The envtest suite (suite_test.go) runs the same
// reconcilers against a real kube-apiserver.

const (
	testNS      = "riverside-homes"
	systemNS    = "survey-operator-system"
	campaignUID = "3f2b6c1e-8a4d-4e5f-9b7a-0c1d2e3f4a5b"
)

// t0 is the campaigns' creation: a Wednesday morning, outside any quiet hours below.
var t0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

const residentsCSV = `tenancy_ref,email,mobile,tenure
T-1,one@example.org,+447700900001,general-needs
T-2,two@example.org,,general-needs
T-3,three@example.org,+447700900003,shared-ownership
`

// fakeService is the response service: it records registrations and answers summaries.
type fakeService struct {
	mu      sync.Mutex
	puts    map[string]int // by wave id
	summary responseapi.Summary
	err     error
	// retention registered, by campaign UID, and how many times.
	retention     map[string]responseapi.RetentionRegistration
	retentionPuts int
	retentionErr  error
}

func (f *fakeService) PutWave(_ context.Context, _, waveID string, _ responseapi.WaveRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.puts == nil {
		f.puts = map[string]int{}
	}
	f.puts[waveID]++
	return nil
}

func (f *fakeService) PutRetention(_ context.Context, campaignUID string, reg responseapi.RetentionRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retentionErr != nil {
		return f.retentionErr
	}
	if f.retention == nil {
		f.retention = map[string]responseapi.RetentionRegistration{}
	}
	f.retention[campaignUID] = reg
	f.retentionPuts++
	return nil
}

func (f *fakeService) PutTouchPoints(context.Context, string, responseapi.TouchPointsRegistration) error {
	return errors.New("the unit harness has no touch points: the envtest suite runs them on the real service")
}

func (f *fakeService) DueTouchPoints(context.Context, string, string) (responseapi.TouchPointsDue, error) {
	return responseapi.TouchPointsDue{}, errors.New("the unit harness has no touch points")
}

func (f *fakeService) Summary(context.Context, string, string, string) (responseapi.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.summary, f.err
}

type harness struct {
	t      *testing.T
	client client.WithWatch
	clock  *clocktesting.FakeClock
	svc    *fakeService
	events *events.FakeRecorder
	r      *SurveyCampaignReconciler
	// writes lists every write the reconciler made, as "verb kind/name"; reads every read of
	// the API reader (uncached), as "kind/name".
	writes, reads []string
}

// countingReader records the reads of the API reader, which bypass the cache.
type countingReader struct {
	client.Reader
	h *harness
}

func (c countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.h.reads = append(c.h.reads, fmt.Sprintf("%T/%s", obj, key.Name))
	return c.Reader.Get(ctx, key, obj, opts...)
}

func (c countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.h.reads = append(c.h.reads, fmt.Sprintf("%T", list))
	return c.Reader.List(ctx, list, opts...)
}

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// newHarness makes a fake cluster with the manager's credentials, the residents' Secret and
// the SMS gateway's Secret, plus objs.
func newHarness(t *testing.T, now time.Time, objs ...client.Object) *harness {
	t.Helper()
	h := &harness{t: t, clock: clocktesting.NewFakeClock(now), svc: &fakeService{}, events: events.NewFakeRecorder(100)}
	base := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-token-keys", Namespace: systemNS},
			Data: map[string][]byte{"2026-01": []byte("0123456789abcdef0123456789abcdef")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-api-token", Namespace: systemNS},
			Data: map[string][]byte{"token": []byte("test-api-token-0123456789")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tenants", Namespace: testNS},
			Data: map[string][]byte{"tenants.csv": []byte(residentsCSV)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sms-gateway", Namespace: testNS},
			Data: map[string][]byte{"hmacKey": []byte("gateway-signing-key")}},
	}
	record := func(verb string, obj client.Object) {
		h.writes = append(h.writes, fmt.Sprintf("%s %T/%s", verb, obj, obj.GetName()))
	}
	h.client = fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(append(base, objs...)...).
		WithStatusSubresource(&v1alpha1.SurveyCampaign{}, &v1alpha1.FollowUp{}).
		WithIndex(&batchv1.Job{}, fieldCampaignJobs, labelIndex(campaign.LabelCampaignUID)).
		WithIndex(&batchv1.Job{}, fieldFollowUpJobs, labelIndex(campaign.LabelFollowUpUID)).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				record("create", obj)
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				record("update", obj)
				return c.Update(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				record("patch", obj)
				return c.Patch(ctx, obj, patch, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				record("delete", obj)
				return c.Delete(ctx, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				record("patch "+sub, obj)
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	h.r = &SurveyCampaignReconciler{
		Client: h.client, APIReader: countingReader{Reader: h.client, h: h}, Recorder: h.events, Clock: h.clock, Responses: h.svc,
		Settings: campaign.Settings{Image: "survey-operator:test", CollectorURL: "http://collector.test:8080",
			PublicURL: "https://listen.example.org"},
		Credentials: Credentials{Namespace: systemNS, TokenKeysSecret: "survey-token-keys", APITokenSecret: "survey-api-token"},
		// Figures are fetched once a day at most, so that what a test sees due is the schedule's
		// (but every 10s, the default, while a Job sends).
		Poll: PollPolicy{Min: 24 * time.Hour, Max: 24 * time.Hour},
	}
	return h
}

// testCampaign is a valid campaign: two segments, email and SMS, created at t0.
func testCampaign(mutate func(*v1alpha1.SurveyCampaign)) *v1alpha1.SurveyCampaign {
	c := &v1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant-satisfaction", Namespace: testNS, UID: campaignUID, Generation: 1,
			CreationTimestamp: metav1.Time{Time: t0}},
		Spec: v1alpha1.SurveyCampaignSpec{
			Survey: v1alpha1.Survey{Title: "Riverside Homes tenant survey", Questions: []v1alpha1.Question{
				{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied or dissatisfied are you with our service?", Required: true},
			}},
			Audience: v1alpha1.Audience{
				Source: v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"},
					Format: v1alpha1.AudienceCSV, IDField: "tenancy_ref", Contact: v1alpha1.ContactColumns{Email: "email", Phone: "mobile"}},
				Segments: []v1alpha1.Segment{
					{Name: "general-needs", Match: `attrs.tenure == "general-needs"`, Channels: []string{"sms", "email"}},
					{Name: "shared-ownership", Channels: []string{"email"}},
				},
			},
			Channels: []v1alpha1.Channel{
				{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org", Port: 587, TLS: v1alpha1.SMTPStartTLS},
					From: "listening@riverside.example"}},
				{Name: "sms", Webhook: &v1alpha1.WebhookChannel{URL: "https://sms.example.org/send",
					SecretRef: &v1alpha1.LocalObjectReference{Name: "sms-gateway"}, ContactField: v1alpha1.ContactPhone}},
			},
			Schedule: &v1alpha1.Schedule{Cron: "0 9 * * *", TimeZone: "UTC", ResponseWindow: "168h"},
		},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func (h *harness) reconcile(name string) (ctrl.Result, error) {
	h.t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: name}})
}

// mustReconcile reconciles and fails the test on an error.
func (h *harness) mustReconcile(name string) ctrl.Result {
	h.t.Helper()
	res, err := h.reconcile(name)
	if err != nil {
		h.t.Fatalf("reconcile %s: %v", name, err)
	}
	return res
}

func (h *harness) campaign(name string) *v1alpha1.SurveyCampaign {
	h.t.Helper()
	var c v1alpha1.SurveyCampaign
	if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: name}, &c); err != nil {
		h.t.Fatal(err)
	}
	return &c
}

func (h *harness) jobs() map[string]*batchv1.Job {
	h.t.Helper()
	var list batchv1.JobList
	if err := h.client.List(context.Background(), &list, client.InNamespace(testNS)); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*batchv1.Job{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// drainEvents returns the Events recorded so far, as "Type Reason Note".
func (h *harness) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func conditionOf(c *v1alpha1.SurveyCampaign, t string) metav1.Condition {
	if cond := meta.FindStatusCondition(c.Status.Conditions, t); cond != nil {
		return *cond
	}
	return metav1.Condition{}
}

// waveJob is a sending Job of the test campaign's wave of 09:00 on 1 April 2026.
func waveJob(name, uid string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID(uid),
		Labels: map[string]string{campaign.LabelCampaignUID: campaignUID, campaign.LabelWave: "20260401-0900"}}}
}

// finishedJob is a Job in a finished state, as the Job controller leaves it.
func finishedJob(j *batchv1.Job, t batchv1.JobConditionType) {
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue})
}

// senderPod is a finished sender pod of a Job, with its termination message.
func senderPod(job, message string, finished time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job + "-pod", Namespace: testNS, Labels: map[string]string{batchv1.JobNameLabel: job}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "sender",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: message,
				FinishedAt: metav1.Time{Time: finished}}}}}},
	}
}
