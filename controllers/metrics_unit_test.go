package controllers

import (
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// A campaign's per-question and per-condition series follow its status: a question taken out
// of the survey, or a condition gone, loses its series; the others stay (they are set, never
// deleted and set again); a deleted campaign leaves none.
func TestMetricsFollowTheStatus(t *testing.T) {
	m := registeredMetrics()
	c := &v1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "metrics-test", Name: "pulse"}}
	c.Spec.Survey.Questions = []v1alpha1.Question{{ID: "tp01", Kind: v1alpha1.QuestionCSAT}, {ID: "recommend", Kind: v1alpha1.QuestionNPS}}
	c.Status.Waves = []v1alpha1.WaveStatus{{ID: "w1", Phase: v1alpha1.WaveCollecting, Invited: 10, Responded: 5, ResponseRate: "50.0",
		Scores: []v1alpha1.QuestionScore{{Question: "tp01", Value: "80.0", N: 5, MarginOfError: "10.0"}, {Question: "recommend", Value: "20", N: 5}}}}
	c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}, {Type: "Stalled", Status: metav1.ConditionFalse}}
	m.observeCampaign(c)
	want := map[string]float64{
		"survey_campaign_satisfied_ratio/tp01": 0.8, "survey_campaign_satisfied_ratio_margin/tp01": 0.1,
		"survey_campaign_nps/recommend": 20, "survey_condition/Ready": 1, "survey_condition/Stalled": 0,
		"survey_campaign_response_rate/": 0.5,
	}
	if got := pulseSeries(t); !maps.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}

	c.Spec.Survey.Questions = c.Spec.Survey.Questions[:1]
	c.Status.Waves[0].Scores = c.Status.Waves[0].Scores[:1]
	c.Status.Conditions = c.Status.Conditions[:1]
	m.observeCampaign(c)
	delete(want, "survey_campaign_nps/recommend")
	delete(want, "survey_condition/Stalled")
	if got := pulseSeries(t); !maps.Equal(got, want) {
		t.Errorf("after the question and the condition went: %v, want %v", got, want)
	}

	m.forgetCampaign(c.Namespace, c.Name)
	if got := pulseSeries(t); len(got) != 0 {
		t.Errorf("a deleted campaign's series: %v", got)
	}
}

// pulseSeries are the series of metrics-test/pulse, as "name/question or condition".
func pulseSeries(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] != "metrics-test" || (labels["campaign"] != "pulse" && labels["name"] != "pulse") {
				continue
			}
			switch f.GetName() {
			case "survey_campaign_satisfied_ratio", "survey_campaign_satisfied_ratio_margin", "survey_campaign_nps",
				"survey_campaign_nps_margin", "survey_condition", "survey_campaign_response_rate":
				out[f.GetName()+"/"+labels["question"]+labels["type"]] = s.GetGauge().GetValue()
			}
		}
	}
	return out
}
