package campaign

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
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

// With the frame known, the overall score is post-stratified: each segment's score weighted by
// its share of the population. Here the small segment was invited in full and the large one in
// part, so pooling the answers would pull the score towards the small segment's.
func TestOverallScoresAreWeightedBySegment(t *testing.T) {
	c := spec()
	c.Spec.Targets = &v1alpha1.Targets{Score: &v1alpha1.ScoreTarget{Question: "tp01", Min: "70"}}
	c.Spec.Benchmarks = []v1alpha1.Benchmark{{Name: "sector", Question: "tp01", Value: "69"}}
	v := func(i int) *int { return &i }
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{
			{Segment: "older", Channel: "sms", Complete: 400, NoAnswer: 600},
			{Segment: "everyone", Channel: "email", Complete: 160, NoAnswer: 311},
		},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(5), Count: 300}, // 75% satisfied
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(2), Count: 100},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(4), Count: 80}, // 50% satisfied
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(1), Count: 80},
		},
	}
	pooled := Score(&c.Spec, sum)
	if s := pooled.Scores[0]; s.Value != "67.9" || s.Unweighted != "" || s.EffectiveN != 0 || pooled.Targets[0].Verdict != v1alpha1.VerdictNotMet {
		t.Errorf("before the frame is known: %+v, target %s", s, pooled.Targets[0].Verdict)
	}

	sum.Frame = []responseapi.FrameSegment{{Segment: "older", Population: 6000, Sampled: 1000}, {Segment: "everyone", Population: 471, Sampled: 471}}
	r := Score(&c.Spec, sum)
	s := r.Scores[0]
	// W = 6000/6471 = 0.9272 and 471/6471 = 0.0728; value = 0.9272·75 + 0.0728·50 = 73.18.
	// variance = 0.9272²·1875/400·5600/5999 + 0.0728²·2500/160·311/470 = 3.7620 + 0.0548;
	// margin = 1.959964·√3.8168 = 3.83. Kish n = 1/(0.9272²/400 + 0.0728²/160) = 458.2.
	if s.Value != "73.2" || s.MarginOfError != "3.8" || s.Unweighted != "67.9" || s.EffectiveN != 458 || s.N != 560 {
		t.Errorf("weighted tp01 = %+v, want 73.2 ±3.8, unweighted 67.9, effective n 458, n 560", s)
	}
	if r.Targets[0].Verdict != v1alpha1.VerdictMet || r.Targets[0].Actual != "73.2" {
		t.Errorf("the target is judged on %+v, want the weighted score", r.Targets[0])
	}
	if math.Abs(r.Primary.Value-73.18) > 0.01 || r.Benchmarks[0].Difference != "4.2" {
		t.Errorf("primary %v, benchmark %+v: want the weighted score", r.Primary.Value, r.Benchmarks[0])
	}
	// A segment of the frame nobody in it answered is not left out of the population: it is
	// merged into the largest segment, whose answers then stand for it too. Rescaling the weights
	// over the segments that answered would give 73.2 and leave 800 tenants out.
	withSilent := append([]responseapi.FrameSegment{{Segment: "silent", Population: 800, Sampled: 80}}, sum.Frame...)
	silent := sum
	silent.Frame = withSilent
	// (6800·75 + 471·50) / 7271 = 73.38.
	if s := Score(&c.Spec, silent).Scores[0]; s.Value != "73.4" {
		t.Errorf("with a segment that did not answer: %+v, want 73.4", s)
	}
	// A segment with answers but no population in the frame: the weights would be a guess.
	sum.Frame = sum.Frame[:1]
	if s := Score(&c.Spec, sum).Scores[0]; s.Value != "67.9" || s.Unweighted != "" {
		t.Errorf("with a segment missing from the frame: %+v, want the pooled score", s)
	}
}

