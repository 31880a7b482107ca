package campaign

import (
	"testing"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/survey"
)

func sampleSurvey() survey.Definition {
	five := int32(5)
	one := int32(1)
	pos := int32(2)
	return Definition(&v1alpha1.Survey{
		Title: "Tenant survey",
		Questions: []v1alpha1.Question{
			{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Text: "Overall?", Required: true},
			{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Text: "Repairs?", NotApplicable: "No repair"},
			{ID: "nps", Kind: v1alpha1.QuestionNPS, Text: "Recommend?"},
			{ID: "fair", Kind: v1alpha1.QuestionRating, Text: "Fair?", Scale: &v1alpha1.Scale{Min: one, Max: five, Positive: &pos,
				Labels: []string{"Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"}}},
			{ID: "visit", Kind: v1alpha1.QuestionChoice, Text: "First visit?", Choices: []string{"Yes", "No"}},
			{ID: "why", Kind: v1alpha1.QuestionText, Text: "Why?"},
		},
	})
}

func TestDefinition(t *testing.T) {
	d := sampleSurvey()
	if d.Primary != "tp01" || len(d.Questions) != 6 {
		t.Fatalf("definition = %+v", d)
	}
	csat := d.Questions[0]
	if len(csat.Points) != 5 || csat.Points[0] != (survey.Point{Value: 1, Label: "Very dissatisfied"}) || csat.Points[4] != (survey.Point{Value: 5, Label: "Very satisfied"}) || csat.Positive != 2 {
		t.Errorf("CSAT = %+v", csat)
	}
	nps := d.Questions[2]
	if len(nps.Points) != 11 || nps.Points[0].Value != 0 || nps.Points[10].Label != "10 - Extremely likely" || nps.Positive != 2 {
		t.Errorf("NPS = %+v", nps)
	}
	if d.Questions[3].Points[3].Label != "Agree" || d.Questions[4].IsScale() || d.Questions[5].IsScale() {
		t.Errorf("rating/choice/text = %+v", d.Questions[3:])
	}
	back, err := survey.Parse(d.JSON())
	if err != nil || len(back.Questions) != 6 || back.Questions[1].NotApplicable != "No repair" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if _, err := survey.Parse([]byte(`{"title":"x"}`)); err == nil {
		t.Error("a definition without questions parsed")
	}
}
