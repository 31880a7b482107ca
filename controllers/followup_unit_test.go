package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// fakeRules is the response service's side of FollowUps.
type fakeRules struct {
	mu      sync.Mutex
	puts    int
	deletes []string
}

func (f *fakeRules) PutFollowUp(context.Context, string, responseapi.FollowUpRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	return nil
}

func (f *fakeRules) DeleteFollowUp(_ context.Context, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, uid)
	return nil
}

func (f *fakeRules) SweepFollowUp(context.Context, string) (responseapi.CaseStats, error) {
	return responseapi.CaseStats{}, nil
}

func (f *fakeRules) FollowUpStats(context.Context, string) (responseapi.CaseStats, error) {
	return responseapi.CaseStats{Matched: 2, Resolved: 2}, nil
}

func testFollowUp() *v1alpha1.FollowUp {
	return &v1alpha1.FollowUp{
		ObjectMeta: metav1.ObjectMeta{Name: "dissatisfied", Namespace: testNS, UID: "fu-uid-1", Generation: 1},
		Spec: v1alpha1.FollowUpSpec{
			CampaignRef: v1alpha1.LocalObjectReference{Name: "tenant-satisfaction"},
			Trigger:     v1alpha1.Trigger{Type: v1alpha1.TriggerResponse, When: "response.answers.tp01 <= 2"},
			Channels:    []string{"sms", "email"},
			Message:     v1alpha1.Message{Body: "We are sorry. Someone from our team will call you: {{ .Link }}"},
			Ticket: &v1alpha1.Ticket{Webhook: v1alpha1.WebhookChannel{URL: "https://helpdesk.example.org/tickets",
				SecretRef: &v1alpha1.LocalObjectReference{Name: "helpdesk"}}},
		},
	}
}

// What the FollowUp reconciler remembers of a FollowUp (its registration, its ticket key) is
// forgotten when the FollowUp goes: through its finalizer, or, should the finalizer have been
// removed by hand, when it is found gone.
func TestDeletedFollowUpIsForgotten(t *testing.T) {
	for name, byHand := range map[string]bool{"through the finalizer": false, "finalizer removed by hand": true} {
		t.Run(name, func(t *testing.T) {
			helpdesk := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "helpdesk", Namespace: testNS},
				Data: map[string][]byte{"hmacKey": []byte("helpdesk-signing-key")}}
			h := newHarness(t, t0, testCampaign(nil), testFollowUp(), helpdesk)
			rules := &fakeRules{}
			r := &FollowUpReconciler{Client: h.client, APIReader: h.client, Recorder: h.events, Clock: h.clock, Responses: rules}
			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "dissatisfied"}}
			ctx := context.Background()
			res, err := r.Reconcile(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter != 10*time.Minute || rules.puts != 1 || r.registered.len() != 1 || r.ticketKeys.len() != 1 {
				t.Fatalf("after the first reconcile: requeue %v, %d registrations, %d remembered, %d ticket keys",
					res.RequeueAfter, rules.puts, r.registered.len(), r.ticketKeys.len())
			}
			if _, err := r.Reconcile(ctx, req); err != nil || rules.puts != 1 {
				t.Fatalf("an unchanged rule was registered again: %d, %v", rules.puts, err)
			}
			var fu v1alpha1.FollowUp
			if err := h.client.Get(ctx, req.NamespacedName, &fu); err != nil {
				t.Fatal(err)
			}
			if byHand {
				controllerutil.RemoveFinalizer(&fu, finalizerDeactivate)
				if err := h.client.Update(ctx, &fu); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.client.Delete(ctx, &fu); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the finalizer's pass, then the object is gone
				if _, err := r.Reconcile(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.client.Get(ctx, req.NamespacedName, &fu); client.IgnoreNotFound(err) != nil || err == nil {
				t.Fatalf("the FollowUp is still there: %v", err)
			}
			if r.registered.len() != 0 || r.ticketKeys.len() != 0 {
				t.Errorf("a deleted FollowUp is still remembered: %d registrations, %d ticket keys", r.registered.len(), r.ticketKeys.len())
			}
			if n := r.metrics.cases.DeletePartialMatch(prometheus.Labels{"namespace": testNS, "followup": "dissatisfied"}); n != 0 {
				t.Errorf("a deleted FollowUp still has %d metric series", n)
			}
			if wantDeletes := map[bool]int{false: 1, true: 0}[byHand]; len(rules.deletes) != wantDeletes {
				t.Errorf("rules deactivated: %v, want %d", rules.deletes, wantDeletes)
			}
		})
	}
}