// Representativeness: the responses' mix across segments against the population's. The small
// segment, invited in full, gave 29% of the answers for 7% of the tenants: far more than chance.
func TestRepresentativeness(t *testing.T) {
	c := spec()
	v := func(i int) *int { return &i }
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{
			{Segment: "older", Channel: "sms", Complete: 400, NoAnswer: 600},
			{Segment: "everyone", Channel: "email", Complete: 160, NoAnswer: 311},
		},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(5), Count: 400},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(4), Count: 160},
		},
	}
	if r := Score(&c.Spec, sum); r.Representativeness != nil {
		t.Errorf("representativeness without a frame: %+v", r.Representativeness)
	}
	sum.Frame = []responseapi.FrameSegment{{Segment: "older", Population: 6000}, {Segment: "everyone", Population: 471}}
	r := Score(&c.Spec, sum)
	// Expected answers: 560·6000/6471 = 519.2 and 560·471/6471 = 40.8;
	// χ² = (400−519.2)²/519.2 + (160−40.8)²/40.8 = 27.4 + 348.8 = 376.2, df 1.
	rep := r.Representativeness
	if rep == nil || rep.ChiSquare != "376.2" || rep.DegreesOfFreedom != 1 || rep.Representative || !strings.Contains(string(rep.PValue), "e-") {
		t.Fatalf("representativeness = %+v, want χ² 376.2, df 1, p far below 0.05, not representative", rep)
	}
	shares := map[string][2]v1alpha1.Percent{}
	for _, b := range r.Segments {
		shares[b.Name] = [2]v1alpha1.Percent{b.PopulationShare, b.ResponseShare}
	}
	if shares["older"] != [2]v1alpha1.Percent{"92.7", "71.4"} || shares["everyone"] != [2]v1alpha1.Percent{"7.3", "28.6"} {
		t.Errorf("shares (population, responses) = %v", shares)
	}
	// In proportion: representative.
	sum.Frame = []responseapi.FrameSegment{{Segment: "older", Population: 4000}, {Segment: "everyone", Population: 1600}}
	if rep := Score(&c.Spec, sum).Representativeness; rep == nil || !rep.Representative || rep.PValue != "1.000" {
		t.Errorf("responses in proportion: %+v, want representative with p 1.000", rep)
	}
}

// A group with fewer responses than the minimum group size shows its counts, never a score.
func TestMinimumGroupSize(t *testing.T) {
	v := func(i int) *int { return &i }
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{
			{Segment: "older", Channel: "sms", Complete: 4, NoAnswer: 6},
			{Segment: "everyone", Channel: "email", Complete: 30, NoAnswer: 10},
		},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(1), Count: 4},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(5), Count: 30},
			{Question: "recommend", Segment: "older", Channel: "sms", Value: v(10), Count: 4},
			{Question: "recommend", Segment: "everyone", Channel: "email", Value: v(9), Count: 30},
		},
	}
	for name, c := range map[string]struct {
		minimum       *int32
		older, others bool // whether each group shows a score
	}{
		"the default of 5":     {nil, false, true},
		"4 shows a group of 4": {ptr.To(int32(4)), true, true},
		"0 turns it off":       {ptr.To(int32(0)), true, true},
		"40 hides both":        {ptr.To(int32(40)), false, false},
	} {
		t.Run(name, func(t *testing.T) {
			cmp := spec()
			if c.minimum != nil {
				cmp.Spec.Reporting = &v1alpha1.Reporting{MinimumGroupSize: c.minimum}
			}
			r := Score(&cmp.Spec, sum)
			for _, groups := range [][]v1alpha1.Breakdown{r.Segments, r.Channels} {
				for _, b := range groups {
					want := c.others
					if b.Name == "older" || b.Name == "sms" {
						want = c.older
					}
					if (b.Score != nil) != want || b.Responded == 0 {
						t.Errorf("%s: score %v, responded %d; want a score: %v", b.Name, b.Score, b.Responded, want)
					}
					// A segment's other questions follow its primary score; a channel has none.
					isSegment := b.Name == "older" || b.Name == "everyone"
					if (len(b.Scores) == 1) != (want && isSegment) || len(b.Scores) > 1 {
						t.Errorf("%s: other questions' scores %+v; want them: %v", b.Name, b.Scores, want && isSegment)
					}
				}
			}
			// The wave's own 34 answers are a group too: a minimum above them withholds its score.
			if len(r.Scores) != 2 || r.Scores[0].N != 34 || (r.Scores[0].Value == "") != (c.minimum != nil && *c.minimum > 34) {
				t.Errorf("the overall scores: %+v", r.Scores)
			}
		})
	}
}

