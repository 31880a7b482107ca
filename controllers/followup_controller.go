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

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/followup"
	"github.com/surveyops/survey-operator/internal/responseapi"
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

	defaults sync.Once
	metrics  *operatorMetrics
	// What is remembered of each FollowUp, forgotten when it is deleted: the registration last
	// accepted, and the ticket key read at a Secret resourceVersion.
	registered memo[registration]
	ticketKeys memo[ticketKey]
}

type registration struct {
	uid  types.UID
	hash string
}

const (
	finalizerDeactivate = "surveys.surveyops.io/deactivate-rule"
	fieldCampaignRef    = "surveys.surveyops.io/campaign-ref"
	fieldTicketSecret   = "surveys.surveyops.io/ticket-secret"
	// fieldFollowUpJobs indexes Jobs by the FollowUp UID label (see fieldCampaignJobs).
	fieldFollowUpJobs = "surveys.surveyops.io/followup-jobs"
)

type ticketKey struct {
	uid             types.UID
	resourceVersion string
	key             []byte
}

func (r *FollowUpReconciler) setDefaults() {
	r.defaults.Do(func() {
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
		r.metrics = registeredMetrics()
	})
}

// SetupWithManager registers the reconciler; a FollowUp is looked at again when its campaign
// changes.
func (r *FollowUpReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
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
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &batchv1.Job{}, fieldFollowUpJobs, labelIndex(campaign.LabelFollowUpUID)); err != nil {
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
	r.setDefaults()
	var fu v1alpha1.FollowUp
	if found, err := fetch(ctx, r.Client, req.NamespacedName, &fu, r.forget); !found {
		return ctrl.Result{}, err
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
	r.metrics.observeFollowUp(&fu)
	if perr := patchStatus(ctx, r.Client, before, &fu, before.Status, fu.Status); perr != nil {
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
	key := client.ObjectKeyFromObject(fu)
	r.registered.forget(key)
	r.ticketKeys.forget(key)
	patch := client.MergeFrom(fu.DeepCopy())
	controllerutil.RemoveFinalizer(fu, finalizerDeactivate)
	return r.Patch(ctx, fu, patch)
}

// forget drops what is remembered of a deleted FollowUp.
func (r *FollowUpReconciler) forget(key types.NamespacedName) {
	r.metrics.forgetFollowUp(key.Namespace, key.Name)
	r.registered.forget(key)
	r.ticketKeys.forget(key)
}

func (r *FollowUpReconciler) stalled(fu *v1alpha1.FollowUp, ps campaign.Problems, ev *pendingEvents) {
	stall(fu, ps, ev, "the spec or the campaign")
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
	timing, err := campaign.TimingOf(&c.Spec)
	if err != nil {
		// The campaign itself is Stalled for it; its FollowUps contact nobody until it is fixed.
		r.stalled(fu, campaign.Problems{{Field: "spec.campaignRef.name",
			Message: fmt.Sprintf("SurveyCampaign %q has an invalid schedule: %v", c.Name, err)}}, ev)
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
	fu.SetCondition(v1alpha1.ConditionStalled, metav1.ConditionFalse, v1alpha1.ReasonValid, "The spec is valid.")
	fu.MarkObserved()

	reg := followup.Registration(fu, string(c.UID), true)
	reg.TicketKey = key
	raw, err := json.Marshal(reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	if known, ok := r.registered.get(client.ObjectKeyFromObject(fu)); !ok || known != (registration{uid: fu.UID, hash: hash}) {
		if err := r.Responses.PutFollowUp(ctx, string(fu.UID), reg); err != nil {
			return r.waiting(fu, fmt.Errorf("registering the rule with the response service: %w", err))
		}
		r.registered.put(client.ObjectKeyFromObject(fu), registration{uid: fu.UID, hash: hash})
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
		ev.Eventf(fu, nil, corev1.EventTypeNormal, v1alpha1.EventCasesOpened, v1alpha1.ActionFollow, "%d people who have not answered are now followed up.", stats.Opened)
	}
	followup.Apply(&fu.Status, stats)
	r.sla(fu, ev)
	now := r.Clock.Now()
	running, wake, err := r.contact(ctx, fu, &c, timing, now, stats, ev)
	if err != nil {
		return r.waiting(fu, err)
	}
	if running {
		fu.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonContacting, "A contact Job is running.")
	} else {
		fu.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionFalse, v1alpha1.ReasonFollowing, "The rule is registered and its cases counted.")
	}
	if fu.Spec.Suspend {
		fu.SetCondition(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended, "Suspended: cases are still opened and counted; nobody is contacted.")
	} else {
		fu.SetCondition(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonFollowing, "The rule is registered with the response service.")
	}
	after := r.Idle
	if fu.Status.Matched > fu.Status.Resolved || fu.Spec.Trigger.Type == v1alpha1.TriggerNonResponse {
		after = r.Poll
	}
	if !wake.IsZero() {
		after = min(after, requeueAfter(now, wake))
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// contact starts a contact Job when cases wait for contact, none runs, the last started at
// least ContactInterval ago, the FollowUp is not suspended and it is not quiet hours. It
// reports whether a contact Job runs, and when to look again for the next one.
func (r *FollowUpReconciler) contact(ctx context.Context, fu *v1alpha1.FollowUp, c *v1alpha1.SurveyCampaign, timing campaign.Timing,
	now time.Time, stats responseapi.CaseStats, ev *pendingEvents) (running bool, wake time.Time, err error) {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(fu.Namespace), client.MatchingFields{fieldFollowUpJobs: string(fu.UID)}); err != nil {
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
	switch {
	case running || fu.Spec.Suspend || stats.ToContact == 0:
		return running, wake, nil
	case fu.Status.LastContactTime != nil && now.Sub(fu.Status.LastContactTime.Time) < r.ContactInterval:
		return false, fu.Status.LastContactTime.Add(r.ContactInterval), nil
	}
	if timing.Quiet.Quiet(now) {
		return false, timing.Quiet.NextPermitted(now), nil
	}
	m, err := r.mounted(ctx, fu, c)
	if err != nil {
		return false, wake, err
	}
	expiry := now.Add(r.CaseLinkLifetime)
	if sla := fu.Spec.SLA; sla != nil && sla.ResolveWithin != "" {
		d, err := time.ParseDuration(string(sla.ResolveWithin))
		if err != nil {
			return false, wake, fmt.Errorf("spec.sla.resolveWithin: %w", err) // the schema admits only durations
		}
		if now.Add(2 * d).After(expiry) {
			expiry = now.Add(2 * d)
		}
	}
	n := int(fu.Status.ContactJobs) + 1
	job, err := campaign.BuildFollowUpJob(c, fu, n, m, r.Settings, expiry)
	if err != nil {
		return false, wake, err
	}
	if _, err := createOrAdopt(ctx, r.Client, fu, job, campaign.LabelFollowUpUID, "FollowUp"); err != nil {
		return false, wake, err
	}
	fu.Status.ContactJobs = int32(n)
	fu.Status.LastContactTime = &metav1.Time{Time: now}
	ev.Eventf(fu, nil, corev1.EventTypeNormal, v1alpha1.EventContactStarted, v1alpha1.ActionContact, "Job %s contacts %d people.", job.Name, stats.ToContact)
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
		return keySet(&s), nil
	}
	sender, err := keysOf(campaign.SecretName(c.Name))
	if err != nil {
		return m, fmt.Errorf("the campaign's sender Secret (made once a wave is scheduled): %w", err)
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
		if err := deleteJob(ctx, r.Client, j); err != nil {
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
	meta, err := metadataOf(ctx, r.Client, "Secret", types.NamespacedName{Namespace: fu.Namespace, Name: name})
	switch {
	case apierrors.IsNotFound(err):
		return nil, missing, nil
	case err != nil:
		return nil, nil, err
	}
	key := client.ObjectKeyFromObject(fu)
	if known, ok := r.ticketKeys.get(key); ok && known.uid == fu.UID && known.resourceVersion == meta.ResourceVersion {
		return known.key, nil, nil
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
	r.ticketKeys.put(key, ticketKey{uid: fu.UID, resourceVersion: secret.ResourceVersion, key: secret.Data["hmacKey"]})
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
		fu.SetCondition(v1alpha1.ConditionSLABreached, metav1.ConditionTrue, v1alpha1.ReasonCasesOverdue, msg)
		if !was {
			ev.Eventf(fu, nil, corev1.EventTypeWarning, v1alpha1.EventSLABreached, v1alpha1.ActionFollow, "%s", msg)
		}
	default:
		fu.SetCondition(v1alpha1.ConditionSLABreached, metav1.ConditionFalse, v1alpha1.ReasonWithinStandard,
			fmt.Sprintf("No case is overdue (%d breaches in all).", fu.Status.Breaches))
		if was {
			ev.Eventf(fu, nil, corev1.EventTypeNormal, v1alpha1.EventSLARestored, v1alpha1.ActionFollow, "No case is overdue any more.")
		}
	}
}

// waiting records that the response service did not answer; the workqueue retries with backoff.
func (r *FollowUpReconciler) waiting(fu *v1alpha1.FollowUp, err error) (ctrl.Result, error) {
	fu.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonWaitingForResponseService, err.Error())
	fu.SetCondition(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonWaitingForResponseService, err.Error())
	return ctrl.Result{}, err
}
