package controllers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/tests3"
)

// An audience in object storage, against a real S3 server: the manager never downloads it. It
// checks with a HEAD request when a wave starts and pins the object's version into the wave
// and its Job; a missing object or refused credentials stall the campaign, naming the field,
// start no wave, and are looked at again in two minutes; once fixed, the wave starts.
func TestObjectStoreAudienceIsCheckedAndPinned(t *testing.T) {
	s := tests3.Start(t)
	s.Bucket(t, "exports")
	access, secret := s.Reader(t, "exports")
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Audience.Source.SecretRef = nil
		c.Spec.Audience.Source.ObjectStore = &v1alpha1.ObjectStoreSource{Endpoint: s.Host, Bucket: "exports", Key: "nightly/tenants.csv",
			Region: s.Region, Insecure: true, Addressing: v1alpha1.BucketAddressingPath, SecretRef: v1alpha1.LocalObjectReference{Name: "exports-reader"}}
	})
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "exports-reader", Namespace: testNS},
		Data: map[string][]byte{"accesskey": []byte(access), "secretkey": []byte("not-" + secret)}}
	h := newHarness(t, nine.Add(30*time.Second), cmp, creds)
	stalledOn := func(field string) {
		t.Helper()
		res := h.mustReconcile("tenant-satisfaction")
		c := h.campaign("tenant-satisfaction")
		st := conditionOf(c, v1alpha1.ConditionStalled)
		if st.Status != metav1.ConditionTrue || st.Reason != v1alpha1.ReasonAudienceUnavailable || !strings.Contains(st.Message, field) {
			t.Fatalf("Stalled = %s %s %q, want AudienceUnavailable naming %s", st.Status, st.Reason, st.Message, field)
		}
		if len(h.jobs()) != 0 || len(c.Status.Waves) != 0 {
			t.Fatalf("a wave started: jobs %v, waves %+v", h.jobs(), c.Status.Waves)
		}
		if res.RequeueAfter != audienceRetry {
			t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, audienceRetry)
		}
		if ev := strings.Join(h.drainEvents(), "\n"); !strings.Contains(ev, "Warning "+v1alpha1.ReasonAudienceUnavailable) {
			t.Errorf("events: %s", ev)
		}
	}

	// A wrong secret key: the credentials are named.
	stalledOn("spec.audience.source.objectStore.secretRef")

	// The right key, but no object yet: the key is named.
	creds.Data["secretkey"] = []byte(secret)
	if err := h.client.Update(context.Background(), creds); err != nil {
		t.Fatal(err)
	}
	stalledOn(`spec.audience.source.objectStore.key: no object "nightly/tenants.csv" in bucket "exports"`)

	// The export lands: the wave starts, pinned to the object's version.
	put := s.Put(t, "exports", "nightly/tenants.csv", []byte(residentsCSV))
	h.clock.Step(audienceRetry)
	h.mustReconcile("tenant-satisfaction")
	c := h.campaign("tenant-satisfaction")
	if st := conditionOf(c, v1alpha1.ConditionStalled); st.Status != metav1.ConditionFalse {
		t.Fatalf("still stalled: %+v", st)
	}
	if len(c.Status.Waves) != 1 || c.Status.Waves[0].AudienceVersion == nil || c.Status.Waves[0].AudienceVersion.ETag != put.ETag ||
		c.Status.Waves[0].AudienceVersion.Size != int64(len(residentsCSV)) {
		t.Fatalf("waves %+v, want one pinned to ETag %s", c.Status.Waves, put.ETag)
	}
	job := h.jobs()["tenant-satisfaction-20260401-0900"]
	if job == nil {
		t.Fatalf("no Job: %v", h.jobs())
	}
	var cfg jobfile.Config
	if err := json.Unmarshal([]byte(job.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg); err != nil {
		t.Fatal(err)
	}
	if o := cfg.Audience.ObjectStore; o == nil || o.ETag != put.ETag || o.Endpoint != s.Host || o.Key != "nightly/tenants.csv" {
		t.Fatalf("the Job's audience %+v", cfg.Audience)
	}
	if v := job.Spec.Template.Spec.Volumes[0]; v.Projected == nil || v.Projected.Sources[0].Secret.Name != "exports-reader" {
		t.Errorf("the Job mounts %+v, want only the credentials", v.VolumeSource)
	}
}

// A volume's claim must exist before a Job mounts it: a missing claim stalls the campaign,
// naming the field; the wave starts once the claim is there.
func TestVolumeAudienceNeedsItsClaim(t *testing.T) {
	nine := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	cmp := testCampaign(func(c *v1alpha1.SurveyCampaign) {
		c.Spec.Audience.Source.SecretRef = nil
		c.Spec.Audience.Source.Volume = &v1alpha1.VolumeSource{ClaimName: "exports", Path: "tenants.csv"}
	})
	h := newHarness(t, nine.Add(30*time.Second), cmp)
	h.mustReconcile("tenant-satisfaction")
	c := h.campaign("tenant-satisfaction")
	if st := conditionOf(c, v1alpha1.ConditionStalled); st.Reason != v1alpha1.ReasonAudienceUnavailable ||
		!strings.Contains(st.Message, `spec.audience.source.volume.claimName: PersistentVolumeClaim "exports" not found`) {
		t.Fatalf("Stalled = %+v", st)
	}
	if err := h.client.Create(context.Background(), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "exports", Namespace: testNS}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(audienceRetry)
	h.mustReconcile("tenant-satisfaction")
	jobs := h.jobs()
	j := jobs["tenant-satisfaction-20260401-0900"]
	if j == nil || j.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim == nil {
		t.Fatalf("jobs %v", jobs)
	}
}
