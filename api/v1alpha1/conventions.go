package v1alpha1

// Condition types, reasons and annotations shared by the reconcilers and by anyone watching the
// resources. Ready, Reconciling and Stalled follow the kstatus conventions, so that Flux, Argo CD
// and `kubectl wait --for=condition=Ready` judge health without custom checks.
const (
	// ConditionReady is True when the resource is valid and working as declared.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is still acting on the latest spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without a change to the
	// spec or to an object it refers to.
	ConditionStalled = "Stalled"
	// ConditionTargetsMet is True when the latest wave with results meets every target.
	ConditionTargetsMet = "TargetsMet"
	// ConditionSLABreached is True while follow-up cases are past their due time.
	ConditionSLABreached = "SLABreached"

	// AnnotationRequestedAt, set or changed to any value (by convention an RFC 3339 time),
	// asks for a wave now without editing the spec.
	AnnotationRequestedAt = "surveys.surveyops.io/requestedAt"
)

// Standard scale descriptors. CSAT uses the wording of the tenant satisfaction measures;
// CES the agreement scale of "The organisation made it easy for me to ...".
var (
	// CSATLabels are the descriptors of the 1-5 satisfaction scale.
	CSATLabels = []string{
		"Very dissatisfied",
		"Fairly dissatisfied",
		"Neither satisfied nor dissatisfied",
		"Fairly satisfied",
		"Very satisfied",
	}
	// CESLabels are the descriptors of the 1-7 effort (ease) scale.
	CESLabels = []string{
		"Strongly disagree",
		"Disagree",
		"Somewhat disagree",
		"Neither agree nor disagree",
		"Somewhat agree",
		"Agree",
		"Strongly agree",
	}
	// NPSLabels are the descriptors of the 0-10 likelihood-to-recommend scale.
	NPSLabels = []string{
		"0 - Not at all likely", "1", "2", "3", "4", "5 - Neither likely nor unlikely",
		"6", "7", "8", "9", "10 - Extremely likely",
	}
)

// Scored reports whether answers to a question of this kind are scored (NPS, CSAT, CES,
// Rating), as opposed to Choice and Text.
func (k QuestionKind) Scored() bool {
	switch k {
	case QuestionNPS, QuestionCSAT, QuestionCES, QuestionRating:
		return true
	}
	return false
}

// EffectiveScale is the scale a question is asked on: its own scale where given, completed with
// the kind's standard labels and positive count. ok is false for Choice and Text questions,
// and for a Rating question without a scale (which the schema refuses).
func (q *Question) EffectiveScale() (s Scale, ok bool) {
	switch q.Kind {
	case QuestionNPS:
		s = Scale{Min: 0, Max: 10, Labels: NPSLabels}
	case QuestionCSAT:
		s = Scale{Min: 1, Max: 5, Labels: CSATLabels}
	case QuestionCES:
		s = Scale{Min: 1, Max: 7, Labels: CESLabels}
	case QuestionRating:
		if q.Scale == nil {
			return Scale{}, false
		}
	default:
		return Scale{}, false
	}
	if q.Scale != nil {
		own := *q.Scale
		if len(own.Labels) == 0 && own.Min == s.Min && own.Max == s.Max {
			own.Labels = s.Labels
		}
		s = own
	}
	s.Labels = append([]string(nil), s.Labels...)
	if s.Positive == nil {
		width := s.Max - s.Min + 1
		p := width / 2
		if q.Kind == QuestionNPS {
			p = 2 // promoters answer 9 or 10
		}
		s.Positive = &p
	} else {
		p := *s.Positive
		s.Positive = &p
	}
	return s, true
}

// PrimaryQuestionID is the id of the headline question: spec.survey.primaryQuestion, or the
// first scored question. It is empty when no question is scored.
func (s *Survey) PrimaryQuestionID() string {
	if s.PrimaryQuestion != "" {
		return s.PrimaryQuestion
	}
	for i := range s.Questions {
		if s.Questions[i].Kind.Scored() {
			return s.Questions[i].ID
		}
	}
	return ""
}
