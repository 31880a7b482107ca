package scoring

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

const eps = 1e-9

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want NaN", what, got)
		}
		return
	}
	if math.IsNaN(got) || math.Abs(got-want) > tol { // NaN - want > tol is false: a NaN must fail here
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func TestZ(t *testing.T) {
	// Quantiles of the standard normal distribution, to 12 significant figures.
	for _, c := range []struct{ confidence, z float64 }{
		{0.80, 1.2815515655446004},
		{0.90, 1.6448536269514715},
		{0.95, 1.9599639845400536},
		{0.98, 2.3263478740408408},
		{0.99, 2.5758293035489},
		{0.999, 3.2905267314918945},
		{0, 0},
	} {
		near(t, "Z", Z(c.confidence), c.z, 1e-12)
	}
	if !math.IsInf(Z(1), 1) {
		t.Errorf("Z(1) = %v, want +Inf", Z(1))
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN(), 95} {
		if !math.IsNaN(Z(bad)) {
			t.Errorf("Z(%v) = %v, want NaN", bad, Z(bad))
		}
	}
}

func TestMarginOfError(t *testing.T) {
	for _, c := range []struct {
		name          string
		p             float64
		n, population int
		confidence    float64
		want          float64
	}{
		// The classic: 1,000 responses give ±3.1 points at 95%.
		{"1000 responses", 0.5, 1000, 0, 0.95, 0.03098975161522807},
		// A landlord with 7,271 homes: 555 responses reach the ±4% band, 554 do not.
		{"TSM 555 of 7271", 0.5, 555, 7271, 0.95, 0.0399815606157989},
		{"TSM 554 of 7271", 0.5, 554, 7271, 0.95, 0.04002060795250155},
		// p = 0.8 from 100 of 400 invited: 1.96·sqrt(.16/100)·sqrt(300/399).
		{"finite population", 0.8, 100, 400, 0.95, 0.067980172436115955},
		{"census", 0.5, 400, 400, 0.95, 0},
		{"more answers than people", 0.5, 401, 400, 0.95, 0},
		{"no responses", 0.5, 0, 400, 0.95, math.NaN()},
		{"p = 0", 0, 50, 0, 0.95, 0},
		{"p = 1", 1, 50, 0, 0.95, 0},
		{"p out of range is clamped", 1.5, 50, 0, 0.95, 0},
		{"single response, population 1", 1, 1, 1, 0.95, 0},
		{"99% confidence", 0.5, 1000, 0, 0.99, 2.5758293035489 * math.Sqrt(0.25/1000)},
	} {
		t.Run(c.name, func(t *testing.T) {
			near(t, "MarginOfError", MarginOfError(c.p, c.n, c.population, c.confidence), c.want, 1e-12)
		})
	}
}

func TestSampleSize(t *testing.T) {
	for _, c := range []struct {
		population int
		margin     float64
		confidence float64
		want       int
	}{
		// Published figures: 385 for ±5% and 1,068 for ±3% from a large population;
		// 278 for ±5% of 1,000.
		{0, 0.05, 0.95, 385},
		{0, 0.03, 0.95, 1068},
		{1000, 0.05, 0.95, 278},
		// The tenant satisfaction measures' bands: ±5% under 2,500 homes, ±4% from 2,500 to
		// 9,999, ±3% from 10,000.
		{2000, 0.05, 0.95, 323},
		{7271, 0.04, 0.95, 555},
		{25000, 0.03, 0.95, 1024},
		{100000, 0.02, 0.95, 2345},
		// Small and degenerate cases.
		{10, 0.05, 0.95, 10},
		{1, 0.05, 0.95, 1},
		{500, 0, 0.95, 500},
		{0, 0, 0.95, math.MaxInt},
		{0, 0.5, 0.95, 4}, // n0 = 3.84
	} {
		got := SampleSize(c.population, c.margin, c.confidence)
		if got != c.want {
			t.Errorf("SampleSize(%d, %v, %v) = %d, want %d", c.population, c.margin, c.confidence, got, c.want)
		}
	}
}

// SampleSize is the smallest n whose margin of error is within the target.
func TestSampleSizeIsTheSmallestSufficient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		population := 2 + r.IntN(200000)
		margin := 0.005 + r.Float64()*0.1
		confidence := []float64{0.8, 0.9, 0.95, 0.99}[r.IntN(4)]
		n := SampleSize(population, margin, confidence)
		if n < 1 || n > population {
			t.Fatalf("SampleSize(%d, %v, %v) = %d, outside 1..population", population, margin, confidence, n)
		}
		if got := MarginOfError(0.5, n, population, confidence); got > margin+eps {
			t.Fatalf("SampleSize(%d, %v, %v) = %d gives ±%v, wider than asked", population, margin, confidence, n, got)
		}
		if n > 1 {
			if got := MarginOfError(0.5, n-1, population, confidence); got <= margin-eps {
				t.Fatalf("SampleSize(%d, %v, %v) = %d, but %d already gives ±%v", population, margin, confidence, n, n-1, got)
			}
		}
	}
}

