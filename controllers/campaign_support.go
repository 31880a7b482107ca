package controllers

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// pollTracker remembers, per wave, when its aggregates may next be fetched: soon after they
// last changed, less and less often while they do not. It lives in memory; after a restart
// each collecting wave is fetched once at once.
type pollTracker struct {
	mu    sync.Mutex
	waves map[string]pollState
}

type pollState struct {
	next     time.Time
	interval time.Duration
}

func newPollTracker() *pollTracker { return &pollTracker{waves: map[string]pollState{}} }

// due is when the wave may next be fetched (zero: now).
func (p *pollTracker) due(key string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves[key].next
}

// polled records a fetch at now and returns when the next one is due: Min after a change,
// otherwise twice the last interval, at most Max.
func (p *pollTracker) polled(key string, now time.Time, changed bool, policy PollPolicy) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.waves[key]
	switch {
	case changed || s.interval == 0:
		s.interval = policy.Min
	default:
		s.interval = min(2*s.interval, policy.Max)
	}
	s.next = now.Add(s.interval)
	p.waves[key] = s
	return s.next
}

// forget drops a wave (closed).
func (p *pollTracker) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waves, key)
}

// forgetCampaign drops every wave of a deleted campaign ("namespace/name").
func (p *pollTracker) forgetCampaign(campaign string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.waves {
		if strings.HasPrefix(k, campaign+"/") {
			delete(p.waves, k)
		}
	}
}

// campaignMetrics are the campaign gauges in controller-runtime's registry. Their labels are
// the campaign's namespace and name, never a person.
type campaignMetrics struct {
	waves, invited, responded, rate, score *prometheus.GaugeVec
}

var (
	metricsOnce   sync.Once
	sharedMetrics *campaignMetrics
)

func registerCampaignMetrics() *campaignMetrics {
	metricsOnce.Do(func() {
		labels := []string{"namespace", "campaign"}
		m := &campaignMetrics{
			waves: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_campaign_waves",
				Help: "Waves of a campaign kept in its status, by phase."}, append(labels, "phase")),
			invited: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_campaign_invitations",
				Help: "Invitations of the campaign's latest wave with invitations."}, labels),
			responded: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_campaign_responses",
				Help: "Responses (complete or partial) to the campaign's latest wave with invitations."}, labels),
			rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_campaign_response_rate_percent",
				Help: "Response rate (AAPOR RR2, percent) of the campaign's latest wave with invitations."}, labels),
			score: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "survey_campaign_primary_score",
				Help: "Primary score of the campaign's latest wave with responses: NPS points, or percent satisfied."}, labels),
		}
		metrics.Registry.MustRegister(m.waves, m.invited, m.responded, m.rate, m.score)
		sharedMetrics = m
	})
	return sharedMetrics
}

var phases = []v1alpha1.WavePhase{v1alpha1.WavePending, v1alpha1.WaveSending, v1alpha1.WaveCollecting, v1alpha1.WaveClosed, v1alpha1.WaveFailed}

// observe publishes a campaign's status.
func (m *campaignMetrics) observe(c *v1alpha1.SurveyCampaign) {
	count := map[v1alpha1.WavePhase]int{}
	for _, w := range c.Status.Waves {
		count[w.Phase]++
	}
	for _, p := range phases {
		m.waves.WithLabelValues(c.Namespace, c.Name, string(p)).Set(float64(count[p]))
	}
	scored := false
	for _, w := range c.Status.Waves {
		if w.Invited == 0 {
			continue
		}
		m.invited.WithLabelValues(c.Namespace, c.Name).Set(float64(w.Invited))
		m.responded.WithLabelValues(c.Namespace, c.Name).Set(float64(w.Responded))
		if v, err := strconv.ParseFloat(string(w.ResponseRate), 64); err == nil {
			m.rate.WithLabelValues(c.Namespace, c.Name).Set(v)
		}
		primary := c.Spec.Survey.PrimaryQuestionID()
		for _, s := range w.Scores {
			if s.Question == primary && s.N > 0 && !scored {
				if v, err := strconv.ParseFloat(string(s.Value), 64); err == nil {
					m.score.WithLabelValues(c.Namespace, c.Name).Set(v)
					scored = true
				}
			}
		}
		break
	}
}

// forget removes a deleted campaign's series.
func (m *campaignMetrics) forget(namespace, name string) {
	for _, v := range []*prometheus.GaugeVec{m.waves, m.invited, m.responded, m.rate, m.score} {
		v.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "campaign": name})
	}
}

// pendingEvents holds a reconcile's Events until its status is written: a reconcile that loses
// the race for the status (it read a stale cache, and its optimistic-lock patch is refused)
// announces nothing, so a transition is announced once.
type pendingEvents struct {
	rec  events.EventRecorder
	list []func()
}

func (p *pendingEvents) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	p.list = append(p.list, func() { p.rec.Eventf(regarding, related, eventtype, reason, action, note, args...) })
}

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
