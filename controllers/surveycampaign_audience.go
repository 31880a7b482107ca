package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/objectstore"
)

// A list in object storage or on a volume may hold millions of lines: the manager never reads
// it. Before it starts a wave it checks what is cheap (the object exists and the credentials
// work, with one HEAD request; the claim exists) and pins the object's version, which every
// shard, rerun and reminder round of the wave then reads. The lines are checked by the
// sending Job's first pass, which fails the wave, naming the line, before anything is sent.

// audienceUnavailable is a wave that cannot start because its list cannot be reached for a
// reason someone must fix (a missing object or claim, refused credentials): the campaign is
// Stalled, naming the field, and the manager looks again after audienceRetry. It is not a
// failed wave.
type audienceUnavailable struct{ problems campaign.Problems }

func (e *audienceUnavailable) Error() string { return e.problems.Error() }

// ObjectStat finds the current version of an audience object (objectstore's HEAD), for tests
// to count the requests.
type ObjectStat func(ctx context.Context, cfg objectstore.Config) (objectstore.Version, error)

func statObject(ctx context.Context, cfg objectstore.Config) (objectstore.Version, error) {
	c, err := objectstore.New(cfg)
	if err != nil {
		return objectstore.Version{}, err
	}
	return c.Stat(ctx)
}

// pinAudience checks a wave's list before its first Job and returns the version the wave
// reads: an object's ETag (and version id) from a HEAD request; nil for the other sources (a
// file on a volume is pinned by the first round's sender, pinFromSenders).
func (u *run) pinAudience(ctx context.Context) (*v1alpha1.AudienceVersion, error) {
	src := u.c.Spec.Audience.Source
	switch {
	case src.ObjectStore != nil:
		o := src.ObjectStore
		field := "spec.audience.source.objectStore"
		cfg := objectstore.Config{Endpoint: o.Endpoint, Bucket: o.Bucket, Key: o.Key, Region: o.Region, Insecure: o.Insecure,
			Addressing: string(o.Addressing)}
		var s corev1.Secret
		found, err := u.read(ctx, o.SecretRef.Name, &s)
		if err != nil {
			return nil, err
		}
		if !found { // check() says so too; this keeps a wave from starting in between
			return nil, &audienceUnavailable{campaign.Problems{{Field: field + ".secretRef", Message: fmt.Sprintf("Secret %q not found", o.SecretRef.Name)}}}
		}
		cfg.AccessKey, cfg.SecretKey = string(s.Data[campaign.SecretAccessKey]), string(s.Data[campaign.SecretSecretKey])
		if ref := o.CASecretRef; ref != nil {
			var ca corev1.Secret
			if found, err := u.read(ctx, ref.Name, &ca); err != nil {
				return nil, err
			} else if found {
				cfg.CA = ca.Data[campaign.SecretCA]
			}
		}
		stat := u.r.StatObject
		if stat == nil {
			stat = statObject
		}
		v, err := stat(ctx, cfg)
		switch objectstore.KindOf(err) {
		case objectstore.NotFound:
			return nil, &audienceUnavailable{campaign.Problems{{Field: field + ".key",
				Message: fmt.Sprintf("no object %q in bucket %q at %s (%v)", o.Key, o.Bucket, o.Endpoint, errors.Unwrap(err))}}}
		case objectstore.Denied:
			return nil, &audienceUnavailable{campaign.Problems{{Field: field + ".secretRef",
				Message: fmt.Sprintf("the access key in Secret %q was refused for %s/%s (%v): it needs read access to the object", o.SecretRef.Name, o.Bucket, o.Key, errors.Unwrap(err))}}}
		case objectstore.Invalid:
			f := field + ".endpoint"
			switch {
			case strings.Contains(err.Error(), "AuthorizationHeaderMalformed") || strings.Contains(err.Error(), "HTTP 400"):
				f = field + ".region" // the store names the region it expected in its message
			case o.CASecretRef != nil:
				f = field + ".caSecretRef"
			}
			return nil, &audienceUnavailable{campaign.Problems{{Field: f, Message: err.Error()}}}
		}
		if err != nil {
			return nil, fmt.Errorf("checking the audience object: %w", err)
		}
		out := &v1alpha1.AudienceVersion{ETag: v.ETag, VersionID: v.VersionID, Size: v.Size}
		if !v.Modified.IsZero() {
			out.Modified = &metav1.Time{Time: v.Modified}
		}
		return out, nil
	case src.Volume != nil:
		return nil, u.checkClaim(ctx)
	}
	return nil, nil
}

// checkClaim makes sure a volume source's claim exists before a Job that mounts it is made
// (a Job whose pods wait for a missing claim would sit Pending until its deadline).
func (u *run) checkClaim(ctx context.Context) error {
	v := u.c.Spec.Audience.Source.Volume
	if v == nil {
		return nil
	}
	var pvc corev1.PersistentVolumeClaim
	found, err := u.read(ctx, v.ClaimName, &pvc)
	if err != nil {
		return err
	}
	if !found {
		return &audienceUnavailable{campaign.Problems{{Field: "spec.audience.source.volume.claimName",
			Message: fmt.Sprintf("PersistentVolumeClaim %q not found", v.ClaimName)}}}
	}
	return nil
}

// mountedFor is what a wave's Job mounts: for an object, its rows estimated from the pinned
// size, so that every round is sharded alike.
func (u *run) mountedFor(w campaign.Wave) campaign.Mounted {
	m := u.found
	if u.c.Spec.Audience.Source.ObjectStore != nil && w.Audience != nil {
		m.Rows = campaign.EstimateRows(w.Audience.Size)
	}
	return m
}

// pinFromSenders records the version of a volume file that a wave's first round read (its
// senders say so in their termination messages), for the later rounds to read the same.
func (u *run) pinFromSenders(ctx context.Context, w *v1alpha1.WaveStatus, j *batchv1.Job) {
	if u.c.Spec.Audience.Source.Volume == nil || w.AudienceVersion != nil {
		return
	}
	ts, err := terminations(ctx, u.r.APIReader, j)
	if err != nil {
		return // asked again next time
	}
	for _, t := range ts {
		if p := t.Pin; p != nil {
			w.AudienceVersion = &v1alpha1.AudienceVersion{Size: p.Size, Modified: &metav1.Time{Time: time.Unix(p.Modified, 0).UTC()}}
			return
		}
	}
}
