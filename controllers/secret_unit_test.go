package controllers

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/token"
)

// A campaign's sender Secret holds its namespace's link keys, derived from the master keys,
// never the master keys: links signed with them verify for that namespace only. Its export
// Secret holds an exporter's credential for the namespace.
func TestSenderSecretHoldsTheNamespacesKeys(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	h := newHarness(t, nine.Add(30*time.Second), testCampaign(nil))
	h.mustReconcile("tenant-satisfaction")
	var secret corev1.Secret
	if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: campaign.SecretName("tenant-satisfaction")}, &secret); err != nil {
		t.Fatal(err)
	}
	master := []byte("0123456789abcdef0123456789abcdef") // newHarness's survey-token-keys
	held := secret.Data[campaign.SecretTokenPrefix+"2026-01"]
	if len(held) == 0 || bytes.Equal(held, master) {
		t.Fatalf("the sender Secret holds %q: want the namespace's key, not the master key", held)
	}
	if !bytes.Equal(held, token.DeriveSecret(master, testNS)) {
		t.Errorf("the sender Secret's key is not the one derived for %s", testNS)
	}
	// Its API credential is a sender's, for its namespace, never the master token.
	scope, ok := apitoken.Authenticate(secret.Data[campaign.SecretAPIToken], [][]byte{[]byte("test-api-token-0123456789")})
	if !ok || scope != (apitoken.Scope{Kind: apitoken.Sender, Namespace: testNS}) {
		t.Errorf("the sender Secret's API token proves %+v (%v), want a sender's for %s", scope, ok, testNS)
	}

	// Beside it, the export Secret: an exporter's credential for the namespace (whoever may read
	// the namespace's Secrets may export its responses, nobody else) and where to ask.
	var export corev1.Secret
	if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: campaign.ExportSecretName("tenant-satisfaction")}, &export); err != nil {
		t.Fatal(err)
	}
	scope, ok = apitoken.Authenticate(export.Data[campaign.ExportSecretToken], [][]byte{[]byte("test-api-token-0123456789")})
	if !ok || scope != (apitoken.Scope{Kind: apitoken.Exporter, Namespace: testNS}) {
		t.Errorf("the export Secret's token proves %+v (%v), want an exporter's for %s", scope, ok, testNS)
	}
	scope, ok = apitoken.Authenticate(export.Data[campaign.ExportSecretEraseToken], [][]byte{[]byte("test-api-token-0123456789")})
	if !ok || scope != (apitoken.Scope{Kind: apitoken.Eraser, Namespace: testNS}) {
		t.Errorf("the export Secret's erase token proves %+v (%v), want an eraser's for %s", scope, ok, testNS)
	}
	if url := string(export.Data[campaign.ExportSecretURL]); url != h.r.Settings.PublicURL || url == "" {
		t.Errorf("the export Secret's url is %q, want the public address %q", url, h.r.Settings.PublicURL)
	}
	if len(export.OwnerReferences) != 1 || export.OwnerReferences[0].Name != "tenant-satisfaction" {
		t.Errorf("the export Secret's owners: %+v", export.OwnerReferences)
	}

	// What the sending Job signs with that key verifies with the ring the response service
	// derives for the namespace, and for no other.
	jobs, err := token.NewKeyRing(token.Key{ID: "2026-01", Secret: held})
	if err != nil {
		t.Fatal(err)
	}
	link, err := jobs.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: campaignUID, Wave: "20260401-0900",
		Recipient: "RH-0001", Segment: "general-needs", Channel: "email", Expiry: nine.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	masterRing, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: master})
	if _, err := masterRing.ForNamespace(testNS).Verify(link, nine); err != nil {
		t.Errorf("the namespace's ring refuses its own link: %v", err)
	}
	for name, ring := range map[string]*token.KeyRing{"another namespace": masterRing.ForNamespace("lakeside"), "the master keys": masterRing} {
		if _, err := ring.Verify(link, nine); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("%s verify the namespace's link: %v", name, err)
		}
	}
}

// A campaign's retention is registered with the response service once, again when it changes,
// and again after a failure; the service being away does not stop the campaign's waves.
func TestRetentionIsRegisteredWhenItChanges(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	h := newHarness(t, nine.Add(30*time.Second), testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Retention = &v1alpha1.Retention{Responses: "17520h", Keep: v1alpha1.KeepAggregates}
	}))
	h.svc.retentionErr = errors.New("connection refused")
	if _, err := h.reconcile("tenant-satisfaction"); err == nil || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("reconcile with the service away: %v", err)
	}
	if len(h.jobs()) != 1 {
		t.Errorf("the due wave waited for the retention's registration: Jobs %v", keys(h.jobs()))
	}
	h.svc.retentionErr = nil
	h.mustReconcile("tenant-satisfaction")
	h.mustReconcile("tenant-satisfaction")
	want := responseapi.RetentionRegistration{Namespace: testNS, Responses: "17520h", Keep: "Aggregates"}
	if got := h.svc.retention[string(campaignUID)]; got != want || h.svc.retentionPuts != 1 {
		t.Fatalf("registered %+v (%d times), want %+v once", got, h.svc.retentionPuts, want)
	}
	c := h.campaign("tenant-satisfaction")
	c.Spec.Retention = nil
	if err := h.client.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile("tenant-satisfaction")
	if got := h.svc.retention[string(campaignUID)]; got != (responseapi.RetentionRegistration{Namespace: testNS}) || h.svc.retentionPuts != 2 {
		t.Errorf("after spec.retention was removed: %+v (%d registrations)", got, h.svc.retentionPuts)
	}
}
