package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
)

// referencedObjects lists the Secrets and ConfigMaps a campaign refers to, as "kind/name".
func referencedObjects(spec *v1alpha1.SurveyCampaignSpec) []string {
	var out []string
	if ref := spec.Audience.Source.SecretRef; ref != nil {
		out = append(out, "secret/"+ref.Name)
	}
	if ref := spec.Audience.Source.ConfigMapRef; ref != nil {
		out = append(out, "configmap/"+ref.Name)
	}
	if o := spec.Audience.Source.ObjectStore; o != nil {
		out = append(out, "secret/"+o.SecretRef.Name)
		if o.CASecretRef != nil {
			out = append(out, "secret/"+o.CASecretRef.Name)
		}
	}
	for i := range spec.Channels {
		if ref := campaign.ChannelSecret(&spec.Channels[i]); ref != nil {
			out = append(out, "secret/"+ref.Name)
		}
	}
	return out
}

// checked is a campaign's last check, reused while neither the campaign (its UID and
// generation) nor any referenced object's resourceVersion has changed: a reconcile of an
// unchanged campaign reads nothing from the API server.
type checked struct {
	fingerprint string
	problems    campaign.Problems
	found       campaign.Mounted
	channelKeys map[string][]byte
}

// fingerprint identifies the inputs of check from the caches: the campaign's UID and
// generation, and the resourceVersion of each referenced Secret and ConfigMap (watched by
// metadata).
func (u *run) fingerprint(ctx context.Context) (string, error) {
	fp := string(u.c.UID) + "/" + strconv.FormatInt(u.c.Generation, 10)
	for _, ref := range referencedObjects(&u.c.Spec) {
		kind, name, _ := strings.Cut(ref, "/")
		k := "ConfigMap"
		if kind == "secret" {
			k = "Secret"
		}
		obj, err := metadataOf(ctx, u.r.Client, k, types.NamespacedName{Namespace: u.c.Namespace, Name: name})
		switch {
		case apierrors.IsNotFound(err):
			fp += "|" + ref + "=missing"
		case err != nil:
			return "", err
		default:
			fp += "|" + ref + "=" + obj.ResourceVersion
		}
	}
	return fp, nil
}

// checkCached is check, skipped when its inputs have not changed since the last one.
func (u *run) checkCached(ctx context.Context) (campaign.Problems, error) {
	fp, err := u.fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	if last, ok := u.r.checked.get(u.key); ok && last.fingerprint == fp {
		u.found, u.channelKeys = last.found, last.channelKeys
		return last.problems, nil
	}
	problems, err := u.check(ctx)
	if err != nil {
		return nil, err
	}
	u.r.checked.put(u.key, checked{fingerprint: fp, problems: problems, found: u.found, channelKeys: u.channelKeys})
	return problems, nil
}