// The overall figure of a question with fewer answers than minimumGroupSize (never fewer than
// 2) is counts only: "100.0% ±0.0" from one response is not a measurement. Its score target is
// Unknown, and the summary column says how many answered.
func TestOverallScoreNeedsTheMinimum(t *testing.T) {
	v := func(i int) *int { return &i }
	summary := func(n int) responseapi.Summary {
		return responseapi.Summary{
			Dispositions: []responseapi.DispositionRow{{Segment: "everyone", Channel: "email", Complete: n, NoAnswer: 100}},
			Histograms:   []responseapi.Histogram{{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(5), Count: n}},
		}
	}
	for name, c := range map[string]struct {
		minimum   *int32
		n         int
		published bool
	}{
		"one answer, the default minimum":     {nil, 1, false},
		"four answers, the default minimum":   {nil, 4, false},
		"five answers, the default minimum":   {nil, 5, true},
		"one answer, the minimum turned off":  {ptr.To(int32(0)), 1, false},
		"two answers, the minimum turned off": {ptr.To(int32(0)), 2, true},
		"nine answers, a minimum of 10":       {ptr.To(int32(10)), 9, false},
	} {
		t.Run(name, func(t *testing.T) {
			cmp := spec()
			cmp.Spec.Reporting = &v1alpha1.Reporting{MinimumGroupSize: c.minimum}
			cmp.Spec.Targets = &v1alpha1.Targets{Score: &v1alpha1.ScoreTarget{Question: "tp01", Min: "50"}}
			r := Score(&cmp.Spec, summary(c.n))
			var s *v1alpha1.QuestionScore
			for i := range r.Scores {
				if r.Scores[i].Question == "tp01" {
					s = &r.Scores[i]
				}
			}
			if s == nil || s.N != int64(c.n) {
				t.Fatalf("tp01's score %+v: want n = %d", s, c.n)
			}
			if got := s.Value != ""; got != c.published {
				t.Errorf("tp01 = %+v: a score published %v, want %v", *s, got, c.published)
			}
			if !c.published && (s.MarginOfError != "" || s.Mean != "" || r.Primary.HasValue()) {
				t.Errorf("a withheld score has figures: %+v, primary %+v", *s, r.Primary)
			}
			label := ScoreLabel(&cmp.Spec.Survey.Questions[0], r.Scores)
			wantVerdict, wantLabel := v1alpha1.VerdictMet, "100.0%"
			if !c.published {
				wantVerdict, wantLabel = v1alpha1.VerdictUnknown, fmt.Sprintf("n=%d, too few", c.n)
			}
			if !strings.HasPrefix(label, wantLabel) {
				t.Errorf("the summary label %q, want it to start %q", label, wantLabel)
			}
			if len(r.Targets) != 1 || r.Targets[0].Verdict != wantVerdict {
				t.Errorf("the score target %+v, want %s", r.Targets, wantVerdict)
			}
		})
	}
}

// A response rate below its target on a wave that still collects is not missed yet: it reads
// Unknown, as the TargetsMet condition does, and NotMet only once the wave has closed.
func TestResponseRateTargetWhileCollecting(t *testing.T) {
	verdicts := []v1alpha1.TargetVerdict{
		{Target: "responseRate", Verdict: v1alpha1.VerdictNotMet, Actual: "12.0"},
		{Target: "score", Verdict: v1alpha1.VerdictNotMet, Actual: "40.0"},
		{Target: "marginOfError", Verdict: v1alpha1.VerdictMet, Actual: "3.0"},
	}
	got := WhileCollecting(append([]v1alpha1.TargetVerdict(nil), verdicts...))
	want := []v1alpha1.Verdict{v1alpha1.VerdictUnknown, v1alpha1.VerdictNotMet, v1alpha1.VerdictMet}
	for i := range got {
		if got[i].Verdict != want[i] || got[i].Actual != verdicts[i].Actual {
			t.Errorf("%s: %+v, want %s with the actual value kept", got[i].Target, got[i], want[i])
		}
	}
	met := WhileCollecting([]v1alpha1.TargetVerdict{{Target: "responseRate", Verdict: v1alpha1.VerdictMet}})
	if met[0].Verdict != v1alpha1.VerdictMet {
		t.Errorf("a rate already reached: %+v, want Met", met[0])
	}
}

// An anonymous survey publishes no score at all, for the wave or any group, until the wave
// has minimumGroupSize responses: before that, a score could be one person's answers.
func TestAnonymousWaveWithholdsScoresUntilItHasAGroup(t *testing.T) {
	v := func(i int) *int { return &i }
	summary := func(n int) responseapi.Summary {
		return responseapi.Summary{
			Dispositions: []responseapi.DispositionRow{{Segment: "front-line", Channel: "email", Complete: n, NoAnswer: 10}},
			Histograms: []responseapi.Histogram{
				{Question: "tp01", Segment: "front-line", Channel: "email", Value: v(2), Count: n},
				{Question: "recommend", Segment: "front-line", Channel: "email", Value: v(3), Count: n},
			},
			Pairs: map[string]responseapi.PairStats{"tp01": {N: int64(n), SumX: int64(2 * n), SumY: int64(3 * n), SumXX: int64(4 * n), SumYY: int64(9 * n), SumXY: int64(6 * n)}},
		}
	}
	cmp := spec()
	cmp.Spec.Survey.Anonymous = true
	r := Score(&cmp.Spec, summary(4))
	if len(r.Scores) != 0 || len(r.Drivers) != 0 || r.Responded != 4 || len(r.Segments) != 1 || r.Segments[0].Score != nil {
		t.Errorf("4 anonymous responses (minimum 5) published %+v, drivers %+v, segments %+v", r.Scores, r.Drivers, r.Segments)
	}
	if r := Score(&cmp.Spec, summary(5)); len(r.Scores) != 2 || r.Segments[0].Score == nil {
		t.Errorf("5 anonymous responses: scores %+v, segments %+v", r.Scores, r.Segments)
	}
	cmp.Spec.Survey.Anonymous = false
	if r := Score(&cmp.Spec, summary(4)); len(r.Scores) != 2 {
		t.Errorf("a survey that is not anonymous publishes its overall scores: %+v", r.Scores)
	}
}

