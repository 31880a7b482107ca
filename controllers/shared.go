package controllers

import (
	"context"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/jobfile"
)

// What both reconcilers use: Jobs made and followed, senders' termination messages, status
// written once, Events held until then, and memory that forgets deleted objects.

// fetch reads the object a request names. An object that is gone is forgotten (forget drops
// what the reconciler remembers of it) and is no error: found is false.
func fetch(ctx context.Context, c client.Client, key types.NamespacedName, obj client.Object, forget func(types.NamespacedName)) (found bool, err error) {
	err = c.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		forget(key)
		return false, nil
	}
	return err == nil, err
}

// metadataOf reads an object's metadata from the metadata-only cache (Secrets and ConfigMaps
// are watched that way: their data is read from the API server only when needed).
func metadataOf(ctx context.Context, c client.Reader, kind string, key types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return obj, c.Get(ctx, key, obj)
}

// deleteJob deletes a Job and, in the background, its pods; a Job already gone is no error.
func deleteJob(ctx context.Context, c client.Client, j *batchv1.Job) error {
	return client.IgnoreNotFound(c.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)))
}

// requeueAfter is how long to wait until t: at least a second, at most maxRequeue.
func requeueAfter(now, t time.Time) time.Duration {
	return min(maxRequeue, max(time.Second, t.Sub(now)))
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

// createOrAdopt creates a Job owned by owner, or adopts the one of the same name made by an
// earlier reconcile whose status write was lost (or not yet in the cache). A Job of that name
// that is not the owner's (its label ownerLabel is not the owner's UID) is an error, which
// names the owner's kind.
func createOrAdopt(ctx context.Context, c client.Client, owner client.Object, job *batchv1.Job, ownerLabel, ownerKind string) (*batchv1.Job, error) {
	if err := controllerutil.SetControllerReference(owner, job, c.Scheme()); err != nil {
		return nil, err
	}
	err := c.Create(ctx, job)
	if !apierrors.IsAlreadyExists(err) {
		return job, err
	}
	var existing batchv1.Job
	if err := c.Get(ctx, client.ObjectKeyFromObject(job), &existing); err != nil {
		return nil, err
	}
	if existing.Labels[ownerLabel] != string(owner.GetUID()) {
		return nil, fmt.Errorf("a Job named %s exists and is not this %s's", job.Name, ownerKind)
	}
	return &existing, nil
}

// termination is a sender's summary from one of its pods' termination messages.
type termination struct {
	jobfile.Summary
	at time.Time
}

// terminations reads the summaries the senders of a Job left in their pods' termination
// messages (counts and reasons only), oldest first as the pods finished.
func terminations(ctx context.Context, r client.Reader, j *batchv1.Job) ([]termination, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(j.Namespace), client.MatchingLabels{batchv1.JobNameLabel: j.Name}); err != nil {
		return nil, err
	}
	var out []termination
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				if sum, ok := jobfile.Termination(t.Message); ok {
					out = append(out, termination{Summary: sum, at: t.FinishedAt.Time})
				}
			}
		}
	}
	return out, nil
}

// labelIndex indexes objects by the value of one label (none when absent).
func labelIndex(label string) client.IndexerFunc {
	return func(o client.Object) []string {
		if v := o.GetLabels()[label]; v != "" {
			return []string{v}
		}
		return nil
	}
}

// keySet lists the keys of a Secret's data.
func keySet(s *corev1.Secret) map[string]bool {
	out := make(map[string]bool, len(s.Data))
	for k := range s.Data {
		out[k] = true
	}
	return out
}

// patchStatus writes an object's status with a merge patch under an optimistic lock, and only
// when it changed (statusBefore and statusAfter are the two objects' statuses): a reconcile
// that changes nothing writes nothing.
func patchStatus(ctx context.Context, c client.Client, before, after client.Object, statusBefore, statusAfter any) error {
	if equality.Semantic.DeepEqual(statusBefore, statusAfter) {
		return nil
	}
	return c.Status().Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// pendingEvents holds a reconcile's Events until its status is written: a reconcile that loses
// the race for the status (it read a stale cache, and its optimistic-lock patch is refused)
// announces nothing, so a transition is announced once.
type pendingEvents struct {
	rec  events.EventRecorder
	list []func()
}

func (p *pendingEvents) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	p.list = append(p.list, func() {
		p.rec.Eventf(regarding, related, eventtype, reason, action, "%s", v1alpha1.Bound(fmt.Sprintf(note, args...)))
	})
}

// then runs f when the Events are recorded: to remember what was announced only once it was.
func (p *pendingEvents) then(f func()) { p.list = append(p.list, f) }

// flush records the Events held.
func (p *pendingEvents) flush() {
	for _, f := range p.list {
		f()
	}
	p.list = nil
}

// enqueueReferrers maps an object to the reconcile requests of the objects in its namespace
// that refer to it, found through a field index: key gives the index value for the object.
func enqueueReferrers(c client.Client, list client.ObjectList, field string, key func(client.Object) string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l, client.InNamespace(o.GetNamespace()), client.MatchingFields{field: key(o)}); err != nil {
			log.FromContext(ctx).Error(err, "listing the objects that refer to a changed one; they are looked at on their next resync",
				"namespace", o.GetNamespace(), "name", o.GetName())
			return nil
		}
		var out []reconcile.Request
		_ = meta.EachListItem(l, func(item runtime.Object) error {
			if m, ok := item.(client.Object); ok {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)})
			}
			return nil
		})
		return out
	})
}

// memo is what a reconciler remembers of the objects it reconciles, by namespace and name. An
// object's entry is forgotten when the object is found deleted, so the memory holds no more
// entries than there are objects. One object is reconciled by one worker at a time, so a value
// is only ever used by the reconcile of its own object.
type memo[V any] struct {
	mu sync.Mutex
	m  map[types.NamespacedName]V
}

func (c *memo[V]) get(k types.NamespacedName) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *memo[V]) put(k types.NamespacedName, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[types.NamespacedName]V{}
	}
	c.m[k] = v
}

func (c *memo[V]) forget(k types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *memo[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// conditioned is a resource with kstatus conditions: SurveyCampaign and FollowUp.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
	SetCondition(t string, s metav1.ConditionStatus, reason, msg string)
	MarkObserved()
}

// stall records a spec that cannot make progress until it (or what it refers to, waitingFor)
// changes: Stalled and not Ready, with the problems naming their fields. It warns once per
// distinct message.
func stall(o conditioned, ps campaign.Problems, ev *pendingEvents, waitingFor string) {
	stallWith(o, v1alpha1.ReasonInvalidSpec, ps, ev, waitingFor)
}

// stallWith is stall with another reason (and the same Event reason).
func stallWith(o conditioned, reason string, ps campaign.Problems, ev *pendingEvents, waitingFor string) {
	msg := v1alpha1.Bound(ps.Error())
	if old := meta.FindStatusCondition(o.GetConditions(), v1alpha1.ConditionStalled); old == nil || old.Status != metav1.ConditionTrue || old.Message != msg {
		ev.Eventf(o, nil, corev1.EventTypeWarning, reason, v1alpha1.ActionValidate, "%s", msg)
	}
	o.SetCondition(v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	o.SetCondition(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	o.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, "Waiting for "+waitingFor+" to change.")
	o.MarkObserved()
}