// check finds what the schema cannot: references that do not resolve, and the problems of
// internal/campaign.Validate.
func (u *run) check(ctx context.Context) (campaign.Problems, error) {
	spec := &u.c.Spec
	var ps campaign.Problems
	src := spec.Audience.Source
	var data []byte
	switch {
	case src.SecretRef != nil:
		var s corev1.Secret
		found, err := u.read(ctx, src.SecretRef.Name, &s)
		if err != nil {
			return nil, err
		}
		switch d, ok := s.Data[src.SecretRef.Key]; {
		case !found:
			ps = append(ps, campaign.Problem{Field: "spec.audience.source.secretRef", Message: fmt.Sprintf("Secret %q not found", src.SecretRef.Name)})
		case !ok:
			ps = append(ps, campaign.Problem{Field: "spec.audience.source.secretRef.key", Message: fmt.Sprintf("Secret %q has no key %q", src.SecretRef.Name, src.SecretRef.Key)})
		default:
			data = d
		}
	case src.ConfigMapRef != nil:
		var cm corev1.ConfigMap
		found, err := u.read(ctx, src.ConfigMapRef.Name, &cm)
		if err != nil {
			return nil, err
		}
		d, ok := cm.Data[src.ConfigMapRef.Key]
		switch {
		case !found:
			ps = append(ps, campaign.Problem{Field: "spec.audience.source.configMapRef", Message: fmt.Sprintf("ConfigMap %q not found", src.ConfigMapRef.Name)})
		case !ok:
			ps = append(ps, campaign.Problem{Field: "spec.audience.source.configMapRef.key", Message: fmt.Sprintf("ConfigMap %q has no key %q", src.ConfigMapRef.Name, src.ConfigMapRef.Key)})
		default:
			data = []byte(d)
		}
	}
	if o := src.ObjectStore; o != nil {
		// The object itself is checked (HEAD) when a wave starts; its credentials here.
		for _, ref := range []struct {
			name, field string
			keys        []string
		}{
			{o.SecretRef.Name, "spec.audience.source.objectStore.secretRef", []string{campaign.SecretAccessKey, campaign.SecretSecretKey}},
			{caName(o), "spec.audience.source.objectStore.caSecretRef", []string{campaign.SecretCA}},
		} {
			if ref.name == "" {
				continue
			}
			var s corev1.Secret
			found, err := u.read(ctx, ref.name, &s)
			if err != nil {
				return nil, err
			}
			if !found {
				ps = append(ps, campaign.Problem{Field: ref.field, Message: fmt.Sprintf("Secret %q not found", ref.name)})
				continue
			}
			for _, k := range ref.keys {
				if len(s.Data[k]) == 0 {
					ps = append(ps, campaign.Problem{Field: ref.field, Message: fmt.Sprintf("Secret %q has no key %q", ref.name, k)})
				}
			}
		}
	}
	var columns []string
	if data != nil {
		var err error
		if columns, err = campaign.Columns(src.Format, data); err != nil {
			ps = append(ps, campaign.Problem{Field: "spec.audience.source", Message: err.Error()})
		}
		u.found.Rows = campaign.CountRows(data)
	}
	u.found.SecretKeys = map[string]map[string]bool{}
	u.channelKeys = map[string][]byte{}
	for i := range spec.Channels {
		ch := &spec.Channels[i]
		var ref *v1alpha1.LocalObjectReference
		var need []string
		field := fmt.Sprintf("spec.channels[%d]", i)
		switch {
		case ch.Email != nil && ch.Email.SMTP.CredentialsSecretRef != nil:
			ref, need, field = ch.Email.SMTP.CredentialsSecretRef, []string{"username", "password"}, field+".email.smtp.credentialsSecretRef"
		case ch.Webhook != nil && ch.Webhook.SecretRef != nil:
			ref, need, field = ch.Webhook.SecretRef, []string{"hmacKey"}, field+".webhook.secretRef"
		default:
			continue
		}
		var s corev1.Secret
		found, err := u.read(ctx, ref.Name, &s)
		if err != nil {
			return nil, err
		}
		if !found {
			ps = append(ps, campaign.Problem{Field: field, Message: fmt.Sprintf("Secret %q not found", ref.Name)})
			continue
		}
		keys := keySet(&s)
		for _, k := range need {
			if !keys[k] {
				ps = append(ps, campaign.Problem{Field: field, Message: fmt.Sprintf("Secret %q has no key %q", ref.Name, k)})
			}
		}
		u.found.SecretKeys[ch.Name] = keys
		if ch.Webhook != nil {
			u.channelKeys[ch.Name] = s.Data["hmacKey"]
		}
	}
	return append(ps, campaign.Validate(spec, columns)...), nil
}

// read gets a Secret or ConfigMap of the campaign's namespace from the API server.
func (u *run) read(ctx context.Context, name string, obj client.Object) (bool, error) {
	err := u.r.APIReader.Get(ctx, types.NamespacedName{Namespace: u.c.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// stalled records a spec that cannot make progress until it is changed.
func (u *run) stalled(ps campaign.Problems) {
	stall(u.c, ps, u.events, "the spec or a referenced object")
}

// caName is the name of an object store's CA Secret, "" when it has none.
func caName(o *v1alpha1.ObjectStoreSource) string {
	if o.CASecretRef == nil {
		return ""
	}
	return o.CASecretRef.Name
}
