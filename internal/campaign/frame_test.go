package campaign

import (
	"strconv"
	"testing"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A sampled segment's margin of error is worked out on the segment's population, not on the
// number invited: 100 invited from 6,000 tenants is a sample, not nearly a census.
func TestSegmentMarginsUseThePopulation(t *testing.T) {
	c := spec()
	v := func(i int) *int { return &i }
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{{Segment: "older", Channel: "sms", Complete: 80, NoAnswer: 20}},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(5), Count: 50},
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(2), Count: 30},
		},
	}
	margin := func(sum responseapi.Summary) (float64, int64) {
		t.Helper()
		r := Score(&c.Spec, sum)
		if len(r.Segments) != 1 || r.Segments[0].Score == nil {
			t.Fatalf("segments = %+v", r.Segments)
		}
		m, err := strconv.ParseFloat(string(r.Segments[0].Score.MarginOfError), 64)
		if err != nil {
			t.Fatalf("margin %q: %v", r.Segments[0].Score.MarginOfError, err)
		}
		return m, r.Segments[0].Population
	}
	// 80 answers of 100 invited: with the invited as the population the correction is strong.
	onInvited, pop := margin(sum)
	if pop != 0 {
		t.Errorf("population %d before the frame is known", pop)
	}
	sum.Frame = []responseapi.FrameSegment{{Segment: "older", Population: 6000, Sampled: 100}}
	onPopulation, pop := margin(sum)
	if pop != 6000 {
		t.Errorf("population = %d, want 6000", pop)
	}
	// p = 50/80 = 0.625; 1.96·sqrt(p(1−p)/80) = 10.6 points; the fpc on 6,000 barely changes
	// it (×0.9934 → 10.5), on 100 it shrinks it to ±4.8 (×sqrt(20/99) = 0.449).
	if onPopulation != 10.5 || onInvited != 4.8 {
		t.Errorf("margins: on the population ±%v, want ±10.5; on the invited ±%v, want ±4.8", onPopulation, onInvited)
	}
}
