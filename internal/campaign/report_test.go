package campaign

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A wave's report at the API's maxima (the wave untrimmed, every question by segment and by
// channel, the dispositions of every segment and channel, the cases of 16 FollowUps) fits in
// one ConfigMap, whose data the API server limits to 1 MiB.
func TestReportAtTheMaximaFits(t *testing.T) {
	w, name := maximalWave()
	var detail []v1alpha1.Breakdown
	for _, ch := range w.Channels {
		ch := *ch.DeepCopy()
		for q := 1; q < 50; q++ {
			ch.Scores = append(ch.Scores, v1alpha1.QuestionScore{Question: name(q), Value: "-999999.99", Mean: "-999999.99",
				N: 1 << 40, MarginOfError: "999999.99"})
		}
		detail = append(detail, ch)
	}
	var sum responseapi.Summary
	for s := range 20 {
		for c := range 16 {
			sum.Dispositions = append(sum.Dispositions, responseapi.DispositionRow{Segment: name(s), Channel: strings.Repeat("c", 62) + name(c)[60:],
				Complete: 1 << 40, Partial: 1 << 40, Refusal: 1 << 40, NonContact: 1 << 40, NoAnswer: 1 << 40})
		}
	}
	for f := range 16 {
		sum.Cases = append(sum.Cases, responseapi.WaveCases{FollowUpUID: strings.Repeat("u", 36), FollowUp: name(f),
			Matched: 1 << 40, Contacted: 1 << 40, Resolved: 1 << 40, Overdue: 1 << 40, Breaches: 1 << 40})
	}
	c := &v1alpha1.SurveyCampaign{}
	c.Name, c.Namespace = strings.Repeat("n", 63), strings.Repeat("s", 63)
	report := NewReport(c, &w, Results{ChannelDetail: detail}, sum)
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	t.Logf("a report at the maxima: %d bytes (%.0f%% of a ConfigMap's limit)", len(data), 100*float64(len(data))/limit)
	if len(data) > limit*9/10 {
		t.Errorf("a report at the API's maxima is %d bytes, too near a ConfigMap's %d", len(data), limit)
	}
	if len(report.FollowUpCases) != 16 || len(report.Dispositions) != 320 {
		t.Errorf("the report has %d follow-ups' cases and %d dispositions, want 16 and 320", len(report.FollowUpCases), len(report.Dispositions))
	}
	if report.Wave.Message != "" || len(report.Wave.Channels[0].Scores) != 49 || len(report.Wave.Segments[0].Scores) != 49 {
		t.Errorf("the report lacks the detail or keeps the message: %d channel scores, %d segment scores, message %q",
			len(report.Wave.Channels[0].Scores), len(report.Wave.Segments[0].Scores), report.Wave.Message)
	}
}
