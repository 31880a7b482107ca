package controllers

import (
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// The operator's gauges, in controller-runtime's registry, registered once for both
// reconcilers. Their labels name namespaces, objects and questions, never a person. Units follow
// Prometheus' conventions: rates and shares are 0-1 ratios, NPS is in points (-100 to 100).
// config/prometheus/rules.yaml and config/grafana read them; a test parses every expression there
// and checks each metric it names is registered here or by the response service.
type operatorMetrics struct {
	waves, invited, outcomes, responded, rate, rateTarget, closedRate *prometheus.GaugeVec
	nps, npsMargin, satisfied, satisfiedMargin                        *prometheus.GaugeVec
	conditions                                                        *prometheus.GaugeVec
	cases                                                             *prometheus.GaugeVec
	// published are the series of the per-question and per-condition vectors set for each
	// object last time, so that an update deletes only those that went: a series deleted and
	// set again between two scrapes would look absent to one, and reset an alert's "for".
	mu        sync.Mutex
	published map[*prometheus.GaugeVec]map[string]map[string][]string // vector → object → key → label values
}

var registeredMetrics = sync.OnceValue(func() *operatorMetrics {
	campaign := []string{"namespace", "campaign"}
	question := []string{"namespace", "campaign", "question"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		metrics.Registry.MustRegister(g)
		return g
	}
	return &operatorMetrics{
		waves: gauge("survey_campaign_waves", "Waves of a campaign kept in its status, by phase.", append(campaign, "phase")...),
		invited: gauge("survey_campaign_invitations",
			"Invitations of the campaign's latest wave with invitations.", campaign...),
		outcomes: gauge("survey_campaign_invitation_outcomes",
			"Invitations of the campaign's latest wave with invitations, by outcome: delivered (accepted by a channel), failed (bounced or refused), opted_out (left out or opted out because they asked not to be contacted).",
			append(campaign, "outcome")...),
		responded: gauge("survey_campaign_responses",
			"Responses (complete or partial) to the campaign's latest wave with invitations.", campaign...),
		rate: gauge("survey_campaign_response_rate",
			"Response rate (AAPOR RR2, 0-1) of the campaign's latest wave with invitations.", campaign...),
		rateTarget: gauge("survey_campaign_response_rate_target",
			"The campaign's target response rate (0-1), when it declares one.", campaign...),
		closedRate: gauge("survey_campaign_closed_response_rate",
			"Response rate (AAPOR RR2, 0-1) of the campaign's latest closed wave: its final figure.", campaign...),
		nps: gauge("survey_campaign_nps",
			"Net Promoter Score (points, -100 to 100, weighted by segment) of an NPS question in the campaign's latest wave with invitations.", question...),
		npsMargin: gauge("survey_campaign_nps_margin",
			"Margin of error (points) of survey_campaign_nps.", question...),
		satisfied: gauge("survey_campaign_satisfied_ratio",
			"Share of respondents satisfied (0-1, the question's top box, weighted by segment) for a CSAT, CES or rating question in the campaign's latest wave with invitations.", question...),
		satisfiedMargin: gauge("survey_campaign_satisfied_ratio_margin",
			"Margin of error (0-1) of survey_campaign_satisfied_ratio.", question...),
		conditions: gauge("survey_condition",
			"A SurveyCampaign's or FollowUp's condition: 1 when True, 0 otherwise (Ready, Reconciling, Stalled, TargetsMet, ...).",
			"kind", "namespace", "name", "type"),
		cases: gauge("survey_followup_cases",
			"Follow-up cases by state: matched, contacted, resolved, overdue, breached.", "namespace", "followup", "state"),
	}
})

var phases = []v1alpha1.WavePhase{v1alpha1.WavePending, v1alpha1.WaveSending, v1alpha1.WaveCollecting, v1alpha1.WaveClosed, v1alpha1.WaveFailed}

// ratio reads a status percent ("80.0") as a 0-1 ratio.
func ratio[T ~string](percent T) (float64, bool) {
	v, err := strconv.ParseFloat(string(percent), 64)
	return v / 100, err == nil
}

// observeCampaign publishes a campaign's status.
func (m *operatorMetrics) observeCampaign(c *v1alpha1.SurveyCampaign) {
	labels := prometheus.Labels{"namespace": c.Namespace, "campaign": c.Name}
	count := map[v1alpha1.WavePhase]int{}
	for _, w := range c.Status.Waves {
		count[w.Phase]++
	}
	for _, p := range phases {
		m.waves.WithLabelValues(c.Namespace, c.Name, string(p)).Set(float64(count[p]))
	}
	m.observeConditions("SurveyCampaign", c.Namespace, c.Name, c.Status.Conditions)
	if t := c.Spec.Targets; t != nil && t.ResponseRate != "" {
		if v, ok := ratio(t.ResponseRate); ok {
			m.rateTarget.With(labels).Set(v)
		}
	} else {
		m.rateTarget.Delete(labels)
	}
	for _, w := range c.Status.Waves {
		if w.Phase != v1alpha1.WaveClosed || w.Invited == 0 {
			continue
		}
		if v, ok := ratio(w.ResponseRate); ok {
			m.closedRate.With(labels).Set(v)
		}
		break
	}
	for _, w := range c.Status.Waves {
		if w.Invited == 0 {
			continue
		}
		m.invited.With(labels).Set(float64(w.Invited))
		m.responded.With(labels).Set(float64(w.Responded))
		for outcome, n := range map[string]int64{"delivered": w.Delivered, "failed": w.Failed, "opted_out": w.OptedOut} {
			m.outcomes.WithLabelValues(c.Namespace, c.Name, outcome).Set(float64(n))
		}
		if v, ok := ratio(w.ResponseRate); ok {
			m.rate.With(labels).Set(v)
		}
		kinds := map[string]v1alpha1.QuestionKind{}
		for _, q := range c.Spec.Survey.Questions {
			kinds[q.ID] = q.Kind
		}
		scores := map[*prometheus.GaugeVec][]series{}
		for _, sc := range w.Scores {
			value, err := strconv.ParseFloat(string(sc.Value), 64)
			if sc.N == 0 || err != nil {
				continue
			}
			margin, merr := strconv.ParseFloat(string(sc.MarginOfError), 64)
			vec, marginVec, unit := m.satisfied, m.satisfiedMargin, 100.0 // a share, 0-1
			if kinds[sc.Question] == v1alpha1.QuestionNPS {
				vec, marginVec, unit = m.nps, m.npsMargin, 1 // points
			}
			labels := []string{c.Namespace, c.Name, sc.Question}
			scores[vec] = append(scores[vec], series{labels, value / unit})
			if merr == nil {
				scores[marginVec] = append(scores[marginVec], series{labels, margin / unit})
			}
		}
		for _, vec := range []*prometheus.GaugeVec{m.nps, m.npsMargin, m.satisfied, m.satisfiedMargin} {
			m.publish(vec, c.Namespace+"/"+c.Name, scores[vec]) // a question gone from the survey leaves no series
		}
		break
	}
}

// series is a gauge's label values and value.
type series struct {
	labels []string
	value  float64
}

// publish sets an object's series of a vector, and deletes those it set last time that are
// not among them.
func (m *operatorMetrics) publish(vec *prometheus.GaugeVec, object string, all []series) {
	now := map[string][]string{}
	for _, s := range all {
		vec.WithLabelValues(s.labels...).Set(s.value)
		now[strings.Join(s.labels, "\x00")] = s.labels
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.published == nil {
		m.published = map[*prometheus.GaugeVec]map[string]map[string][]string{}
	}
	if m.published[vec] == nil {
		m.published[vec] = map[string]map[string][]string{}
	}
	for k, labels := range m.published[vec][object] {
		if _, ok := now[k]; !ok {
			vec.DeleteLabelValues(labels...)
		}
	}
	if len(now) == 0 {
		delete(m.published[vec], object)
		return
	}
	m.published[vec][object] = now
}

// observeConditions publishes an object's conditions.
func (m *operatorMetrics) observeConditions(kind, namespace, name string, conditions []metav1.Condition) {
	all := make([]series, len(conditions))
	for i, c := range conditions {
		all[i] = series{[]string{kind, namespace, name, c.Type}, 0}
		if c.Status == metav1.ConditionTrue {
			all[i].value = 1
		}
	}
	m.publish(m.conditions, kind+"/"+namespace+"/"+name, all)
}

// forgetCampaign removes a deleted campaign's series.
func (m *operatorMetrics) forgetCampaign(namespace, name string) {
	for _, v := range []*prometheus.GaugeVec{m.waves, m.invited, m.outcomes, m.responded, m.rate, m.rateTarget, m.closedRate,
		m.nps, m.npsMargin, m.satisfied, m.satisfiedMargin} {
		v.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "campaign": name})
	}
	for _, v := range []*prometheus.GaugeVec{m.nps, m.npsMargin, m.satisfied, m.satisfiedMargin} {
		m.publish(v, namespace+"/"+name, nil)
	}
	m.publish(m.conditions, "SurveyCampaign/"+namespace+"/"+name, nil)
}

// observeFollowUp publishes a FollowUp's case counts and conditions.
func (m *operatorMetrics) observeFollowUp(fu *v1alpha1.FollowUp) {
	st := fu.Status
	for state, v := range map[string]int64{"matched": st.Matched, "contacted": st.Contacted, "resolved": st.Resolved,
		"overdue": st.Overdue, "breached": st.Breaches} {
		m.cases.WithLabelValues(fu.Namespace, fu.Name, state).Set(float64(v))
	}
	m.observeConditions("FollowUp", fu.Namespace, fu.Name, fu.Status.Conditions)
}

// forgetFollowUp removes a deleted FollowUp's series.
func (m *operatorMetrics) forgetFollowUp(namespace, name string) {
	m.cases.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "followup": name})
	m.publish(m.conditions, "FollowUp/"+namespace+"/"+name, nil)
}