func TestMarginProperties(t *testing.T) {
	// The margin shrinks as n grows, is 0 at a census and never exceeds the infinite-population
	// margin.
	prop := func(pRaw uint16, nRaw, popRaw uint16) bool {
		p := float64(pRaw) / math.MaxUint16
		population := int(popRaw) + 2
		n := int(nRaw)%population + 1
		m := MarginOfError(p, n, population, 0.95)
		if m < 0 || m > MarginOfError(p, n, 0, 0.95)+eps || m > 0.5*Z(0.95)+eps {
			return false
		}
		if n < population && MarginOfError(p, n+1, population, 0.95) > m+eps {
			return false
		}
		return MarginOfError(p, population, population, 0.95) == 0
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}

func TestNPS(t *testing.T) {
	// 70 promoters, 20 passives, 10 detractors: NPS 60, variance (0.8 − 0.36)/100.
	var counts [11]int
	counts[10], counts[9], counts[8], counts[7], counts[3], counts[0] = 40, 30, 12, 8, 6, 4
	e := NPS(counts, 0, 0.95)
	near(t, "NPS", e.Value, 60, eps)
	near(t, "NPS margin", e.MarginOfError, 13.00093027865858, 1e-9)
	near(t, "NPS low", e.Low, 60-13.00093027865858, 1e-9)
	near(t, "NPS high", e.High, 60+13.00093027865858, 1e-9)
	if e.N != 100 {
		t.Errorf("N = %d, want 100", e.N)
	}

	// All promoters: +100 with no spread; a census: no sampling error.
	all := NPS([11]int{10: 25}, 0, 0.95)
	near(t, "all promoters", all.Value, 100, eps)
	near(t, "all promoters margin", all.MarginOfError, 0, eps)
	census := NPS(counts, 100, 0.95)
	near(t, "census margin", census.MarginOfError, 0, eps)

	// A single detractor.
	one := NPS([11]int{2: 1}, 0, 0.95)
	near(t, "single", one.Value, -100, eps)
	if one.N != 1 {
		t.Errorf("single N = %d", one.N)
	}

	// No responses.
	zero := NPS([11]int{}, 0, 0.95)
	if zero.HasValue() || zero.HasMargin() || zero.N != 0 {
		t.Errorf("no responses gave %+v", zero)
	}

	// Bounds: low and high stay within -100..100.
	lopsided := NPS([11]int{10: 3, 0: 1}, 0, 0.99)
	if lopsided.High > 100 || lopsided.Low < -100 {
		t.Errorf("bounds escaped: %+v", lopsided)
	}
}

func TestTopBoxAndMean(t *testing.T) {
	csat := []int{5, 5, 10, 40, 40} // very dissatisfied .. very satisfied
	tb := TopBox(csat, 2, 0, 0.95)
	near(t, "top-box", tb.Value, 80, eps)
	near(t, "top-box margin", tb.MarginOfError, 7.839855938160215, 1e-9)
	tbf := TopBox(csat, 2, 400, 0.95)
	near(t, "top-box margin, 100 of 400", tbf.MarginOfError, 6.7980172436115955, 1e-9)

	m := Mean(csat, 1, 0, 0.95)
	near(t, "mean", m.Value, 4.05, eps)
	near(t, "mean margin", m.MarginOfError, 0.21101184793071792, 1e-9)

	one := Mean([]int{0, 0, 1, 0, 0}, 1, 0, 0.95)
	near(t, "single mean", one.Value, 3, eps)
	if one.HasMargin() {
		t.Errorf("a single response has no margin for a mean: %+v", one)
	}
	if census := Mean([]int{0, 0, 1, 0, 0}, 1, 1, 0.95); census.MarginOfError != 0 {
		t.Errorf("a census of one has margin 0: %+v", census)
	}
	if empty := TopBox([]int{0, 0, 0}, 1, 0, 0.95); empty.HasValue() {
		t.Errorf("no responses: %+v", empty)
	}
	hi := TopBox([]int{0, 1}, 1, 0, 0.95)
	if hi.Value != 100 || hi.High != 100 || hi.Low != 100 {
		t.Errorf("all top-box: %+v", hi)
	}
}

func TestHistogramExcludesAnswersThatDoNotCount(t *testing.T) {
	h := NewHistogram(1, 5)
	five, four, two := 5, 4, 2
	for _, v := range []*int{&five, &five, &four, &two, nil, nil} {
		if err := h.Add(v, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Add(nil, true); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(&four, true); err != nil { // "don't know" wins over a stray value
		t.Fatal(err)
	}
	seven := 7
	if err := h.Add(&seven, false); err == nil {
		t.Error("an answer off the scale was accepted")
	}
	if h.Base() != 4 || h.Skipped != 2 || h.NotApplicable != 2 {
		t.Fatalf("base %d skipped %d n/a %d, want 4, 2, 2", h.Base(), h.Skipped, h.NotApplicable)
	}
	tb := TopBox(h.Counts, 2, 0, 0.95)
	near(t, "top-box of counted answers", tb.Value, 75, eps)
	if _, err := h.NPSCounts(); err == nil {
		t.Error("a 1-5 histogram passed as NPS")
	}
	nps := NewHistogram(0, 10)
	nine := 9
	_ = nps.Add(&nine, false)
	counts, err := nps.NPSCounts()
	if err != nil || counts[9] != 1 {
		t.Errorf("NPSCounts = %v, %v", counts, err)
	}
}

func TestResponseRates(t *testing.T) {
	d := Dispositions{Complete: 300, Partial: 50, Refusal: 20, NonContact: 30, NoAnswer: 600, NotEligible: 40}
	near(t, "RR1", d.RR1(), 0.30, eps)
	near(t, "RR2", d.RR2(), 0.35, eps)
	d.UnknownEligibility = 100
	near(t, "RR1 with unknown eligibility", d.RR1(), 300.0/1100, eps)
	near(t, "RR2 with unknown eligibility", d.RR2(), 350.0/1100, eps)
	near(t, "RR3 e=0.5", d.RR3(0.5), 300.0/1050, eps)
	near(t, "RR4 e=0.5", d.RR4(0.5), 350.0/1050, eps)
	near(t, "RR4 e=1 is RR2", d.RR4(1), d.RR2(), eps)
	near(t, "RR3 e=0", d.RR3(0), 300.0/1000, eps)
	near(t, "nobody invited", Dispositions{}.RR2(), math.NaN(), 0)
	if rr := (Dispositions{Complete: 10}).RR2(); rr != 1 {
		t.Errorf("everyone answered: RR2 = %v", rr)
	}
}

func TestCompare(t *testing.T) {
	tb := TopBox([]int{5, 5, 10, 40, 40}, 2, 0, 0.95) // 80 ±7.84, n=100, SE 4
	above := Compare(tb, Reference{Value: 71.3}, 0.95)
	near(t, "difference", above.Difference, 8.7, 1e-9)
	near(t, "z", above.Z, 2.175, 1e-9)
	near(t, "p", above.PValue, 0.029623, 1e-5)
	if !above.Significant || above.Direction() != 1 {
		t.Errorf("80 ±7.8 vs 71.3: %+v, want significantly above", above)
	}
	ns := Compare(tb, Reference{Value: 75}, 0.95)
	if ns.Significant || ns.Direction() != 0 {
		t.Errorf("80 ±7.8 vs 75: %+v, want not significant", ns)
	}
	// A benchmark with its own margin widens the test: 80 vs 71.3 ±6 is no longer significant.
	if c := Compare(tb, Reference{Value: 71.3, MarginOfError: 6}, 0.95); c.Significant {
		t.Errorf("with the benchmark's margin: %+v", c)
	}
	below := Compare(tb, Reference{Value: 90}, 0.95)
	if below.Direction() != -1 {
		t.Errorf("80 vs 90: %+v, want below", below)
	}
	// Against the previous wave: two estimates.
	prev := TopBox([]int{10, 10, 20, 30, 30}, 2, 0, 0.95) // 60%, n=100
	wave := Compare(tb, ReferenceOf(prev), 0.95)
	if !wave.Significant || wave.Direction() != 1 {
		t.Errorf("80%% vs 60%% with n=100 each: %+v", wave)
	}
	// Too few responses are never significant, however far apart.
	few := NPS([11]int{10: 5}, 0, 0.95)
	if c := Compare(few, Reference{Value: 0}, 0.95); c.Significant {
		t.Errorf("5 promoters vs 0: %+v", c)
	}
	// No data.
	if c := Compare(NPS([11]int{}, 0, 0.95), Reference{Value: 0}, 0.95); c.Significant || !math.IsNaN(c.Z) {
		t.Errorf("no data: %+v", c)
	}
	// An earlier wave without a margin cannot be tested, however far apart.
	if c := Compare(tb, Reference{Value: 40, MarginOfError: math.NaN(), N: 100}, 0.95); c.Significant || !math.IsNaN(c.Z) {
		t.Errorf("against an earlier wave without a margin: %+v", c)
	}
	// Forty promoters are +100 ±0: the same as a benchmark of 100, not above or below it, and
	// exactly above one of 90.
	allPromoters := NPS([11]int{10: 40}, 0, 0.95)
	if c := Compare(allPromoters, Reference{Value: 100}, 0.95); c.Significant || c.Z != 0 || c.Direction() != 0 {
		t.Errorf("+100 ±0 vs 100: %+v", c)
	}
	if c := Compare(allPromoters, Reference{Value: 90}, 0.95); !c.Significant || !math.IsInf(c.Z, 1) || c.Direction() != 1 {
		t.Errorf("+100 ±0 vs 90: %+v", c)
	}
}

// MinComparableN responses are enough to be compared, one fewer are not: on either side of a
// comparison with an earlier wave, and far apart enough that only the count decides.
func TestCompareAtTheFewestResponses(t *testing.T) {
	atMin := TopBox([]int{1, 1, 4, 12, 12}, 2, 0, 0.95)      // 80% of 30, ±14.3
	belowMin := TopBox([]int{1, 1, 4, 11, 12}, 2, 0, 0.95)   // 79.3% of 29
	many := TopBox([]int{5, 5, 10, 40, 40}, 2, 0, 0.95)      // 80% of 100, ±7.8
	earlierAtMin := TopBox([]int{6, 6, 6, 6, 6}, 2, 0, 0.95) // 40% of 30
	earlierBelow := TopBox([]int{6, 6, 5, 6, 6}, 2, 0, 0.95) // 41.4% of 29
	if atMin.N != MinComparableN || belowMin.N != MinComparableN-1 || earlierAtMin.N != MinComparableN || earlierBelow.N != MinComparableN-1 {
		t.Fatalf("counts: %d %d %d %d", atMin.N, belowMin.N, earlierAtMin.N, earlierBelow.N)
	}
	for name, c := range map[string]struct {
		e           Estimate
		ref         Reference
		significant bool
	}{
		"30 responses against a benchmark": {atMin, Reference{Value: 40}, true},
		"29 responses against a benchmark": {belowMin, Reference{Value: 40}, false},
		"against an earlier wave of 30":    {many, ReferenceOf(earlierAtMin), true},
		"against an earlier wave of 29":    {many, ReferenceOf(earlierBelow), false},
		"30 against an earlier wave of 30": {atMin, ReferenceOf(TopBox([]int{12, 12, 2, 2, 2}, 2, 0, 0.95)), true},
		"30 responses below a benchmark":   {atMin, Reference{Value: 99}, true},
	} {
		got := Compare(c.e, c.ref, 0.95)
		if got.Significant != c.significant || math.Abs(got.Z) < 2.5 {
			t.Errorf("%s: %+v, want significant %v (|z| well above 1.96 either way)", name, got, c.significant)
		}
	}
}

func TestDrivers(t *testing.T) {
	// x = 1..5, y = 2,4,5,4,5: r = 30/sqrt(50·30).
	pair := PairStats{N: 5, SumX: 15, SumY: 20, SumXX: 55, SumYY: 86, SumXY: 66}
	r, ok := pair.Correlation()
	if !ok {
		t.Fatal("no correlation")
	}
	near(t, "r", r, 30/math.Sqrt(1500), 1e-12)

	flat := PairStats{N: 4, SumX: 12, SumY: 10, SumXX: 36, SumYY: 30, SumXY: 30} // x always 3
	if _, ok := flat.Correlation(); ok {
		t.Error("a question everyone answered alike has no correlation")
	}
	if _, ok := (PairStats{N: 2, SumX: 3, SumY: 3, SumXX: 5, SumYY: 5, SumXY: 5}).Correlation(); ok {
		t.Error("two responses give no correlation")
	}
	negative := PairStats{N: 5, SumX: 15, SumY: 15, SumXX: 55, SumYY: 55, SumXY: 35} // y = 6 − x
	drivers := Drivers("tp01", map[string]PairStats{
		"tp01": {N: 5, SumX: 15, SumY: 15, SumXX: 55, SumYY: 55, SumXY: 55},
		"tp02": pair,
		"tp03": negative,
		"tp04": flat,
		"tp05": {N: 5, SumX: 15, SumY: 15, SumXX: 55, SumYY: 55, SumXY: 55}, // r = 1
		"tp00": pair,                                                        // tied with tp02: by question id
	})
	if len(drivers) != 4 || drivers[0].Question != "tp05" || drivers[1].Question != "tp00" || drivers[2].Question != "tp02" || drivers[3].Question != "tp03" {
		t.Fatalf("drivers = %+v", drivers)
	}
	near(t, "perfect", drivers[0].Correlation, 1, 1e-12)
	near(t, "inverse", drivers[3].Correlation, -1, 1e-12)
}

// The sufficient statistics give the same correlation as the rows they summarise.
func TestCorrelationMatchesRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n := 3 + r.IntN(500)
		xs, ys := make([]float64, n), make([]float64, n)
		var s PairStats
		for i := range n {
			x := int64(1 + r.IntN(5))
			y := int64(min(5, max(1, int(x)+r.IntN(3)-1)))
			xs[i], ys[i] = float64(x), float64(y)
			s.N++
			s.SumX += x
			s.SumY += y
			s.SumXX += x * x
			s.SumYY += y * y
			s.SumXY += x * y
		}
		got, ok := s.Correlation()
		want := pearson(xs, ys)
		if !ok {
			if !math.IsNaN(want) {
				t.Fatalf("no correlation from stats, rows give %v", want)
			}
			continue
		}
		near(t, "r", got, want, 1e-9)
	}
}

func pearson(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

func BenchmarkMarginOfError(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		MarginOfError(0.5, 100+i%1000, 7271, 0.95)
	}
}

func BenchmarkSampleSize(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		SampleSize(1000+i%100000, 0.04, 0.95)
	}
}

func BenchmarkNPS(b *testing.B) {
	counts := [11]int{4, 2, 3, 5, 6, 8, 12, 20, 25, 40, 55}
	for b.Loop() {
		NPS(counts, 7271, 0.95)
	}
}

func BenchmarkTopBox(b *testing.B) {
	counts := []int{30, 45, 60, 220, 310}
	for b.Loop() {
		TopBox(counts, 2, 7271, 0.95)
	}
}

func BenchmarkMean(b *testing.B) {
	counts := []int{30, 45, 60, 220, 310}
	for b.Loop() {
		Mean(counts, 1, 7271, 0.95)
	}
}

func BenchmarkDrivers(b *testing.B) {
	pairs := map[string]PairStats{}
	for i, q := range []string{"tp02", "tp03", "tp04", "tp05", "tp06", "tp07", "tp08", "tp09", "tp10", "tp11", "tp12"} {
		pairs[q] = PairStats{N: 1000, SumX: 3900 + int64(i), SumY: 4000, SumXX: 16500, SumYY: 17000, SumXY: 16400 + int64(10*i)}
	}
	for b.Loop() {
		Drivers("tp01", pairs)
	}
}
