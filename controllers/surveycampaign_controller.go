package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=surveycampaigns/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update

// ResponseService is what the reconciler asks of the response service (responseapi.Client).
type ResponseService interface {
	PutWave(ctx context.Context, campaignUID, waveID string, reg responseapi.WaveRegistration) error
	Summary(ctx context.Context, campaignUID, waveID, primary string) (responseapi.Summary, error)
}

// Credentials name the manager's own Secrets that sending Jobs need copies of: the link-signing
// keys (each data key a key id) and the response service's API token (data key "token").
type Credentials struct {
	Namespace, TokenKeysSecret, APITokenSecret string
}

// SurveyCampaignReconciler runs the waves of SurveyCampaigns.
type SurveyCampaignReconciler struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps, which are watched by metadata only.
	APIReader   client.Reader
	Scheme      *runtime.Scheme
	Recorder    events.EventRecorder
	Clock       clock.PassiveClock
	Responses   ResponseService
	Settings    campaign.Settings
	Credentials Credentials
	// Poll bounds how often a collecting wave's aggregates are refreshed: from Poll.Min (1m),
	// doubling while nothing changes, up to Poll.Max (10m).
	Poll PollPolicy
	// MaxConcurrentReconciles is how many campaigns are reconciled at once (1 when zero).
	MaxConcurrentReconciles int
	polls                   *pollTracker
	checkedMu               sync.Mutex
	checked                 map[types.UID]checked
	credentials             credentialCache
	// senderSecrets remembers the data hash of each sender Secret written or seen, by
	// namespace/name, so that an unchanged one is not read again.
	senderSecrets sync.Map
	// stops remembers, by Job UID, whether a finished Job's sender stopped for quiet hours.
	stops   sync.Map
	metrics *campaignMetrics
}

// PollPolicy bounds the refresh of a collecting wave's aggregates.
type PollPolicy struct{ Min, Max time.Duration }

const (
	fieldRefs    = "surveys.surveyops.io/refs"
	defaultWin   = 14 * 24 * time.Hour
	maxRequeue   = 24 * time.Hour
	retryBackoff = 30 * time.Second
)

// SetupWithManager registers the reconciler: it owns Jobs and the sender Secret, and watches
// the Secrets and ConfigMaps campaigns refer to (by metadata only: their data is read when
// needed, never cached).
func (r *SurveyCampaignReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Poll.Min == 0 {
		r.Poll.Min = time.Minute
	}
	if r.Poll.Max == 0 {
		r.Poll.Max = 10 * time.Minute
	}
	r.polls = newPollTracker()
	r.checked = map[types.UID]checked{}
	r.metrics = registerCampaignMetrics()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.SurveyCampaign{}, fieldRefs, func(o client.Object) []string {
		return referencedObjects(&o.(*v1alpha1.SurveyCampaign).Spec)
	}); err != nil {
		return err
	}
	byRef := func(kind string) handler.EventHandler {
		return enqueueReferrers(r.Client, &v1alpha1.SurveyCampaignList{}, fieldRefs, func(o client.Object) string { return kind + "/" + o.GetName() })
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.SurveyCampaign{}).
		Owns(&batchv1.Job{}).
		Owns(&corev1.Secret{}, builder.OnlyMetadata).
		Watches(&corev1.Secret{}, byRef("secret"), builder.OnlyMetadata).
		Watches(&corev1.ConfigMap{}, byRef("configmap"), builder.OnlyMetadata).
		Named("surveycampaign").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Complete(r)
}

// referencedObjects lists the Secrets and ConfigMaps a campaign refers to, as "kind/name".
func referencedObjects(spec *v1alpha1.SurveyCampaignSpec) []string {
	var out []string
	if ref := spec.Audience.Source.SecretRef; ref != nil {
		out = append(out, "secret/"+ref.Name)
	}
	if ref := spec.Audience.Source.ConfigMapRef; ref != nil {
		out = append(out, "configmap/"+ref.Name)
	}
	for i := range spec.Channels {
		if ref := campaign.ChannelSecret(&spec.Channels[i]); ref != nil {
			out = append(out, "secret/"+ref.Name)
		}
	}
	return out
}

// run is one reconcile of one campaign.
type run struct {
	r       *SurveyCampaignReconciler
	c       *v1alpha1.SurveyCampaign
	now     time.Time
	jobs    map[string]*batchv1.Job
	mounted campaign.Mounted
	// channelKeys are the webhook channels' HMAC keys, for the wave snapshot.
	channelKeys map[string][]byte
	// wake is the earliest time something is due (zero: nothing).
	wake time.Time
	// sending is true while a Job of this campaign runs.
	sending bool
	// continuations are the parts of rounds to send now that quiet hours are over.
	continuations []campaign.Wave
	// events are recorded once the status is written.
	events *pendingEvents
}

