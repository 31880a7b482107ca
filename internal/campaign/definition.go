package campaign

import (
	"strconv"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/i18n"
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
	if s.Language != "en" { // English is the snapshot's default: a snapshot of an English survey stays as it was
		d.Language = s.Language
	}
	for _, t := range s.Translations {
		tr := survey.Translation{Language: t.Language, Title: t.Title, Intro: t.Intro, Questions: map[string]survey.QuestionTexts{}}
		for _, qt := range t.Questions {
			texts := survey.QuestionTexts{Text: qt.Text, Choices: qt.Choices, Labels: qt.Labels, NotApplicable: qt.NotApplicable}
			if q := questionByID(s, qt.ID); q != nil && len(texts.Labels) == 0 && (q.Scale == nil || len(q.Scale.Labels) == 0) {
				texts.Labels = i18n.ScaleLabels(string(q.Kind), t.Language) // the operator's own, where it speaks the language
			}
			tr.Questions[qt.ID] = texts
		}
		d.Translations = append(d.Translations, tr)
	}
	return d
}

func questionByID(s *v1alpha1.Survey, id string) *v1alpha1.Question {
	for i := range s.Questions {
		if s.Questions[i].ID == id {
			return &s.Questions[i]
		}
	}
	return nil
}
