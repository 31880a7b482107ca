package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/followup"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=followups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=followups/finalizers,verbs=update

// FollowUpService is what the FollowUp reconciler asks of the response service
// (responseapi.Client).
type FollowUpService interface {
	PutFollowUp(ctx context.Context, uid string, reg responseapi.FollowUpRegistration) error
	DeleteFollowUp(ctx context.Context, uid string) error
	SweepFollowUp(ctx context.Context, uid string) (responseapi.CaseStats, error)
	FollowUpStats(ctx context.Context, uid string) (responseapi.CaseStats, error)
}

// FollowUpReconciler registers FollowUps' rules with the response service and reports their
// cases against the service standard.
type FollowUpReconciler struct {
	client.Client
	// APIReader reads the ticket webhook's Secret, which is watched by metadata only.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Responses FollowUpService
	// Poll is how often the cases of a FollowUp with open cases are counted (1m); one with none
	// is counted every Idle (10m).
	Poll, Idle time.Duration
	// ContactInterval is the least time between two contact Jobs of a FollowUp (5m); at most
	// one runs at a time.
	ContactInterval time.Duration
	// Settings are the sending Jobs' (image, response service URLs), as for campaigns.
	Settings campaign.Settings
	// CaseLinkLifetime is how long a case's "is it sorted?" link works (90 days), at least
	// until the case's resolution is due.
	CaseLinkLifetime time.Duration

	registered sync.Map // FollowUp UID → hash of the registration last accepted
	ticketKeys sync.Map // FollowUp UID → ticketKey read at a Secret resourceVersion
	metrics    *followUpMetrics
}

const (
	finalizerDeactivate = "surveys.surveyops.io/deactivate-rule"
	fieldCampaignRef    = "surveys.surveyops.io/campaign-ref"
	fieldTicketSecret   = "surveys.surveyops.io/ticket-secret"
)

type ticketKey struct {
	resourceVersion string
	key             []byte
}