func (u *run) wakeAt(t time.Time) {
	if !t.IsZero() && (u.wake.IsZero() || t.Before(u.wake)) {
		u.wake = t
	}
}

// Reconcile brings a campaign's waves and status up to date.
func (r *SurveyCampaignReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c v1alpha1.SurveyCampaign
	if err := r.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.Namespace, req.Name)
			r.polls.forgetCampaign(req.NamespacedName.String())
			r.senderSecrets.Delete(req.Namespace + "/" + campaign.SecretName(req.Name))
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := c.DeepCopy()
	u := &run{r: r, c: &c, now: r.Clock.Now(), events: &pendingEvents{rec: r.Recorder}}

	problems, err := u.checkCached(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var result ctrl.Result
	if len(problems) > 0 {
		// No new wave or reminder until it is fixed; the waves under way are still followed.
		u.stalled(problems)
		if err = u.listJobs(ctx); err == nil {
			u.followJobs(ctx)
			u.refreshResults(ctx)
		}
		u.summarize()
	} else {
		result, err = u.progress(ctx)
	}
	r.metrics.observe(&c)
	if perr := r.patchStatus(ctx, before, &c); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	u.events.flush()
	return result, err
}

// checked is a campaign's last check, reused while neither the campaign's generation nor any
// referenced object's resourceVersion has changed: a reconcile of an unchanged campaign reads
// nothing from the API server.
type checked struct {
	fingerprint string
	problems    campaign.Problems
	mounted     campaign.Mounted
	channelKeys map[string][]byte
}

