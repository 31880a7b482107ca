package controllers

import (
	"strconv"
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
		for _, v := range []*prometheus.GaugeVec{m.nps, m.npsMargin, m.satisfied, m.satisfiedMargin} {
			v.DeletePartialMatch(labels) // questions removed from the survey leave no series behind
		}
		for _, s := range w.Scores {
			value, err := strconv.ParseFloat(string(s.Value), 64)
			if s.N == 0 || err != nil {
				continue
			}
			margin, merr := strconv.ParseFloat(string(s.MarginOfError), 64)
			if kinds[s.Question] == v1alpha1.QuestionNPS {
				m.nps.WithLabelValues(c.Namespace, c.Name, s.Question).Set(value)
				if merr == nil {
					m.npsMargin.WithLabelValues(c.Namespace, c.Name, s.Question).Set(margin)
				}
				continue
			}
			m.satisfied.WithLabelValues(c.Namespace, c.Name, s.Question).Set(value / 100)
			if merr == nil {
				m.satisfiedMargin.WithLabelValues(c.Namespace, c.Name, s.Question).Set(margin / 100)
			}
		}
		break
	}
}

// observeConditions publishes an object's conditions.
func (m *operatorMetrics) observeConditions(kind, namespace, name string, conditions []metav1.Condition) {
	m.conditions.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": namespace, "name": name})
	for _, c := range conditions {
		v := 0.0
		if c.Status == metav1.ConditionTrue {
			v = 1
		}
		m.conditions.WithLabelValues(kind, namespace, name, c.Type).Set(v)
	}
}

// forgetCampaign removes a deleted campaign's series.
func (m *operatorMetrics) forgetCampaign(namespace, name string) {
	for _, v := range []*prometheus.GaugeVec{m.waves, m.invited, m.outcomes, m.responded, m.rate, m.rateTarget, m.closedRate,
		m.nps, m.npsMargin, m.satisfied, m.satisfiedMargin} {
		v.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "campaign": name})
	}
	m.conditions.DeletePartialMatch(prometheus.Labels{"kind": "SurveyCampaign", "namespace": namespace, "name": name})
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
	m.conditions.DeletePartialMatch(prometheus.Labels{"kind": "FollowUp", "namespace": namespace, "name": name})
}
