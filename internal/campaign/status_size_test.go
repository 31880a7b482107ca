package campaign

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// The status of a campaign at the API's maxima (50 waves, each with 50 scored questions and
// their trend, 20 segments, 16 channels, 50 drivers, 8 targets, 32 benchmarks, every name and
// figure as long as the schema lets it be) fits in one object once the history is trimmed:
// etcd refuses a value over 1.5 MiB. Untrimmed, it would not.
func TestStatusAtTheMaximaFits(t *testing.T) {
	w, name := maximalWave()
	c := v1alpha1.SurveyCampaign{}
	for range 50 {
		c.Status.Waves = append(c.Status.Waves, *w.DeepCopy())
	}
	for i := range 16 {
		c.Status.Conditions = append(c.Status.Conditions, metav1.Condition{Type: name(i), Status: metav1.ConditionTrue,
			Reason: strings.Repeat("R", 63), Message: strings.Repeat("m", v1alpha1.MaxMessage), LastTransitionTime: metav1.Now()})
	}
	const limit = 1536 * 1024 // etcd's default request limit
	size := func() int {
		data, err := json.Marshal(c.Status)
		if err != nil {
			t.Fatal(err)
		}
		return len(data)
	}
	untrimmed := size()
	for i := range c.Status.Waves[1:] {
		c.Status.Waves[i+1].Phase = v1alpha1.WaveClosed
	}
	TrimHistory(c.Status.Waves, name(0))
	trimmed := size()
	t.Logf("status at the maxima: %d bytes untrimmed, %d trimmed (%.0f%% of etcd's limit)", untrimmed, trimmed, 100*float64(trimmed)/limit)
	if untrimmed <= limit {
		t.Errorf("untrimmed, the status is %d bytes: the test no longer shows why it trims", untrimmed)
	}
	// The spec at its maxima takes its share too: leave it a third.
	if trimmed > limit*2/3 {
		t.Errorf("the status at the API's maxima is %d bytes, more than two thirds of etcd's %d", trimmed, limit)
	}
	if len(c.Status.Waves[SegmentDetailWaves-1].Segments[0].Scores) != 49 || c.Status.Waves[SegmentDetailWaves].Segments[0].Scores != nil {
		t.Errorf("trimmed the wrong waves' scores by segment")
	}
	if len(c.Status.Waves[DetailedWaves-1].Scores) != 50 || len(c.Status.Waves[DetailedWaves].Scores) != 1 ||
		c.Status.Waves[DetailedWaves].Segments[0].Score == nil || c.Status.Waves[DetailedWaves].Channels[0].Score != nil ||
		c.Status.Waves[DetailedWaves-1].Channels[0].Score == nil {
		t.Errorf("trimmed the wrong waves or figures")
	}
}

// maximalWave is a wave's status at the API's maxima, every name and figure as long as the
// schema lets it be, and the name of its i-th question.
func maximalWave() (v1alpha1.WaveStatus, func(int) string) {
	name := func(i int) string { return strings.Repeat("q", 60) + string(rune('a'+i%26)) + string(rune('a'+i/26)) }
	score := func(i int) v1alpha1.QuestionScore {
		return v1alpha1.QuestionScore{Question: name(i), Value: "-999999.99", Mean: "-999999.99", N: 1 << 40, MarginOfError: "999999.99",
			Unweighted: "-999999.99", EffectiveN: 1 << 40}
	}
	group := func(i int) v1alpha1.Breakdown {
		s := score(0)
		return v1alpha1.Breakdown{Name: name(i), Population: 1 << 40, Invited: 1 << 40, Responded: 1 << 40, ResponseRate: "100.00",
			PopulationShare: "100.00", ResponseShare: "100.00", Score: &s}
	}
	// A segment's other questions' scores: as segmentScores makes them (no weighting).
	segmentScore := func(i int) v1alpha1.QuestionScore {
		return v1alpha1.QuestionScore{Question: name(i), Value: "-999999.99", Mean: "-999999.99", N: 1 << 40, MarginOfError: "999999.99"}
	}
	var w v1alpha1.WaveStatus
	w.ID = strings.Repeat("w", 63)
	w.Phase, w.JobName, w.Message = v1alpha1.WaveCollecting, strings.Repeat("j", 63), strings.Repeat("m", 1024)
	w.ScheduledTime, w.CloseTime = metav1.Now(), &metav1.Time{}
	w.Invited, w.Delivered, w.Failed, w.OptedOut, w.Responded, w.ResponseRate = 1<<40, 1<<40, 1<<40, 1<<40, 1<<40, "100.00"
	for i := range 50 {
		w.Scores = append(w.Scores, score(i))
		w.Trend = append(w.Trend, v1alpha1.TrendComparison{Question: name(i), PreviousWave: w.ID, Change: "-999999.99", Verdict: v1alpha1.VerdictNotSignificant})
		w.Drivers = append(w.Drivers, v1alpha1.Driver{Question: name(i), Correlation: "-1.00", N: 1 << 40})
	}
	for i := range 20 {
		w.Segments = append(w.Segments, group(i))
		for q := 1; q < 50; q++ {
			w.Segments[i].Scores = append(w.Segments[i].Scores, segmentScore(q))
		}
	}
	for i := range 16 {
		w.Channels = append(w.Channels, group(i))
	}
	for range 8 {
		w.Targets = append(w.Targets, v1alpha1.TargetVerdict{Target: "marginOfError", Verdict: v1alpha1.VerdictNotMet, Actual: "-999999.99"})
	}
	for i := range 32 {
		w.Benchmarks = append(w.Benchmarks, v1alpha1.BenchmarkComparison{Name: name(i), Difference: "-999999.99", Verdict: v1alpha1.VerdictNotSignificant})
	}
	w.Representativeness = &v1alpha1.Representativeness{ChiSquare: "999999.00", DegreesOfFreedom: 19, PValue: "8.3e-155"}
	return w, name
}