// fingerprint identifies the inputs of check from the caches: the generation and the
// resourceVersion of each referenced Secret and ConfigMap (watched by metadata).
func (u *run) fingerprint(ctx context.Context) (string, error) {
	fp := strconv.FormatInt(u.c.Generation, 10)
	for _, ref := range referencedObjects(&u.c.Spec) {
		kind, name, _ := strings.Cut(ref, "/")
		obj := &metav1.PartialObjectMetadata{}
		if kind == "secret" {
			obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		} else {
			obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		}
		err := u.r.Get(ctx, types.NamespacedName{Namespace: u.c.Namespace, Name: name}, obj)
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
	u.r.checkedMu.Lock()
	last, ok := u.r.checked[u.c.UID]
	u.r.checkedMu.Unlock()
	if ok && last.fingerprint == fp {
		u.mounted, u.channelKeys = last.mounted, last.channelKeys
		return last.problems, nil
	}
	problems, err := u.check(ctx)
	if err != nil {
		return nil, err
	}
	u.r.checkedMu.Lock()
	u.r.checked[u.c.UID] = checked{fingerprint: fp, problems: problems, mounted: u.mounted, channelKeys: u.channelKeys}
	u.r.checkedMu.Unlock()
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
	var columns []string
	if data != nil {
		var err error
		if columns, err = campaign.Columns(src.Format, data); err != nil {
			ps = append(ps, campaign.Problem{Field: "spec.audience.source", Message: err.Error()})
		}
		u.mounted.Rows = campaign.CountRows(data)
	}
	u.mounted.SecretKeys = map[string]map[string]bool{}
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
		keys := map[string]bool{}
		for k := range s.Data {
			keys[k] = true
		}
		for _, k := range need {
			if !keys[k] {
				ps = append(ps, campaign.Problem{Field: field, Message: fmt.Sprintf("Secret %q has no key %q", ref.Name, k)})
			}
		}
		u.mounted.SecretKeys[ch.Name] = keys
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

// stalled records a spec that cannot make progress until it is changed. It warns once per
// distinct message.
func (u *run) stalled(ps campaign.Problems) {
	msg := truncate(ps.Error(), 1024)
	old := meta.FindStatusCondition(u.c.Status.Conditions, v1alpha1.ConditionStalled)
	if old == nil || old.Status != metav1.ConditionTrue || old.Message != msg {
		u.events.Eventf(u.c, nil, corev1.EventTypeWarning, "InvalidSpec", "Validate", "%s", msg)
	}
	u.condition(v1alpha1.ConditionStalled, metav1.ConditionTrue, "InvalidSpec", msg)
	u.condition(v1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidSpec", msg)
	u.condition(v1alpha1.ConditionReconciling, metav1.ConditionFalse, "InvalidSpec", "Waiting for the spec or a referenced object to change.")
	u.c.Status.ObservedGeneration = u.c.Generation
}

func (u *run) condition(t string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&u.c.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason,
		Message: msg, ObservedGeneration: u.c.Generation})
}

// progress runs a valid campaign: it follows its Jobs, starts the wave and reminders due,
// refreshes results, prunes history and sets the conditions.
func (u *run) progress(ctx context.Context) (ctrl.Result, error) {
	if err := u.listJobs(ctx); err != nil {
		return ctrl.Result{}, err
	}
	u.followJobs(ctx)
	var errs []error
	if err := u.recreateMissingJobs(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := u.startContinuations(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := u.startDueWave(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := u.sendReminders(ctx); err != nil {
		errs = append(errs, err)
	}
	u.refreshResults(ctx)
	if err := u.prune(ctx); err != nil {
		errs = append(errs, err)
	}
	u.settle(errors.Join(errs...))
	if err := errors.Join(errs...); err != nil {
		// The response service or the API server refused: back off, the workqueue's limiter
		// bounds the retries.
		return ctrl.Result{}, err
	}
	if u.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: min(maxRequeue, max(time.Second, u.wake.Sub(u.now)))}, nil
}

func (u *run) listJobs(ctx context.Context) error {
	var list batchv1.JobList
	if err := u.r.List(ctx, &list, client.InNamespace(u.c.Namespace), client.MatchingLabels{campaign.LabelCampaignUID: string(u.c.UID)}); err != nil {
		return err
	}
	u.jobs = map[string]*batchv1.Job{}
	for i := range list.Items {
		u.jobs[list.Items[i].Name] = &list.Items[i]
	}
	return nil
}

// jobState reads a Job: finished (Complete or Failed) and whether it failed.
func jobState(j *batchv1.Job) (finished, failed bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return true, false
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return true, true
		}
	}
	return false, false
}

// followJobs moves each wave's phase along with its sending Job.
func (u *run) followJobs(ctx context.Context) {
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase == v1alpha1.WaveClosed || w.Phase == v1alpha1.WaveFailed {
			continue
		}
		j, part := u.roundJob(w.ID, 0)
		if j == nil {
			if w.Phase != v1alpha1.WavePending { // a Pending wave's Job is made again, below
				w.Phase = v1alpha1.WaveFailed
				w.Message = "The sending Job was deleted before it finished."
				u.events.Eventf(u.c, nil, corev1.EventTypeWarning, "WaveFailed", "Send", "Wave %s: %s", w.ID, w.Message)
			}
			continue
		}
		finished, failed := jobState(j)
		switch {
		case failed:
			w.Phase = v1alpha1.WaveFailed
			w.Message = u.failureMessage(ctx, j)
			u.events.Eventf(u.c, j, corev1.EventTypeWarning, "WaveFailed", "Send", "Wave %s: %s", w.ID, w.Message)
		case finished && u.stoppedForQuiet(ctx, j):
			w.Phase = v1alpha1.WaveSending
			w.Message = u.pause(w, 0, part)
		case finished:
			w.Phase = v1alpha1.WaveCollecting
			w.Message = ""
		default:
			u.sending = true
			if j.Status.Active > 0 || (j.Status.Ready != nil && *j.Status.Ready > 0) {
				w.Phase = v1alpha1.WaveSending
			}
		}
	}
	// Reminder rounds stopped by quiet hours continue too.
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveCollecting {
			continue
		}
		for round := 1; round <= int(w.RemindersSent); round++ {
			if j, part := u.roundJob(w.ID, round); j != nil {
				if finished, failed := jobState(j); finished && !failed && u.stoppedForQuiet(ctx, j) {
					u.pause(w, round, part)
				}
			}
		}
	}
	// A reminder Job that runs keeps the campaign Reconciling too.
	for _, j := range u.jobs {
		if finished, _ := jobState(j); !finished {
			u.sending = true
		}
	}
}

// roundJob is the latest Job of a wave's round (the last part made) and its part.
func (u *run) roundJob(wave string, round int) (*batchv1.Job, int) {
	j := u.jobs[campaign.PartName(u.c.Name, wave, round, 0)]
	part := 0
	for j != nil {
		next := u.jobs[campaign.PartName(u.c.Name, wave, round, part+1)]
		if next == nil {
			break
		}
		j, part = next, part+1
	}
	return j, part
}

// stoppedForQuiet reports whether a complete Job's sender stopped at the start of quiet hours
// with some of its round unsent. The answer is read once per Job from its pods' termination
// messages.
func (u *run) stoppedForQuiet(ctx context.Context, j *batchv1.Job) bool {
	if v, ok := u.r.stops.Load(j.UID); ok {
		return v.(bool)
	}
	var pods corev1.PodList
	if err := u.r.APIReader.List(ctx, &pods, client.InNamespace(j.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": j.Name}); err != nil {
		return false // asked again next time
	}
	stopped := false
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				if sum, ok := jobfile.Termination(t.Message); ok && sum.Stopped == "quiet-hours" {
					stopped = true
				}
			}
		}
	}
	u.r.stops.Store(j.UID, stopped)
	return stopped
}