// SetupWithManager registers the reconciler; a FollowUp is looked at again when its campaign
// changes.
func (r *FollowUpReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Poll == 0 {
		r.Poll = time.Minute
	}
	if r.Idle == 0 {
		r.Idle = 10 * time.Minute
	}
	if r.ContactInterval == 0 {
		r.ContactInterval = 5 * time.Minute
	}
	if r.CaseLinkLifetime == 0 {
		r.CaseLinkLifetime = 90 * 24 * time.Hour
	}
	r.metrics = registerFollowUpMetrics()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.FollowUp{}, fieldCampaignRef, func(o client.Object) []string {
		return []string{o.(*v1alpha1.FollowUp).Spec.CampaignRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.FollowUp{}, fieldTicketSecret, func(o client.Object) []string {
		if t := o.(*v1alpha1.FollowUp).Spec.Ticket; t != nil && t.Webhook.SecretRef != nil {
			return []string{t.Webhook.SecretRef.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	byIndex := func(field string) handler.EventHandler {
		return enqueueReferrers(r.Client, &v1alpha1.FollowUpList{}, field, func(o client.Object) string { return o.GetName() })
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.FollowUp{}).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Secret{}, byIndex(fieldTicketSecret), builder.OnlyMetadata).
		Watches(&v1alpha1.SurveyCampaign{}, byIndex(fieldCampaignRef)).
		Named("followup").
		Complete(r)
}

// Reconcile registers a FollowUp's rule and reports its cases.
func (r *FollowUpReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var fu v1alpha1.FollowUp
	if err := r.Get(ctx, req.NamespacedName, &fu); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fu.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &fu)
	}
	if !controllerutil.ContainsFinalizer(&fu, finalizerDeactivate) {
		// So that deleting the FollowUp stops its rule (its cases stay for the reports).
		patch := client.MergeFrom(fu.DeepCopy())
		controllerutil.AddFinalizer(&fu, finalizerDeactivate)
		if err := r.Patch(ctx, &fu, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := fu.DeepCopy()
	ev := &pendingEvents{rec: r.Recorder}
	result, err := r.follow(ctx, &fu, ev)
	r.metrics.observe(&fu)
	if perr := r.patchStatus(ctx, before, &fu); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	ev.flush()
	return result, err
}

func (r *FollowUpReconciler) finalize(ctx context.Context, fu *v1alpha1.FollowUp) error {
	if !controllerutil.ContainsFinalizer(fu, finalizerDeactivate) {
		return nil
	}
	if err := r.Responses.DeleteFollowUp(ctx, string(fu.UID)); err != nil {
		return fmt.Errorf("deactivating the rule: %w", err)
	}
	r.registered.Delete(fu.UID)
	r.ticketKeys.Delete(fu.UID)
	patch := client.MergeFrom(fu.DeepCopy())
	controllerutil.RemoveFinalizer(fu, finalizerDeactivate)
	return r.Patch(ctx, fu, patch)
}

func (r *FollowUpReconciler) condition(fu *v1alpha1.FollowUp, t string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&fu.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg,
		ObservedGeneration: fu.Generation})
}

func (r *FollowUpReconciler) stalled(fu *v1alpha1.FollowUp, ps campaign.Problems, ev *pendingEvents) {
	msg := truncate(ps.Error(), 1024)
	if old := meta.FindStatusCondition(fu.Status.Conditions, v1alpha1.ConditionStalled); old == nil || old.Status != metav1.ConditionTrue || old.Message != msg {
		ev.Eventf(fu, nil, corev1.EventTypeWarning, "InvalidSpec", "Validate", "%s", msg)
	}
	r.condition(fu, v1alpha1.ConditionStalled, metav1.ConditionTrue, "InvalidSpec", msg)
	r.condition(fu, v1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidSpec", msg)
	r.condition(fu, v1alpha1.ConditionReconciling, metav1.ConditionFalse, "InvalidSpec", "Waiting for the spec or the campaign to change.")
	fu.Status.ObservedGeneration = fu.Generation
}

// follow checks the FollowUp against its campaign, registers its rule when it changed, and
// counts its cases.
func (r *FollowUpReconciler) follow(ctx context.Context, fu *v1alpha1.FollowUp, ev *pendingEvents) (ctrl.Result, error) {
	var c v1alpha1.SurveyCampaign
	err := r.Get(ctx, types.NamespacedName{Namespace: fu.Namespace, Name: fu.Spec.CampaignRef.Name}, &c)
	switch {
	case apierrors.IsNotFound(err):
		r.stalled(fu, campaign.Problems{{Field: "spec.campaignRef.name", Message: fmt.Sprintf("SurveyCampaign %q not found", fu.Spec.CampaignRef.Name)}}, ev)
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	if ps := followup.Validate(&fu.Spec, &c.Spec); len(ps) > 0 {
		r.stalled(fu, ps, ev)
		return ctrl.Result{}, nil
	}
	key, problem, err := r.ticketKey(ctx, fu)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem != nil {
		r.stalled(fu, campaign.Problems{*problem}, ev)
		return ctrl.Result{}, nil
	}
	r.condition(fu, v1alpha1.ConditionStalled, metav1.ConditionFalse, "Valid", "The spec is valid.")
	fu.Status.ObservedGeneration = fu.Generation

	reg := followup.Registration(fu, string(c.UID), true)
	reg.TicketKey = key
	raw, _ := json.Marshal(reg)
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	if known, ok := r.registered.Load(fu.UID); !ok || known != hash {
		if err := r.Responses.PutFollowUp(ctx, string(fu.UID), reg); err != nil {
			return r.waiting(fu, fmt.Errorf("registering the rule with the response service: %w", err))
		}
		r.registered.Store(fu.UID, hash)
	}
	var stats responseapi.CaseStats
	if fu.Spec.Trigger.Type == v1alpha1.TriggerNonResponse {
		stats, err = r.Responses.SweepFollowUp(ctx, string(fu.UID))
	} else {
		stats, err = r.Responses.FollowUpStats(ctx, string(fu.UID))
	}
	if err != nil {
		return r.waiting(fu, fmt.Errorf("counting cases at the response service: %w", err))
	}
	if stats.Opened > 0 {
		ev.Eventf(fu, nil, corev1.EventTypeNormal, "CasesOpened", "Follow", "%d people who have not answered are now followed up.", stats.Opened)
	}
	followup.Apply(&fu.Status, stats)
	r.sla(fu, ev)
	running, wake, err := r.contact(ctx, fu, &c, stats, ev)
	if err != nil {
		return r.waiting(fu, err)
	}
	if running {
		r.condition(fu, v1alpha1.ConditionReconciling, metav1.ConditionTrue, "Contacting", "A contact Job is running.")
	} else {
		r.condition(fu, v1alpha1.ConditionReconciling, metav1.ConditionFalse, "Following", "The rule is registered and its cases counted.")
	}
	if fu.Spec.Suspend {
		r.condition(fu, v1alpha1.ConditionReady, metav1.ConditionTrue, "Suspended", "Suspended: cases are still opened and counted; nobody is contacted.")
	} else {
		r.condition(fu, v1alpha1.ConditionReady, metav1.ConditionTrue, "Following", "The rule is registered with the response service.")
	}
	after := r.Idle
	if fu.Status.Matched > fu.Status.Resolved || fu.Spec.Trigger.Type == v1alpha1.TriggerNonResponse {
		after = r.Poll
	}
	if !wake.IsZero() {
		after = min(after, max(time.Second, wake.Sub(r.Clock.Now())))
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// contact starts a contact Job when cases wait for contact, none runs, the last started at
// least ContactInterval ago, the FollowUp is not suspended and it is not quiet hours. It
// reports whether a contact Job runs, and when to look again for the next one.
func (r *FollowUpReconciler) contact(ctx context.Context, fu *v1alpha1.FollowUp, c *v1alpha1.SurveyCampaign,
	stats responseapi.CaseStats, ev *pendingEvents) (running bool, wake time.Time, err error) {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(fu.Namespace), client.MatchingLabels{campaign.LabelFollowUpUID: string(fu.UID)}); err != nil {
		return false, wake, err
	}
	for i := range jobs.Items {
		if finished, _ := jobState(&jobs.Items[i]); !finished {
			running = true
		}
		// The Jobs say how many were made, should a status write have been lost.
		if n, err := strconv.Atoi(jobs.Items[i].Labels[campaign.LabelBatch]); err == nil && int32(n) > fu.Status.ContactJobs {
			fu.Status.ContactJobs = int32(n)
			if fu.Status.LastContactTime == nil || jobs.Items[i].CreationTimestamp.After(fu.Status.LastContactTime.Time) {
				fu.Status.LastContactTime = &metav1.Time{Time: jobs.Items[i].CreationTimestamp.Time}
			}
		}
	}
	if err := r.pruneContactJobs(ctx, jobs.Items); err != nil {
		return running, wake, err
	}
	now := r.Clock.Now()
	switch {
	case running || fu.Spec.Suspend || stats.ToContact == 0:
		return running, wake, nil
	case fu.Status.LastContactTime != nil && now.Sub(fu.Status.LastContactTime.Time) < r.ContactInterval:
		return false, fu.Status.LastContactTime.Add(r.ContactInterval), nil
	}
	if sc := c.Spec.Schedule; sc != nil && sc.QuietHours != nil {
		if loc, err := schedule.LoadLocation(sc.TimeZone); err == nil {
			if q, err := schedule.ParseQuietHours(sc.QuietHours.Start, sc.QuietHours.End, loc); err == nil && q.Quiet(now) {
				return false, q.NextPermitted(now), nil
			}
		}
	}
	m, err := r.mounted(ctx, fu, c)
	if err != nil {
		return false, wake, err
	}
	expiry := now.Add(r.CaseLinkLifetime)
	if sla := fu.Spec.SLA; sla != nil && sla.ResolveWithin != "" {
		if d, err := time.ParseDuration(string(sla.ResolveWithin)); err == nil && now.Add(2*d).After(expiry) {
			expiry = now.Add(2 * d)
		}
	}
	n := int(fu.Status.ContactJobs) + 1
	job, err := campaign.BuildFollowUpJob(c, fu, n, m, r.Settings, expiry)
	if err != nil {
		return false, wake, err
	}
	if err := controllerutil.SetControllerReference(fu, job, r.Scheme()); err != nil {
		return false, wake, err
	}
	err = r.Create(ctx, job)
	if apierrors.IsAlreadyExists(err) {
		// Made by an earlier reconcile whose status write was lost: adopt it if it is ours.
		var existing batchv1.Job
		if err := r.Get(ctx, client.ObjectKeyFromObject(job), &existing); err != nil {
			return false, wake, err
		}
		if existing.Labels[campaign.LabelFollowUpUID] != string(fu.UID) {
			return false, wake, fmt.Errorf("a Job named %s exists and is not this FollowUp's", job.Name)
		}
		err = nil
	}
	if err != nil {
		return false, wake, err
	}
	fu.Status.ContactJobs = int32(n)
	fu.Status.LastContactTime = &metav1.Time{Time: now}
	ev.Eventf(fu, nil, corev1.EventTypeNormal, "ContactStarted", "Contact", "Job %s contacts %d people.", job.Name, stats.ToContact)
	return true, wake, nil
}

// mounted is what a contact Job mounts: the link-signing key ids of the campaign's sender
// Secret, and the keys present in the channels' and the ticket's Secrets.
func (r *FollowUpReconciler) mounted(ctx context.Context, fu *v1alpha1.FollowUp, c *v1alpha1.SurveyCampaign) (campaign.Mounted, error) {
	m := campaign.Mounted{SecretKeys: map[string]map[string]bool{}}
	keysOf := func(name string) (map[string]bool, error) {
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: fu.Namespace, Name: name}, &s); err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for k := range s.Data {
			out[k] = true
		}
		return out, nil
	}
	sender, err := keysOf(campaign.SecretName(c.Name))
	if err != nil {
		return m, fmt.Errorf("the campaign's sender Secret (made at its first wave): %w", err)
	}
	for k := range sender {
		if id, ok := strings.CutPrefix(k, campaign.SecretTokenPrefix); ok {
			m.TokenKeyIDs = append(m.TokenKeyIDs, id)
		}
	}
	for i := range c.Spec.Channels {
		ch := &c.Spec.Channels[i]
		ref := campaign.ChannelSecret(ch)
		if ref == nil {
			continue
		}
		if m.SecretKeys[ch.Name], err = keysOf(ref.Name); err != nil {
			return m, err
		}
	}
	if t := fu.Spec.Ticket; t != nil && t.Webhook.SecretRef != nil {
		if m.SecretKeys["ticket"], err = keysOf(t.Webhook.SecretRef.Name); err != nil {
			return m, err
		}
	}
	return m, nil
}

// pruneContactJobs keeps the three latest finished contact Jobs.
func (r *FollowUpReconciler) pruneContactJobs(ctx context.Context, jobs []batchv1.Job) error {
	var finished []*batchv1.Job
	for i := range jobs {
		if done, _ := jobState(&jobs[i]); done {
			finished = append(finished, &jobs[i])
		}
	}
	sort.Slice(finished, func(i, j int) bool { return finished[i].CreationTimestamp.After(finished[j].CreationTimestamp.Time) })
	for _, j := range finished[min(3, len(finished)):] {
		if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// ticketKey is the ticket webhook's HMAC key, read from its Secret when the Secret's
// resourceVersion (from the metadata cache) is not the one last read.
func (r *FollowUpReconciler) ticketKey(ctx context.Context, fu *v1alpha1.FollowUp) ([]byte, *campaign.Problem, error) {
	t := fu.Spec.Ticket
	if t == nil || t.Webhook.SecretRef == nil {
		return nil, nil, nil
	}
	name := t.Webhook.SecretRef.Name
	missing := &campaign.Problem{Field: "spec.ticket.webhook.secretRef", Message: fmt.Sprintf("Secret %q not found", name)}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.Get(ctx, types.NamespacedName{Namespace: fu.Namespace, Name: name}, meta)
	switch {
	case apierrors.IsNotFound(err):
		return nil, missing, nil
	case err != nil:
		return nil, nil, err
	}
	if known, ok := r.ticketKeys.Load(fu.UID); ok && known.(ticketKey).resourceVersion == meta.ResourceVersion {
		return known.(ticketKey).key, nil, nil
	}
	var secret corev1.Secret
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: fu.Namespace, Name: name}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return nil, missing, nil
	case err != nil:
		return nil, nil, err
	case len(secret.Data["hmacKey"]) == 0:
		return nil, &campaign.Problem{Field: "spec.ticket.webhook.secretRef", Message: fmt.Sprintf("Secret %q has no key \"hmacKey\"", name)}, nil
	}
	r.ticketKeys.Store(fu.UID, ticketKey{resourceVersion: secret.ResourceVersion, key: secret.Data["hmacKey"]})
	return secret.Data["hmacKey"], nil, nil
}

// sla sets SLABreached from the overdue cases, with an Event when a breach starts or clears.
func (r *FollowUpReconciler) sla(fu *v1alpha1.FollowUp, ev *pendingEvents) {
	was := meta.IsStatusConditionTrue(fu.Status.Conditions, v1alpha1.ConditionSLABreached)
	switch {
	case fu.Spec.SLA == nil:
		meta.RemoveStatusCondition(&fu.Status.Conditions, v1alpha1.ConditionSLABreached)
	case fu.Status.Overdue > 0:
		msg := fmt.Sprintf("%d cases are past their service standard (%d breaches in all).", fu.Status.Overdue, fu.Status.Breaches)
		r.condition(fu, v1alpha1.ConditionSLABreached, metav1.ConditionTrue, "CasesOverdue", msg)
		if !was {
			ev.Eventf(fu, nil, corev1.EventTypeWarning, "SLABreached", "Follow", "%s", msg)
		}
	default:
		r.condition(fu, v1alpha1.ConditionSLABreached, metav1.ConditionFalse, "WithinStandard",
			fmt.Sprintf("No case is overdue (%d breaches in all).", fu.Status.Breaches))
		if was {
			ev.Eventf(fu, nil, corev1.EventTypeNormal, "SLARestored", "Follow", "No case is overdue any more.")
		}
	}
}

// waiting records that the response service did not answer; the workqueue retries with backoff.
func (r *FollowUpReconciler) waiting(fu *v1alpha1.FollowUp, err error) (ctrl.Result, error) {
	msg := truncate(err.Error(), 1024)
	r.condition(fu, v1alpha1.ConditionReconciling, metav1.ConditionTrue, "WaitingForResponseService", msg)
	r.condition(fu, v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForResponseService", msg)
	return ctrl.Result{}, err
}

func (r *FollowUpReconciler) patchStatus(ctx context.Context, before, after *v1alpha1.FollowUp) error {
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	return r.Status().Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// followUpMetrics count cases by state per FollowUp (labels: namespace, followup).
type followUpMetrics struct{ cases *prometheus.GaugeVec }

var (
	followUpMetricsOnce   sync.Once
	sharedFollowUpMetrics *followUpMetrics
)

func registerFollowUpMetrics() *followUpMetrics {
	followUpMetricsOnce.Do(func() {
		m := &followUpMetrics{cases: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_followup_cases",
			Help: "Follow-up cases by state: matched, contacted, resolved, overdue, breached."}, []string{"namespace", "followup", "state"})}
		metrics.Registry.MustRegister(m.cases)
		sharedFollowUpMetrics = m
	})
	return sharedFollowUpMetrics
}

func (m *followUpMetrics) observe(fu *v1alpha1.FollowUp) {
	st := fu.Status
	for state, v := range map[string]int64{"matched": st.Matched, "contacted": st.Contacted, "resolved": st.Resolved,
		"overdue": st.Overdue, "breached": st.Breaches} {
		m.cases.WithLabelValues(fu.Namespace, fu.Name, state).Set(float64(v))
	}
}

func (m *followUpMetrics) forget(namespace, name string) {
	m.cases.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "followup": name})
}
