package controllers

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// The operator's gauges, in controller-runtime's registry, registered once for both
// reconcilers. Their labels name namespaces and objects, never a person.
type operatorMetrics struct {
	waves, invited, responded, rate, score *prometheus.GaugeVec
	cases                                  *prometheus.GaugeVec
}

var registeredMetrics = sync.OnceValue(func() *operatorMetrics {
	campaign := []string{"namespace", "campaign"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		metrics.Registry.MustRegister(g)
		return g
	}
	return &operatorMetrics{
		waves: gauge("survey_campaign_waves", "Waves of a campaign kept in its status, by phase.", append(campaign, "phase")...),
		invited: gauge("survey_campaign_invitations",
			"Invitations of the campaign's latest wave with invitations.", campaign...),
		responded: gauge("survey_campaign_responses",
			"Responses (complete or partial) to the campaign's latest wave with invitations.", campaign...),
		rate: gauge("survey_campaign_response_rate_percent",
			"Response rate (AAPOR RR2, percent) of the campaign's latest wave with invitations.", campaign...),
		score: gauge("survey_campaign_primary_score",
			"Primary score of the campaign's latest wave with responses: NPS points, or percent satisfied.", campaign...),
		cases: gauge("survey_followup_cases",
			"Follow-up cases by state: matched, contacted, resolved, overdue, breached.", "namespace", "followup", "state"),
	}
})

var phases = []v1alpha1.WavePhase{v1alpha1.WavePending, v1alpha1.WaveSending, v1alpha1.WaveCollecting, v1alpha1.WaveClosed, v1alpha1.WaveFailed}

// observeCampaign publishes a campaign's status.
func (m *operatorMetrics) observeCampaign(c *v1alpha1.SurveyCampaign) {
	count := map[v1alpha1.WavePhase]int{}
	for _, w := range c.Status.Waves {
		count[w.Phase]++
	}
	for _, p := range phases {
		m.waves.WithLabelValues(c.Namespace, c.Name, string(p)).Set(float64(count[p]))
	}
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
			if s.Question == primary && s.N > 0 {
				if v, err := strconv.ParseFloat(string(s.Value), 64); err == nil {
					m.score.WithLabelValues(c.Namespace, c.Name).Set(v)
					break
				}
			}
		}
		break
	}
}

// forgetCampaign removes a deleted campaign's series.
func (m *operatorMetrics) forgetCampaign(namespace, name string) {
	for _, v := range []*prometheus.GaugeVec{m.waves, m.invited, m.responded, m.rate, m.score} {
		v.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "campaign": name})
	}
}

// observeFollowUp publishes a FollowUp's case counts.
func (m *operatorMetrics) observeFollowUp(fu *v1alpha1.FollowUp) {
	st := fu.Status
	for state, v := range map[string]int64{"matched": st.Matched, "contacted": st.Contacted, "resolved": st.Resolved,
		"overdue": st.Overdue, "breached": st.Breaches} {
		m.cases.WithLabelValues(fu.Namespace, fu.Name, state).Set(float64(v))
	}
}

// forgetFollowUp removes a deleted FollowUp's series.
func (m *operatorMetrics) forgetFollowUp(namespace, name string) {
	m.cases.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "followup": name})
}