// pause plans the continuation of a round its sender left at the start of quiet hours: a Job
// for the next part once they end, within the wave's window. It returns the wave's message.
func (u *run) pause(w *v1alpha1.WaveStatus, round, part int) string {
	resume := u.now
	if q, ok := u.quietHours(); ok {
		resume = q.NextPermitted(u.now)
	}
	if w.CloseTime != nil && !resume.Before(w.CloseTime.Time) {
		return "Stopped for quiet hours; the window closes before they end."
	}
	if u.now.Before(resume) {
		u.wakeAt(resume)
	} else {
		u.continuations = append(u.continuations, campaign.Wave{ID: w.ID, Round: round, Part: part + 1,
			Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time})
	}
	return "Paused for quiet hours; sending resumes at " + resume.UTC().Format(time.RFC3339) + "."
}

func (u *run) quietHours() (schedule.QuietHours, bool) {
	sc := u.c.Spec.Schedule
	if sc == nil || sc.QuietHours == nil {
		return schedule.QuietHours{}, false
	}
	loc, err := schedule.LoadLocation(sc.TimeZone)
	if err != nil {
		return schedule.QuietHours{}, false
	}
	q, err := schedule.ParseQuietHours(sc.QuietHours.Start, sc.QuietHours.End, loc)
	return q, err == nil
}

// startContinuations makes the Jobs that resume rounds after quiet hours.
func (u *run) startContinuations(ctx context.Context) error {
	for _, w := range u.continuations {
		if err := u.ensureSenderSecret(ctx); err != nil {
			return fmt.Errorf("the sender Secret: %w", err)
		}
		name, err := u.createJob(ctx, w)
		if err != nil {
			return err
		}
		u.sending = true
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, "SendingResumed", "Send",
			"Wave %s: quiet hours are over, Job %s sends the rest of round %d.", w.ID, name, w.Round)
	}
	return nil
}

// recreateMissingJobs makes again the Job of a Pending wave that has none: deleted before it
// ran, or not yet in the cache (then the create is AlreadyExists and the Job is adopted). A
// resend is safe: the ledger skips what was sent.
func (u *run) recreateMissingJobs(ctx context.Context) error {
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase == v1alpha1.WavePending && w.Message == requestedMessage && u.jobs[w.JobName] != nil {
			w.Message = "" // started by an earlier pass whose status write was lost
		}
		if w.Phase != v1alpha1.WavePending || w.JobName == "" || u.jobs[w.JobName] != nil || w.CloseTime == nil {
			continue
		}
		if err := u.ensureSenderSecret(ctx); err != nil {
			return fmt.Errorf("the sender Secret: %w", err)
		}
		wave := campaign.Wave{ID: w.ID, Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time}
		// Registered again (a no-op when it is): a requested wave is recorded before it is
		// registered. A conflict means it is registered with the snapshot of an earlier spec,
		// which its links already carry: the Job is made all the same.
		var conflict *responseapi.StatusError
		if err := u.register(ctx, wave); err != nil && !(errors.As(err, &conflict) && conflict.Status == http.StatusConflict) {
			return err
		}
		first := w.Message == requestedMessage
		if _, err := u.createJob(ctx, wave); err != nil {
			return err
		}
		if first {
			w.Message = ""
			u.events.Eventf(u.c, nil, corev1.EventTypeNormal, "WaveStarted", "Send", "Wave %s started: Job %s sends the invitations.", w.ID, w.JobName)
		}
		u.sending = true
	}
	return nil
}

// failureMessage is the sender's own account of a failed Job: its termination summary, which
// holds counts and reasons only.
func (u *run) failureMessage(ctx context.Context, j *batchv1.Job) string {
	msg := "The sending Job failed."
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Message != "" {
			msg = "The sending Job failed: " + c.Message
		}
	}
	var pods corev1.PodList
	if err := u.r.APIReader.List(ctx, &pods, client.InNamespace(j.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": j.Name}); err != nil {
		return msg
	}
	var latest time.Time
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			t := cs.State.Terminated
			if t == nil || t.Message == "" || t.FinishedAt.Time.Before(latest) {
				continue
			}
			if sum, ok := jobfile.Termination(t.Message); ok && sum.Error != "" {
				latest = t.FinishedAt.Time
				msg = "The sender stopped: " + sum.Error
			}
		}
	}
	return truncate(msg, 1024)
}

func (u *run) window() time.Duration {
	if sc := u.c.Spec.Schedule; sc != nil && sc.ResponseWindow != "" {
		if d, err := time.ParseDuration(string(sc.ResponseWindow)); err == nil {
			return d
		}
	}
	return defaultWin
}

