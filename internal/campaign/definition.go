package campaign

import (
	"strconv"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/survey"
)

// Definition is the snapshot of a campaign's survey that a wave registers with the response
// service: every scale spelled out point by point with its descriptor.
func Definition(s *v1alpha1.Survey) survey.Definition {
	d := survey.Definition{Title: s.Title, Intro: s.Intro, Primary: s.PrimaryQuestionID(), Anonymous: s.Anonymous}
	for i := range s.Questions {
		q := &s.Questions[i]
		out := survey.Question{ID: q.ID, Kind: string(q.Kind), Text: q.Text, Required: q.Required,
			Choices: q.Choices, NotApplicable: q.NotApplicable, ShowIf: q.ShowIf, Multiple: q.Multiple}
		if q.MinSelections != nil {
			out.MinSelections = int(*q.MinSelections)
		}
		if q.MaxSelections != nil {
			out.MaxSelections = int(*q.MaxSelections)
		}
		if scale, ok := q.EffectiveScale(); ok {
			for v := scale.Min; v <= scale.Max; v++ {
				label := strconv.Itoa(int(v))
				if i := int(v - scale.Min); i < len(scale.Labels) {
					label = scale.Labels[i]
				}
				out.Points = append(out.Points, survey.Point{Value: int(v), Label: label})
			}
			out.Positive = int(*scale.Positive)
		}
		d.Questions = append(d.Questions, out)
	}
	return d
}
