package campaign

import (
	"testing"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A benchmark estimated from a sample carries its own margin of error, and the comparison
// combines it with the wave's: a difference significant against an exact figure may not be
// once the benchmark's uncertainty is counted.
func TestBenchmarkOwnMarginOfError(t *testing.T) {
	v := func(i int) *int { return &i }
	// 400 invited, 200 responded: 140 of 200 satisfied on tp01, 70.0% (±~4.5 at 95%).
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{{Segment: "everyone", Channel: "email", Complete: 200, NoAnswer: 200}},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(5), Count: 140},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(2), Count: 60},
		},
	}
	for _, c := range []struct {
		name       string
		value      v1alpha1.Decimal
		margin     v1alpha1.Decimal
		difference v1alpha1.Decimal
		want       v1alpha1.Verdict
	}{
		{"exact benchmark 8 points below", "62", "", "8.0", v1alpha1.VerdictAbove},
		{"benchmark 8 points below with a zero margin", "62", "0", "8.0", v1alpha1.VerdictAbove},
		{"benchmark 8 points below with a narrow margin", "62", "6", "8.0", v1alpha1.VerdictAbove},
		{"benchmark 8 points below with a wide margin", "62", "8", "8.0", v1alpha1.VerdictNotSignificant},
		{"exact benchmark 8 points above", "78", "", "-8.0", v1alpha1.VerdictBelow},
		{"benchmark 8 points above with a wide margin", "78", "8", "-8.0", v1alpha1.VerdictNotSignificant},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := spec()
			s.Spec.Benchmarks = []v1alpha1.Benchmark{{Name: "sector", Question: "tp01", Value: c.value, MarginOfError: c.margin}}
			r := Score(&s.Spec, sum)
			if len(r.Scores) == 0 || r.Scores[0].Question != "tp01" || r.Scores[0].Value != "70.0" {
				t.Fatalf("tp01 score %+v, want 70.0", r.Scores)
			}
			if len(r.Benchmarks) != 1 {
				t.Fatalf("benchmarks %+v", r.Benchmarks)
			}
			got := r.Benchmarks[0]
			if got.Name != "sector" || got.Difference != c.difference || got.Verdict != c.want {
				t.Errorf("benchmark %s ±%q: %+v, want difference %s and verdict %s", c.value, c.margin, got, c.difference, c.want)
			}
		})
	}
}