// startDueWave starts the wave that is due now: asked for with the requestedAt annotation, the
// one wave of a campaign without cron, or the latest due time of its schedule under the
// catch-up policy.
func (u *run) startDueWave(ctx context.Context) error {
	spec := &u.c.Spec
	status := &u.c.Status
	var sched schedule.Schedule
	var deadline time.Duration
	if sc := spec.Schedule; sc != nil && sc.Cron != "" {
		var err error
		if sched, err = schedule.Parse(sc.Cron, sc.TimeZone); err != nil {
			return err // validated already
		}
		if sc.StartingDeadline != "" {
			deadline, _ = time.ParseDuration(string(sc.StartingDeadline))
		}
	}
	if spec.Suspend {
		status.NextWaveTime = nil
		return nil
	}
	if v := u.c.Annotations[v1alpha1.AnnotationRequestedAt]; v != "" && v != status.LastHandledRequestedAt {
		// A requested wave's time is the moment it is handled, which a retry after a lost
		// status write would not see again: it is recorded, Pending, before anything is
		// registered or created, and started from the record on the next pass (by
		// recreateMissingJobs), so every attempt registers the same snapshot.
		if id := campaign.RequestedWaveID(v); u.wave(id) == nil {
			w := campaign.Wave{ID: id, Scheduled: u.now, Closes: u.now.Add(u.window())}
			u.c.Status.Waves = append([]v1alpha1.WaveStatus{{ID: id, ScheduledTime: metav1.Time{Time: w.Scheduled},
				Phase: v1alpha1.WavePending, JobName: campaign.JobName(u.c.Name, id, 0), CloseTime: &metav1.Time{Time: w.Closes},
				Message: requestedMessage}}, u.c.Status.Waves...)
			sortWaves(u.c.Status.Waves)
			if status.LastWaveTime == nil || u.now.After(status.LastWaveTime.Time) {
				status.LastWaveTime = &metav1.Time{Time: u.now}
			}
			u.sending = true
			u.wakeAt(u.now.Add(time.Second))
		}
		status.LastHandledRequestedAt = v
	}

	// The latest wave started, requested or skipped; before the first, the campaign's creation.
	last := u.c.CreationTimestamp.Time
	if status.LastWaveTime != nil && status.LastWaveTime.After(last) {
		last = status.LastWaveTime.Time
	}
	for _, w := range status.Waves {
		if w.ScheduledTime.After(last) {
			last = w.ScheduledTime.Time
		}
	}
	if sched.IsZero() {
		status.NextWaveTime = nil
		if len(status.Waves) == 0 && status.LastWaveTime == nil {
			// No schedule: one wave, at once.
			return u.startWave(ctx, campaign.WaveID(u.c.CreationTimestamp.Time), u.c.CreationTimestamp.Time)
		}
		return nil
	}
	due := sched.Due(last, u.now, deadline)
	if due.TooLate && u.wave(campaign.WaveID(due.Skipped)) == nil {
		// Recorded as a wave that never started, so that it is reported once and the schedule
		// moves on.
		msg := fmt.Sprintf("Not started: the manager reached it %s late, past startingDeadline %s.",
			u.now.Sub(due.Skipped).Round(time.Second), deadline)
		u.c.Status.Waves = append(u.c.Status.Waves, v1alpha1.WaveStatus{ID: campaign.WaveID(due.Skipped),
			ScheduledTime: metav1.Time{Time: due.Skipped}, Phase: v1alpha1.WaveFailed, Message: msg})
		sortWaves(u.c.Status.Waves)
		u.events.Eventf(u.c, nil, corev1.EventTypeWarning, "WaveMissed", "Schedule", "Wave %s: %s", campaign.WaveID(due.Skipped), msg)
	}
	if !due.Time.IsZero() {
		if err := u.startWave(ctx, campaign.WaveID(due.Time), due.Time); err != nil {
			return err
		}
	}
	if !due.Next.IsZero() {
		status.NextWaveTime = &metav1.Time{Time: due.Next}
		u.wakeAt(due.Next)
	}
	return nil
}

func (u *run) wave(id string) *v1alpha1.WaveStatus {
	for i := range u.c.Status.Waves {
		if u.c.Status.Waves[i].ID == id {
			return &u.c.Status.Waves[i]
		}
	}
	return nil
}

// startWave registers the wave's snapshot with the response service and creates its Job. It
// is safe to repeat: the snapshot PUT is idempotent and the Job's name is the wave's.
func (u *run) startWave(ctx context.Context, id string, due time.Time) error {
	if u.wave(id) != nil {
		return nil
	}
	w := campaign.Wave{ID: id, Scheduled: due, Closes: due.Add(u.window())}
	if err := u.ensureSenderSecret(ctx); err != nil {
		return fmt.Errorf("the sender Secret: %w", err)
	}
	if err := u.register(ctx, w); err != nil {
		return err
	}
	name, err := u.createJob(ctx, w)
	if err != nil {
		return err
	}
	u.c.Status.Waves = append([]v1alpha1.WaveStatus{{ID: id, ScheduledTime: metav1.Time{Time: due}, Phase: v1alpha1.WavePending,
		JobName: name, CloseTime: &metav1.Time{Time: w.Closes}}}, u.c.Status.Waves...)
	sortWaves(u.c.Status.Waves)
	if u.c.Status.LastWaveTime == nil || due.After(u.c.Status.LastWaveTime.Time) {
		u.c.Status.LastWaveTime = &metav1.Time{Time: due}
	}
	u.sending = true
	u.events.Eventf(u.c, nil, corev1.EventTypeNormal, "WaveStarted", "Send", "Wave %s started: Job %s sends the invitations.", id, name)
	return nil
}

