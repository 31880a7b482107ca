package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// The SurveyCampaign reconciler, one concern a file:
//
//	surveycampaign_controller.go  the reconciler, its setup and one reconcile's steps
//	surveycampaign_checks.go      what the schema cannot check: references, columns, expressions
//	surveycampaign_waves.go       waves due on schedule or on request, and launching a round's Job
//	surveycampaign_jobs.go        following the Jobs: phases, quiet-hour pauses, failures, pruning
//	surveycampaign_reminders.go   reminder rounds to those who have not answered
//	surveycampaign_status.go      results from the response service, conditions, summary columns
//	surveycampaign_secret.go      the sender Secret the Jobs mount, and the export Secret
//	surveycampaign_polls.go       how often a collecting wave's figures are fetched
//	surveycampaign_report.go      each wave's report ConfigMap
//	surveycampaign_retention.go   the campaign's retention, registered with the response service
//	shared.go, metrics.go         what the FollowUp reconciler uses too

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=surveycampaigns/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get

// ResponseService is what the reconciler asks of the response service (responseapi.Client).
type ResponseService interface {
	PutWave(ctx context.Context, campaignUID, waveID string, reg responseapi.WaveRegistration) error
	Summary(ctx context.Context, campaignUID, waveID, primary string) (responseapi.Summary, error)
	PutRetention(ctx context.Context, campaignUID string, reg responseapi.RetentionRegistration) error
	PutTouchPoints(ctx context.Context, campaignUID string, reg responseapi.TouchPointsRegistration) error
	DueTouchPoints(ctx context.Context, namespace, campaignUID string) (responseapi.TouchPointsDue, error)
}

// Credentials name the manager's own Secrets that sending Jobs need copies of: the link-signing
// keys (each data key a key id) and the response service's API token (data key "token").
type Credentials struct {
	Namespace, TokenKeysSecret, APITokenSecret string
}

// SurveyCampaignReconciler runs the waves of SurveyCampaigns.
type SurveyCampaignReconciler struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps, which are watched by metadata only, and pods.
	APIReader   client.Reader
	Recorder    events.EventRecorder
	Clock       clock.PassiveClock
	Responses   ResponseService
	Settings    campaign.Settings
	Credentials Credentials
	// StatObject finds an audience object's version before a wave starts (nil: a HEAD request
	// through internal/objectstore).
	StatObject ObjectStat
	// Poll bounds how often a collecting wave's aggregates are refreshed: from Poll.Min (1m),
	// doubling while nothing changes, up to Poll.Max (10m).
	Poll PollPolicy
	// MaxConcurrentReconciles is how many campaigns are reconciled at once (1 when zero).
	MaxConcurrentReconciles int

	defaults    sync.Once
	polls       *pollTracker
	credentials credentialCache
	metrics     *operatorMetrics
	// What is remembered of each campaign, forgotten when it is deleted: its last check, the
	// data hashes of its sender and export Secrets and of its wave reports, and whether each of its finished Jobs stopped for quiet
	// hours (by Job UID).
	checked       memo[checked]
	senderSecrets memo[string]
	exportSecrets memo[string]
	eventsSecrets memo[string]
	reports       memo[reports]
	stops         memo[map[types.UID]bool]
	// retention is the retention last registered for each campaign (surveycampaign_retention.go).
	retention memo[string]
	// touchPoints is the events last registered for each touch-point campaign, and reported
	// the failed sending Jobs already reported (surveycampaign_touchpoints.go).
	touchPoints memo[string]
	reported    memo[map[types.UID]bool]
}

// PollPolicy bounds the refresh of a wave's aggregates: Min after a change, doubling while
// nothing changes up to Max; while the wave's sending Job runs, every Sending (10s by default),
// so that the invited count follows the ledger as it grows.
type PollPolicy struct{ Min, Max, Sending time.Duration }

const (
	fieldRefs = "surveys.surveyops.io/refs"
	// fieldCampaignJobs indexes Jobs by the campaign UID label, so that a reconcile lists its
	// campaign's Jobs without matching every Job of the namespace against a selector (with a
	// thousand campaigns due at once, that matching was a third of the manager's CPU).
	fieldCampaignJobs = "surveys.surveyops.io/campaign-jobs"
	// maxRequeue bounds how long a campaign goes unlooked at when nothing is due.
	maxRequeue = 24 * time.Hour
	// retryBackoff is how soon figures are asked for again after the response service did not
	// answer.
	retryBackoff = 30 * time.Second
	// audienceRetry is how soon a wave whose list could not be reached (a missing object or
	// claim, refused credentials) is tried again.
	audienceRetry = 2 * time.Minute
)

func (r *SurveyCampaignReconciler) setDefaults() {
	r.defaults.Do(func() {
		if r.Clock == nil {
			r.Clock = clock.RealClock{}
		}
		if r.Poll.Min == 0 {
			r.Poll.Min = time.Minute
		}
		if r.Poll.Max == 0 {
			r.Poll.Max = 10 * time.Minute
		}
		if r.Poll.Sending == 0 {
			r.Poll.Sending = 10 * time.Second
		}
		r.polls = newPollTracker()
		r.metrics = registeredMetrics()
	})
}

