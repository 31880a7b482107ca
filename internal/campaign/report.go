package campaign

import (
	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A wave's report is its full results, kept by the manager in a ConfigMap of the campaign's
// namespace (owned by the campaign, pruned with its history), where Kubernetes RBAC already
// says who may read it: every scored question overall, by segment and by channel, the weighted
// figures, representativeness, trend, targets, benchmarks, drivers, the invitations by
// disposition, and the wave's follow-up cases. The status keeps the detail of the newest waves
// only (TrimHistory); the report keeps it for every wave the history keeps. It holds no free
// text and nothing about a person.

// ReportKey is the key of the report in the ConfigMap's data.
const ReportKey = "report.json"

// LabelComponent marks the ConfigMaps the manager keeps, with ComponentReport for reports.
const (
	LabelComponent  = "app.kubernetes.io/component"
	ComponentReport = "wave-report"
)

// Report is a wave's report.
type Report struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Campaign   string `json:"campaign"`
	// Wave is the wave's status as computed, before the history is trimmed, with every scored
	// question's score by channel.
	Wave v1alpha1.WaveStatus `json:"wave"`
	// Dispositions are the wave's invitations (round 0) by segment and channel, as AAPOR counts
	// them.
	Dispositions []responseapi.DispositionRow `json:"dispositions"`
	// FollowUpCases are the wave's follow-up cases by FollowUp: opened, contacted, resolved,
	// overdue and breaches of the service standard, as the response service counted them.
	FollowUpCases []responseapi.WaveCases `json:"followUpCases"`
	// Choices are the Choice questions' answers, option by option (for a multiple choice, the
	// share of those who answered it who ticked each).
	Choices []ChoiceShares `json:"choices,omitempty"`
	// Languages are the wave's responses by the language they were given in.
	Languages []responseapi.LanguageCount `json:"languages,omitempty"`
}

// ReportName is a wave's report ConfigMap: "<campaign>-<wave>-report".
func ReportName(campaign, wave string) string {
	return PartName(campaign, wave+"-report", 0, 0)
}

// NewReport is the report of a wave whose status w the results r were applied to.
func NewReport(c *v1alpha1.SurveyCampaign, w *v1alpha1.WaveStatus, r Results, sum responseapi.Summary) Report {
	wave := *w.DeepCopy()
	wave.Message = "" // the operator's words about a Job, not results
	if r.ChannelDetail != nil {
		wave.Channels = r.ChannelDetail
	}
	dispositions := sum.Dispositions
	if dispositions == nil {
		dispositions = []responseapi.DispositionRow{}
	}
	cases := sum.Cases
	if cases == nil {
		cases = []responseapi.WaveCases{}
	}
	return Report{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WaveReport", Namespace: c.Namespace, Campaign: c.Name,
		Wave: wave, Dispositions: dispositions, FollowUpCases: cases, Choices: r.Choices, Languages: sum.Languages}
}