// requestedMessage is the message of a requested wave recorded but not yet started.
const requestedMessage = "Requested; starting."

// register puts the wave's snapshot to the response service (idempotent for the same snapshot).
func (u *run) register(ctx context.Context, w campaign.Wave) error {
	reg := responseapi.WaveRegistration{Namespace: u.c.Namespace, Campaign: u.c.Name, Definition: campaign.Definition(&u.c.Spec.Survey),
		OpensAt: w.Scheduled, ClosesAt: w.Closes, ChannelKeys: u.channelKeys}
	if err := u.r.Responses.PutWave(ctx, string(u.c.UID), w.ID, reg); err != nil {
		u.condition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, "WaitingForResponseService",
			truncate("Wave "+w.ID+" cannot start until the response service registers it: "+err.Error(), 1024))
		return fmt.Errorf("registering wave %s: %w", w.ID, err)
	}
	return nil
}

func sortWaves(ws []v1alpha1.WaveStatus) {
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].ScheduledTime.After(ws[j].ScheduledTime.Time) })
}

// createJob creates a round's Job, or adopts the one that already exists under its name.
func (u *run) createJob(ctx context.Context, w campaign.Wave) (string, error) {
	job, err := campaign.BuildJob(u.c, w, u.mounted, u.r.Settings)
	if err != nil {
		return "", err
	}
	if existing := u.jobs[job.Name]; existing != nil {
		return job.Name, nil
	}
	if err := controllerutil.SetControllerReference(u.c, job, u.r.Scheme); err != nil {
		return "", err
	}
	err = u.r.Create(ctx, job)
	if apierrors.IsAlreadyExists(err) {
		// Created by an earlier reconcile whose status write was lost, or not yet in the cache:
		// adopt it if it is this campaign's.
		var existing batchv1.Job
		if err := u.r.Get(ctx, client.ObjectKeyFromObject(job), &existing); err != nil {
			return "", err
		}
		if existing.Labels[campaign.LabelCampaignUID] != string(u.c.UID) {
			return "", fmt.Errorf("a Job named %s exists and is not this campaign's", job.Name)
		}
		u.jobs[job.Name] = &existing
		return job.Name, nil
	}
	if err != nil {
		return "", err
	}
	u.jobs[job.Name] = job
	return job.Name, nil
}

// credentialCache holds the manager's credentials for a minute, so that a burst of waves does
// not read them once each.
type credentialCache struct {
	mu   sync.Mutex
	at   time.Time
	data map[string][]byte
	ids  []string
}

const credentialTTL = time.Minute

// senderData is what the sender Secrets hold: the API token and the link-signing keys.
func (r *SurveyCampaignReconciler) senderData(ctx context.Context) (map[string][]byte, []string, error) {
	c := &r.credentials
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data != nil && time.Since(c.at) < credentialTTL {
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
	c.data, c.ids, c.at = data, ids, time.Now()
	return data, ids, nil
}

func dataHash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%x;", k, data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ensureSenderSecret keeps the campaign's sender Secret equal to the manager's credentials:
// the API token and the link-signing keys. It writes only when they differ, and reads it only
// when it is not known to be up to date (its deletion is watched).
func (u *run) ensureSenderSecret(ctx context.Context) error {
	data, ids, err := u.r.senderData(ctx)
	if err != nil {
		return err
	}
	u.mounted.TokenKeyIDs = ids
	want := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: campaign.SecretName(u.c.Name), Namespace: u.c.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "survey-operator", campaign.LabelCampaignUID: string(u.c.UID)}},
		Type: corev1.SecretTypeOpaque, Data: data}
	key := want.Namespace + "/" + want.Name
	hash := dataHash(data) + "/" + string(u.c.UID)
	if known, ok := u.r.senderSecrets.Load(key); ok && known == hash {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := u.r.Get(ctx, client.ObjectKeyFromObject(want), meta); err == nil {
			return nil
		}
	}
	if err := controllerutil.SetControllerReference(u.c, want, u.r.Scheme); err != nil {
		return err
	}
	var have corev1.Secret
	err = u.r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), &have)
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
	if err == nil {
		u.r.senderSecrets.Store(key, hash)
	}
	return err
}