// SetupWithManager registers the reconciler: it owns Jobs and the sender Secret, and watches
// the Secrets and ConfigMaps campaigns refer to (by metadata only: their data is read when
// needed, never cached).
func (r *SurveyCampaignReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.SurveyCampaign{}, fieldRefs, func(o client.Object) []string {
		return referencedObjects(&o.(*v1alpha1.SurveyCampaign).Spec)
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &batchv1.Job{}, fieldCampaignJobs, labelIndex(campaign.LabelCampaignUID)); err != nil {
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

// run is one reconcile of one campaign.
type run struct {
	r      *SurveyCampaignReconciler
	c      *v1alpha1.SurveyCampaign
	key    types.NamespacedName
	now    time.Time
	timing campaign.Timing
	jobs   map[string]*batchv1.Job
	// found is what check found in the referenced objects: the audience's size and the keys
	// of the channels' Secrets. The token key ids are added by launch.
	found campaign.Mounted
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
	r.setDefaults()
	var c v1alpha1.SurveyCampaign
	if found, err := fetch(ctx, r.Client, req.NamespacedName, &c, r.forget); !found || !c.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, err
	}
	before := c.DeepCopy()
	u := &run{r: r, c: &c, key: req.NamespacedName, now: r.Clock.Now(), events: &pendingEvents{rec: r.Recorder}}

	problems, err := u.checkCached(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var terr error
	if u.timing, terr = campaign.TimingOf(&c.Spec); terr != nil && len(problems) == 0 {
		problems = campaign.Problems{{Field: "spec.schedule", Message: terr.Error()}} // Validate saw it first
	}
	// A campaign's retention applies to the data of its waves, whatever state it is in; the
	// service being away delays it, and nothing else.
	rerr := u.registerRetention(ctx)
	var result ctrl.Result
	if len(problems) > 0 {
		// No new wave or reminder until it is fixed; the waves under way are still followed.
		u.stalled(problems)
		if err = u.listJobs(ctx); err == nil {
			u.followJobs(ctx)
			u.refreshResults(ctx)
			err = u.writeReports(ctx)
		}
		u.summarize()
		if err == nil && !u.wake.IsZero() {
			result.RequeueAfter = requeueAfter(u.now, u.wake) // the figures and the close of a wave under way
		}
	} else {
		result, err = u.progress(ctx)
	}
	r.metrics.observeCampaign(&c)
	if perr := patchStatus(ctx, r.Client, before, &c, before.Status, c.Status); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	u.events.flush()
	return result, errors.Join(err, rerr)
}

// forget drops what is remembered of a deleted campaign.
func (r *SurveyCampaignReconciler) forget(key types.NamespacedName) {
	r.metrics.forgetCampaign(key.Namespace, key.Name)
	r.polls.forgetCampaign(key.String())
	r.checked.forget(key)
	r.senderSecrets.forget(key)
	r.exportSecrets.forget(key)
	r.eventsSecrets.forget(key)
	r.reports.forget(key)
	r.retention.forget(key)
	r.stops.forget(key)
	r.touchPoints.forget(key)
	r.reported.forget(key)
}

// progress runs a valid campaign: it follows its Jobs, starts the wave and reminders due,
// refreshes results, prunes history, writes the waves' reports and sets the conditions.
func (u *run) progress(ctx context.Context) (ctrl.Result, error) {
	if err := u.listJobs(ctx); err != nil {
		return ctrl.Result{}, err
	}
	u.followJobs(ctx)
	var errs []error
	steps := []func(context.Context) error{u.unregisterTouchPoints, u.recreateMissingJobs, u.startContinuations, u.startDueWave, u.sendReminders}
	if u.isTouchPoints() {
		steps = []func(context.Context) error{u.followTouchPointJobs, u.startContinuations, u.startTouchPoints, u.sendReminders}
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	u.provisionSecrets(ctx)
	u.refreshResults(ctx)
	if err := u.prune(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := u.writeReports(ctx); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	var unavailable *audienceUnavailable
	if errors.As(err, &unavailable) {
		// The list cannot be reached for a reason someone must fix: Stalled, naming the field,
		// and looked at again in a while (a missing object may yet be uploaded).
		stallWith(u.c, v1alpha1.ReasonAudienceUnavailable, unavailable.problems, u.events, "the audience source")
		u.summarize()
		return ctrl.Result{RequeueAfter: audienceRetry}, nil
	}
	u.settle(err)
	if err != nil {
		// The response service or the API server refused: back off, the workqueue's limiter
		// bounds the retries.
		return ctrl.Result{}, err
	}
	if u.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: requeueAfter(u.now, u.wake)}, nil
}