// The change of each scored question since the previous closed wave, and whether it is more
// than the two waves' margins explain.
func TestTrend(t *testing.T) {
	c := spec()
	now := []v1alpha1.QuestionScore{
		{Question: "tp01", Value: "73.2", MarginOfError: "3.8", N: 560},
		{Question: "recommend", Value: "12", MarginOfError: "6.0", N: 560},
		{Question: "new", Value: "50.0", MarginOfError: "4.0", N: 560},
	}
	for name, c2 := range map[string]struct {
		previous []v1alpha1.QuestionScore
		want     []v1alpha1.TrendComparison
	}{
		// 73.2 − 66.0 = 7.2 > 1.96·√((3.8/1.96)² + (4.0/1.96)²) = √(3.8² + 4.0²) = 5.5: up.
		// 12 − 20 = −8 > √(6² + 6²) = 8.5? No: not significant.
		"one up, one not significant": {
			previous: []v1alpha1.QuestionScore{{Question: "tp01", Value: "66.0", MarginOfError: "4.0", N: 400}, {Question: "recommend", Value: "20", MarginOfError: "6.0", N: 400}},
			want: []v1alpha1.TrendComparison{
				{Question: "tp01", PreviousWave: "20260101-0900", Change: "7.2", Verdict: v1alpha1.VerdictAbove},
				{Question: "recommend", PreviousWave: "20260101-0900", Change: "-8.0", Verdict: v1alpha1.VerdictNotSignificant},
			},
		},
		"down": {
			previous: []v1alpha1.QuestionScore{{Question: "tp01", Value: "81.0", MarginOfError: "3.0", N: 500}},
			want:     []v1alpha1.TrendComparison{{Question: "tp01", PreviousWave: "20260101-0900", Change: "-7.8", Verdict: v1alpha1.VerdictBelow}},
		},
		"no margin before: unknown": {
			previous: []v1alpha1.QuestionScore{{Question: "tp01", Value: "70.0", N: 1}},
			want:     []v1alpha1.TrendComparison{{Question: "tp01", PreviousWave: "20260101-0900", Change: "3.2", Verdict: v1alpha1.VerdictUnknown}},
		},
		"nothing answered before": {previous: []v1alpha1.QuestionScore{{Question: "tp01", Value: "0", N: 0}}},
		// A weighted score is not compared with a pooled one: the weighting alone moves it.
		"weighted now, pooled before": {
			previous: []v1alpha1.QuestionScore{{Question: "recommend", Value: "20", MarginOfError: "6.0", N: 400, Unweighted: "18"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Trend(&c.Spec, now, c2.previous, "20260101-0900")
			if !reflect.DeepEqual(got, c2.want) {
				t.Errorf("trend = %+v\nwant    %+v", got, c2.want)
			}
		})
	}
}

// A channel's rate limit is shared by the pods that send at once: their rates and bursts add up
// to at most the declared ones, and each pod keeps a burst of at least one message.
func TestPodRateSharesTheChannelsLimit(t *testing.T) {
	for name, c := range map[string]struct {
		perSecond int32
		burst     *int32
		parallel  int
		rate      float64
		podBurst  int
	}{
		"one pod keeps it all":        {50, nil, 1, 50, 50},
		"three pods, burst defaulted": {50, nil, 3, 50.0 / 3, 16},
		"four pods, a burst of 10":    {100, ptr.To(int32(10)), 4, 25, 2},
		"a burst too small to share":  {10, ptr.To(int32(1)), 4, 2.5, 1},
	} {
		t.Run(name, func(t *testing.T) {
			rate, burst := podRate(&v1alpha1.RateLimit{PerSecond: c.perSecond, Burst: c.burst}, c.parallel)
			if math.Abs(rate-c.rate) > 1e-9 || burst != c.podBurst {
				t.Errorf("podRate = %v/s, burst %d; want %v/s, burst %d", rate, burst, c.rate, c.podBurst)
			}
		})
	}
	s := Settings{RowsPerShard: 100, MaxShards: 16, MaxParallelism: 4}
	for rows, want := range map[int]int{1: 1, 100: 1, 101: 2, 400: 4, 10_000: 4} {
		if got := Parallel(rows, s); got != want {
			t.Errorf("Parallel(%d rows) = %d, want %d", rows, got, want)
		}
	}
}