// reminders are the offsets of the reminder rounds.
func (u *run) reminders() []time.Duration {
	sc := u.c.Spec.Schedule
	if sc == nil {
		return nil
	}
	var out []time.Duration
	for _, r := range sc.Reminders {
		if d, err := time.ParseDuration(string(r)); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// reminderDue is when round n (1-based) of a wave is due: its offset from the wave's start,
// deferred to the end of quiet hours.
func (u *run) reminderDue(w *v1alpha1.WaveStatus, offset time.Duration) time.Time {
	t := w.ScheduledTime.Add(offset)
	if q, ok := u.quietHours(); ok {
		t = q.NextPermitted(t)
	}
	return t
}

// sendReminders starts the reminder round due for each collecting wave, one round at a time.
func (u *run) sendReminders(ctx context.Context) error {
	offsets := u.reminders()
	if len(offsets) == 0 || u.c.Spec.Suspend {
		return nil
	}
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveCollecting || int(w.RemindersSent) >= len(offsets) {
			continue
		}
		round := int(w.RemindersSent) + 1
		if prev, _ := u.roundJob(w.ID, round-1); round > 1 && prev != nil {
			if finished, failed := jobState(prev); !finished || !failed && u.stoppedForQuiet(ctx, prev) {
				continue // the previous reminder round still sends, or waits for quiet hours to end
			}
		}
		due := u.reminderDue(w, offsets[round-1])
		if w.CloseTime != nil && !due.Before(w.CloseTime.Time) {
			continue
		}
		if u.now.Before(due) {
			u.wakeAt(due)
			continue
		}
		cw := campaign.Wave{ID: w.ID, Round: round, Scheduled: w.ScheduledTime.Time, Closes: w.CloseTime.Time}
		if err := u.ensureSenderSecret(ctx); err != nil {
			return fmt.Errorf("the sender Secret: %w", err)
		}
		name, err := u.createJob(ctx, cw)
		if err != nil {
			return err
		}
		w.RemindersSent = int32(round)
		u.sending = true
		u.events.Eventf(u.c, nil, corev1.EventTypeNormal, "ReminderStarted", "Send",
			"Wave %s: reminder %d to those who have not answered, Job %s.", w.ID, round, name)
	}
	return nil
}

// refreshResults asks the response service for the aggregates of the waves that collect, at
// most as often as the poll policy allows, and closes the waves whose window has ended.
func (u *run) refreshResults(ctx context.Context) {
	logger := log.FromContext(ctx)
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveSending && w.Phase != v1alpha1.WaveCollecting {
			continue
		}
		closing := w.Phase == v1alpha1.WaveCollecting && w.CloseTime != nil && !u.now.Before(w.CloseTime.Time)
		key := u.c.Namespace + "/" + u.c.Name + "/" + w.ID
		if next := u.r.polls.due(key); !closing && u.now.Before(next) && !next.IsZero() {
			u.wakeAt(next)
			continue
		}
		sum, err := u.r.Responses.Summary(ctx, string(u.c.UID), w.ID, u.c.Spec.Survey.PrimaryQuestionID())
		if err != nil {
			logger.Info("the response service did not answer; the figures wait", "wave", w.ID, "error", err.Error())
			u.wakeAt(u.now.Add(retryBackoff))
			continue
		}
		res := campaign.Score(&u.c.Spec, sum)
		before := w.DeepCopy()
		applyResults(w, res)
		u.wakeAt(u.r.polls.polled(key, u.now, !equality.Semantic.DeepEqual(before, w), u.r.Poll))
		if closing {
			w.Phase = v1alpha1.WaveClosed
			u.r.polls.forget(key)
			u.events.Eventf(u.c, nil, corev1.EventTypeNormal, "WaveClosed", "Collect", "Wave %s closed: %d of %d responded (%s%%), score %s.",
				w.ID, w.Responded, w.Invited, orDash(string(w.ResponseRate)), orDash(campaign.ScoreText(u.primary(), res.Primary)))
		} else if w.CloseTime != nil {
			u.wakeAt(w.CloseTime.Time)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (u *run) primary() *v1alpha1.Question {
	id := u.c.Spec.Survey.PrimaryQuestionID()
	for i := range u.c.Spec.Survey.Questions {
		if u.c.Spec.Survey.Questions[i].ID == id {
			return &u.c.Spec.Survey.Questions[i]
		}
	}
	return nil
}

func applyResults(w *v1alpha1.WaveStatus, r campaign.Results) {
	w.Invited, w.Delivered, w.Failed, w.OptedOut, w.Responded = r.Invited, r.Delivered, r.Failed, r.OptedOut, r.Responded
	w.ResponseRate = r.ResponseRate
	w.Scores, w.Segments, w.Channels, w.Drivers = r.Scores, r.Segments, r.Channels, r.Drivers
	w.Targets, w.Benchmarks = r.Targets, r.Benchmarks
}

// prune keeps spec.historyLimit waves in status and deletes the Jobs of the waves dropped.
// Waves that still send or collect are never dropped.
func (u *run) prune(ctx context.Context) error {
	limit := 8
	if u.c.Spec.HistoryLimit != nil {
		limit = int(*u.c.Spec.HistoryLimit)
	}
	waves := u.c.Status.Waves
	keep := waves[:0:0]
	dropped := map[string]bool{}
	for i, w := range waves {
		done := w.Phase == v1alpha1.WaveClosed || w.Phase == v1alpha1.WaveFailed
		if i < limit || !done {
			keep = append(keep, w)
			continue
		}
		dropped[w.ID] = true
	}
	u.c.Status.Waves = keep
	for _, j := range u.jobs {
		if !dropped[j.Labels[campaign.LabelWave]] {
			continue
		}
		if err := u.r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// settle sets the conditions of a valid campaign, kstatus-style: Reconciling while a Job sends
// or the latest spec is not yet acted on, Ready when nothing is wrong, Stalled never (a broken
// spec is handled by stalled).
func (u *run) settle(err error) {
	st := &u.c.Status
	st.ObservedGeneration = u.c.Generation
	u.condition(v1alpha1.ConditionStalled, metav1.ConditionFalse, "Valid", "The spec is valid.")
	var latest *v1alpha1.WaveStatus
	if len(st.Waves) > 0 {
		latest = &st.Waves[0]
	}
	switch {
	case err != nil:
		reason := "Retrying"
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReconciling); c != nil && c.Reason == "WaitingForResponseService" && c.Status == metav1.ConditionTrue {
			reason = c.Reason
		}
		u.condition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, truncate(err.Error(), 1024))
		u.condition(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, truncate(err.Error(), 1024))
		return
	case u.sending:
		u.condition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, "Sending", "A sending Job is running.")
	default:
		u.condition(v1alpha1.ConditionReconciling, metav1.ConditionFalse, "Settled", "No Job is running.")
	}
	failed := latest != nil && latest.Phase == v1alpha1.WaveFailed && latest.JobName != ""
	if failed {
		// The latest wave's sender failed (a bad audience line, the ledger unreachable, the
		// deadline passed): it needs someone to look, and the next wave or a requested one
		// clears it.
		u.condition(v1alpha1.ConditionStalled, metav1.ConditionTrue, "WaveFailed", truncate("Wave "+latest.ID+": "+latest.Message, 1024))
	}
	switch {
	case failed:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaveFailed", truncate("Wave "+latest.ID+": "+latest.Message, 1024))
	case latest != nil && latest.Phase == v1alpha1.WaveFailed:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionTrue, "WaveSkipped", truncate("Wave "+latest.ID+": "+latest.Message, 1024))
	case u.c.Spec.Suspend:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionTrue, "Suspended", "The campaign is suspended: no new waves or reminders.")
	case u.sending:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionFalse, "Sending", "A sending Job is running.")
	case latest != nil:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionTrue, "Wave"+string(latest.Phase), "Wave "+latest.ID+" is "+string(latest.Phase)+".")
	default:
		u.condition(v1alpha1.ConditionReady, metav1.ConditionTrue, "Scheduled", "Waiting for the first wave.")
	}

	u.summarize()
}

