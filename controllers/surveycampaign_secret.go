package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/token"
)

// credentialCache holds the manager's credentials for a minute, so that a burst of waves does
// not read them once each.
type credentialCache struct {
	mu   sync.Mutex
	at   time.Time
	data map[string][]byte
	ids  []string
}

const credentialTTL = time.Minute

// senderData is what a namespace's sender Secrets hold: a sender's API credential for the
// namespace (apitoken.Credential, derived from the first master token) and the namespace's
// link-signing keys (derived from the master keys: token.DeriveSecret), and the ids of those
// keys. The master token and keys never leave the operator's namespace.
func (r *SurveyCampaignReconciler) senderData(ctx context.Context, namespace string) (map[string][]byte, []string, error) {
	master, ids, err := r.masterData(ctx)
	if err != nil {
		return nil, nil, err
	}
	data := make(map[string][]byte, len(master))
	for k, v := range master {
		switch id, ok := strings.CutPrefix(k, campaign.SecretTokenPrefix); {
		case ok && slices.Contains(ids, id):
			v = token.DeriveSecret(v, namespace)
		case k == campaign.SecretAPIToken:
			v = []byte(apitoken.Credential([]byte(apitoken.First(string(v))), apitoken.Sender, namespace))
		}
		data[k] = v
	}
	return data, ids, nil
}

// masterData reads the manager's credentials, as senderData's keys before derivation.
func (r *SurveyCampaignReconciler) masterData(ctx context.Context) (map[string][]byte, []string, error) {
	c := &r.credentials
	c.mu.Lock()
	defer c.mu.Unlock()
	now := r.Clock.Now()
	if c.data != nil && now.Sub(c.at) < credentialTTL {
		return c.data, c.ids, nil
	}
	cr := r.Credentials
	var keys, tok corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: cr.TokenKeysSecret}, &keys); err != nil {
		return nil, nil, err
	}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: cr.APITokenSecret}, &tok); err != nil {
		return nil, nil, err
	}
	data := map[string][]byte{campaign.SecretAPIToken: tok.Data["token"]}
	var ids []string
	for id, k := range keys.Data {
		data[campaign.SecretTokenPrefix+id] = k
		ids = append(ids, id)
	}
	sort.Strings(ids)
	c.data, c.ids, c.at = data, ids, now
	return data, ids, nil
}

func dataHash(data map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s=%x;", k, data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// provisionSecrets makes the campaign's sender and export Secrets as soon as a wave is
// scheduled, instead of when it starts: a wave's start then writes its Job, its status and its
// Event, and nothing else, which matters when a thousand campaigns are due at the same minute.
// A failure is only logged: the wave's start tries again and reports it.
func (u *run) provisionSecrets(ctx context.Context) {
	if u.c.Status.NextWaveTime == nil {
		return
	}
	_, err := u.ensureSenderSecret(ctx)
	if err == nil {
		err = u.ensureExportSecret(ctx)
	}
	if err != nil {
		log.FromContext(ctx).Info("the campaign's Secrets wait for its next wave", "error", err.Error())
	}
}

// ensureSenderSecret keeps the campaign's sender Secret equal to the manager's credentials:
// the API token and the link-signing keys, whose ids it returns for the Jobs to mount.
func (u *run) ensureSenderSecret(ctx context.Context) ([]string, error) {
	data, ids, err := u.r.senderData(ctx, u.c.Namespace)
	if err != nil {
		return nil, err
	}
	return ids, u.ensureSecret(ctx, campaign.SecretName(u.c.Name), data, &u.r.senderSecrets)
}

// ensureExportSecret keeps the campaign's export Secret: an exporter's and an eraser's
// credential for the namespace (apitoken.Exporter and apitoken.Eraser, derived from the first
// master token) and the response service's public address. `kubectl survey export` and
// `kubectl survey forget` read it, so exactly those who may read the namespace's Secrets may
// export its responses, or erase a person's data.
func (u *run) ensureExportSecret(ctx context.Context) error {
	master, _, err := u.r.masterData(ctx)
	if err != nil {
		return err
	}
	first := []byte(apitoken.First(string(master[campaign.SecretAPIToken])))
	data := map[string][]byte{
		campaign.ExportSecretToken:      []byte(apitoken.Credential(first, apitoken.Exporter, u.c.Namespace)),
		campaign.ExportSecretEraseToken: []byte(apitoken.Credential(first, apitoken.Eraser, u.c.Namespace)),
		campaign.ExportSecretURL:        []byte(u.r.Settings.PublicURL),
	}
	return u.ensureSecret(ctx, campaign.ExportSecretName(u.c.Name), data, &u.r.exportSecrets)
}

// ensureEventsSecret keeps a touch-point campaign's events Secret: an events credential for
// the namespace (apitoken.Events, derived from the first master token), which may post events
// to this namespace and do nothing else, and the addresses to post them to. Producers mount it,
// or a pipeline's sink reads it; rotating the master token rotates it.
func (u *run) ensureEventsSecret(ctx context.Context) error {
	master, _, err := u.r.masterData(ctx)
	if err != nil {
		return err
	}
	first := []byte(apitoken.First(string(master[campaign.SecretAPIToken])))
	path := responseapi.RouteEvents.Path(u.c.Namespace)
	credential := apitoken.Credential(first, apitoken.Events, u.c.Namespace)
	data := map[string][]byte{
		campaign.EventsSecretToken:         []byte(credential),
		campaign.EventsSecretAuthorization: []byte("Bearer " + credential),
		campaign.EventsSecretURL:           []byte(strings.TrimRight(u.r.Settings.PublicURL, "/") + path),
		campaign.EventsSecretInternalURL:   []byte(strings.TrimRight(u.r.Settings.CollectorURL, "/") + path),
	}
	return u.ensureSecret(ctx, campaign.EventsSecretName(u.c.Name), data, &u.r.eventsSecrets)
}

// ensureSecret keeps one of the campaign's Secrets (owned by it, labelled with its UID) equal
// to data. It writes only when they differ, and reads it only when it is not known to be up to
// date (written (known holds its data's hash) and still there).
func (u *run) ensureSecret(ctx context.Context, name string, data map[string][]byte, known *memo[string]) error {
	want := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: u.c.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "survey-operator", campaign.LabelCampaignUID: string(u.c.UID)}},
		Type: corev1.SecretTypeOpaque, Data: data}
	hash := dataHash(data) + "/" + string(u.c.UID)
	if h, ok := known.get(u.key); ok && h == hash {
		if _, err := metadataOf(ctx, u.r.Client, "Secret", client.ObjectKeyFromObject(want)); err == nil {
			return nil
		}
	}
	if err := controllerutil.SetControllerReference(u.c, want, u.r.Scheme()); err != nil {
		return err
	}
	var have corev1.Secret
	err := u.r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		err = u.r.Create(ctx, want)
	case err != nil:
	case have.Labels[campaign.LabelCampaignUID] != string(u.c.UID):
		err = fmt.Errorf("a Secret named %s exists and is not this campaign's", want.Name)
	case equality.Semantic.DeepEqual(have.Data, want.Data):
	default:
		have.Data = want.Data
		err = u.r.Update(ctx, &have)
	}
	if err != nil {
		return err
	}
	known.put(u.key, hash)
	return nil
}