// summarize sets the summary columns and TargetsMet from the latest wave with invitations.
func (u *run) summarize() {
	st := &u.c.Status
	for i := range st.Waves {
		w := &st.Waves[i]
		if w.Invited == 0 {
			continue
		}
		st.ResponseRate = w.ResponseRate
		st.Score = campaign.ScoreLabel(u.primary(), w.Scores)
		met, known := campaign.TargetsMet(w.Targets)
		switch {
		case len(w.Targets) == 0:
			meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionTargetsMet)
		case !known:
			u.condition(v1alpha1.ConditionTargetsMet, metav1.ConditionUnknown, "NotEnoughData", "Wave "+w.ID+" has not enough responses for every target yet.")
		case met:
			u.condition(v1alpha1.ConditionTargetsMet, metav1.ConditionTrue, "TargetsMet", "Wave "+w.ID+" meets every target.")
		default:
			u.condition(v1alpha1.ConditionTargetsMet, metav1.ConditionFalse, "TargetsMissed", "Wave "+w.ID+" misses: "+missed(w.Targets)+".")
		}
		break
	}
}

func missed(vs []v1alpha1.TargetVerdict) string {
	out := ""
	for _, v := range vs {
		if v.Verdict == v1alpha1.VerdictNotMet {
			if out != "" {
				out += ", "
			}
			out += v.Target + " (" + string(v.Actual) + ")"
		}
	}
	return out
}

// patchStatus writes the status with a merge patch, only when it changed.
func (r *SurveyCampaignReconciler) patchStatus(ctx context.Context, before, after *v1alpha1.SurveyCampaign) error {
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	return r.Status().Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
