package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// z95 is Z(0.95), the factor of every 95% margin below.
var z95 = Z(0.95)

func sameEstimate(t *testing.T, what string, got, want Estimate) {
	t.Helper()
	near(t, what+" value", got.Value, want.Value, 1e-9)
	near(t, what+" margin", got.MarginOfError, want.MarginOfError, 1e-9)
	near(t, what+" low", got.Low, want.Low, 1e-9)
	near(t, what+" high", got.High, want.High, 1e-9)
	if got.N != want.N {
		t.Errorf("%s N = %d, want %d", what, got.N, want.N)
	}
}

// randomCounts gives counts on a scale of the given length: often sparse (many points empty),
// sometimes a single response, sometimes none.
func randomCounts(r *rand.Rand, points int) []int {
	counts := make([]int, points)
	switch r.IntN(10) {
	case 0: // no responses
	case 1: // one response
		counts[r.IntN(points)] = 1
	case 2: // everyone on one point
		counts[r.IntN(points)] = 1 + r.IntN(50)
	default:
		scale := []int{3, 20, 400}[r.IntN(3)]
		for i := range counts {
			if r.IntN(4) > 0 {
				counts[i] = r.IntN(scale)
			}
		}
	}
	return counts
}

// randomPopulation gives a population of at least n: unknown (0), a census, one more than n, or
// a larger frame.
func randomPopulation(r *rand.Rand, n int) int {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return n
	case 2:
		return n + 1
	default:
		return n + r.IntN(20000)
	}
}

func responsesIn(counts []int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// One stratum is today's single-group estimate, exactly: the property test. A stratum
// with neither responses nor population beside it changes nothing.
func TestOneStratumIsTheSingleGroupEstimate(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 2))
	confidences := []float64{0.8, 0.9, 0.95, 0.99}
	for i := range 3000 {
		confidence := confidences[r.IntN(len(confidences))]
		empty := Stratum{}
		check := func(what string, got Stratified, want Estimate) {
			t.Helper()
			sameEstimate(t, what, got.Estimate, want)
			if want.N > 0 {
				near(t, what+" effective n", got.EffectiveN, float64(want.N), 1e-9)
			} else if got.EffectiveN != 0 {
				t.Errorf("%s effective n = %v with no responses, want 0", what, got.EffectiveN)
			}
			if got.Uncovered != 0 && !(want.N == 0 && got.Uncovered == 1) {
				t.Errorf("%s uncovered = %v", what, got.Uncovered)
			}
			if t.Failed() {
				t.FailNow()
			}
		}

		nps := randomCounts(r, 11)
		population := randomPopulation(r, responsesIn(nps))
		var fixed [11]int
		copy(fixed[:], nps)
		want := NPS(fixed, population, confidence)
		s := []Stratum{{Population: population, Counts: nps}}
		check(fmt.Sprintf("case %d NPS %v of %d", i, nps, population), StratifiedNPS(s, confidence), want)
		check(fmt.Sprintf("case %d NPS with an empty stratum", i), StratifiedNPS(append(s, empty), confidence), want)

		points := 2 + r.IntN(10)
		counts := randomCounts(r, points)
		population = randomPopulation(r, responsesIn(counts))
		s = []Stratum{{Population: population, Counts: counts}}
		positive := 1 + r.IntN(points)
		check(fmt.Sprintf("case %d top %d of %v of %d", i, positive, counts, population),
			StratifiedTopBox(s, positive, confidence), TopBox(counts, positive, population, confidence))
		check(fmt.Sprintf("case %d top-box with an empty stratum", i),
			StratifiedTopBox([]Stratum{empty, s[0]}, positive, confidence), TopBox(counts, positive, population, confidence))

		min := r.IntN(3) - 1
		check(fmt.Sprintf("case %d mean from %d of %v of %d", i, min, counts, population),
			StratifiedMean(s, min, confidence), Mean(counts, min, population, confidence))
		check(fmt.Sprintf("case %d mean with an empty stratum", i),
			StratifiedMean(append(s, empty), min, confidence), Mean(counts, min, population, confidence))
	}
}

// npsCounts makes 0..10 counts from promoters (answering 10), passives (8) and detractors (0).
func npsCounts(promoters, passives, detractors int) []int {
	c := make([]int, 11)
	c[10], c[8], c[0] = promoters, passives, detractors
	return c
}

func TestStratified(t *testing.T) {
	for _, c := range []struct {
		name string
		got  func() Stratified
		// want: value, margin, low, high, n, effective n, uncovered
		value, margin, low, high float64
		n                        int
		effectiveN, uncovered    float64
	}{
		{
			// A: 300 people, 100 answers, 80 top-box; B: 100 people, all 100 answer, 60 top-box.
			// W = 300/400 = 0.75 and 0.25; value = 0.75·80 + 0.25·60 = 75.
			// variance (proportions) = 0.75²·0.8·0.2/100·(300−100)/(300−1) + B's 0 (a census)
			//   = 0.5625·0.0016·200/299 = 0.18/299; margin = 100·1.959964·sqrt(0.18/299) = 4.8089.
			// effective n = 1/(0.5625/100 + 0.0625/100) = 1/0.00625 = 160.
			name: "top-box, two strata, one a census",
			got: func() Stratified {
				return StratifiedTopBox([]Stratum{
					{Population: 300, Counts: []int{5, 5, 10, 40, 40}},
					{Population: 100, Counts: []int{10, 10, 20, 30, 30}},
				}, 2, 0.95)
			},
			value: 75, margin: 100 * z95 * math.Sqrt(0.18/299),
			low: 75 - 100*z95*math.Sqrt(0.18/299), high: 75 + 100*z95*math.Sqrt(0.18/299),
			n: 200, effectiveN: 160, uncovered: 0,
		},
		{
			// S1: 1,000 people, 50 answers: 30 promoters, 10 passives, 10 detractors: p = 0.6,
			//   d = 0.2, NPS 40, var = (0.6+0.2) − 0.4² = 0.64.
			// S2: 500 people, 50 answers: 20, 10, 20: NPS 0, var = 0.8 − 0 = 0.8.
			// S3: 500 people, no answer: left out of the weights; uncovered = 500/2000 = 0.25.
			// W = 1000/1500 = 2/3 and 1/3; value = 2/3·40 = 26.667.
			// variance (points²) = (4/9)·6400/50·950/999 + (1/9)·8000/50·450/499
			//   = 54.0986 + 16.0321 = 70.1307; margin = 1.959964·8.3744 = 16.4135.
			// effective n = 1/((4/9)/50 + (1/9)/50) = 90.
			name: "NPS, three strata, one without responses",
			got: func() Stratified {
				return StratifiedNPS([]Stratum{
					{Population: 1000, Counts: npsCounts(30, 10, 10)},
					{Population: 500, Counts: npsCounts(20, 10, 20)},
					{Population: 500, Counts: make([]int, 11)},
				}, 0.95)
			},
			value:  80.0 / 3,
			margin: z95 * math.Sqrt(4.0/9*6400/50*950/999+1.0/9*8000/50*450/499),
			low:    80.0/3 - z95*math.Sqrt(4.0/9*6400/50*950/999+1.0/9*8000/50*450/499),
			high:   80.0/3 + z95*math.Sqrt(4.0/9*6400/50*950/999+1.0/9*8000/50*450/499),
			n:      100, effectiveN: 90, uncovered: 0.25,
		},
		{
			// S1: 200 people, 20 answers, ten 3s and ten 5s: mean 4, s² = 20·1²/19.
			// S2: 50 people, 10 answers, five 1s and five 3s: mean 2, s² = 10·1²/9.
			// W = 0.8 and 0.2; value = 3.2 + 0.4 = 3.6.
			// variance = 0.64·(20/19)/20·180/199 + 0.04·(10/9)/10·40/49.
			// effective n = 1/(0.64/20 + 0.04/10) = 1/0.036 = 27.78.
			name: "mean, two strata",
			got: func() Stratified {
				return StratifiedMean([]Stratum{
					{Population: 200, Counts: []int{0, 0, 10, 0, 10}},
					{Population: 50, Counts: []int{5, 0, 5, 0, 0}},
				}, 1, 0.95)
			},
			value:  3.6,
			margin: z95 * math.Sqrt(0.64/19*180/199+0.04/9*40/49),
			low:    3.6 - z95*math.Sqrt(0.64/19*180/199+0.04/9*40/49),
			high:   3.6 + z95*math.Sqrt(0.64/19*180/199+0.04/9*40/49),
			n:      30, effectiveN: 1 / 0.036, uncovered: 0,
		},
		{
			// S1: 1,000 people, 5 answers, all top-box (var 0); S2: 10 people, 2 answers, one
			// top-box: p = 0.5. W = 1000/1010 and 10/1010; value = 100·(1000 + 0.5·10)/1010.
			// variance (proportions) = (10/1010)²·0.25/2·8/9; High is clipped to 100.
			name: "top-box, High clipped to 100",
			got: func() Stratified {
				return StratifiedTopBox([]Stratum{
					{Population: 1000, Counts: []int{0, 5}},
					{Population: 10, Counts: []int{1, 1}},
				}, 1, 0.95)
			},
			value:  100 * 1005.0 / 1010,
			margin: 100 * z95 * math.Sqrt(10.0/1010*10.0/1010*0.25/2*8/9),
			low:    100*1005.0/1010 - 100*z95*math.Sqrt(10.0/1010*10.0/1010*0.25/2*8/9),
			high:   100,
			n:      7, effectiveN: 1 / (1000.0/1010*1000.0/1010/5 + 10.0/1010*10.0/1010/2),
			uncovered: 0,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.got()
			near(t, "value", got.Value, c.value, 1e-9)
			near(t, "margin", got.MarginOfError, c.margin, 1e-9)
			near(t, "low", got.Low, c.low, 1e-9)
			near(t, "high", got.High, c.high, 1e-9)
			if got.N != c.n {
				t.Errorf("N = %d, want %d", got.N, c.n)
			}
			near(t, "effective n", got.EffectiveN, c.effectiveN, 1e-9)
			near(t, "uncovered", got.Uncovered, c.uncovered, 1e-12)
		})
	}
}

func TestStratifiedEdgeCases(t *testing.T) {
	nan := math.NaN()
	csat := []int{5, 5, 10, 40, 40} // 100 answers, 80% top-box, mean 4.05
	for _, c := range []struct {
		name string
		got  Stratified
		// want: value, margin, n, effective n, uncovered
		value, margin         float64
		n                     int
		effectiveN, uncovered float64
	}{
		{"no strata", StratifiedTopBox(nil, 2, 0.95), nan, nan, 0, 0, 0},
		// Everyone is in a stratum without a response.
		{"populations, no responses", StratifiedNPS([]Stratum{{Population: 10}, {Population: 30, Counts: make([]int, 11)}}, 0.95),
			nan, nan, 0, 0, 1},
		// A stratum that answered without a known population cannot be weighted beside another.
		{"unknown population beside a known one", StratifiedTopBox([]Stratum{{Population: 0, Counts: csat}, {Population: 500, Counts: csat}}, 2, 0.95),
			nan, nan, 200, nan, nan},
		{"unknown population beside a stratum without responses", StratifiedTopBox([]Stratum{{Population: -1, Counts: csat}, {Population: 500}}, 2, 0.95),
			nan, nan, 100, nan, nan},
		{"two unknown populations", StratifiedMean([]Stratum{{Counts: csat}, {Counts: csat}}, 1, 0.95),
			nan, nan, 200, nan, nan},
		// Alone, an unknown population is an infinite one, as TopBox takes it.
		{"unknown population alone", StratifiedTopBox([]Stratum{{Population: 0, Counts: csat}}, 2, 0.95),
			80, 100 * z95 * math.Sqrt(0.16/100), 100, 100, 0},
		// Censuses have no sampling error: N_h == n_h, N_h == 1, and more answers than people
		// (weighted by the population given). W = 100/101 and 1/101.
		{"censuses", StratifiedTopBox([]Stratum{{Population: 100, Counts: csat}, {Population: 1, Counts: []int{0, 0, 0, 0, 1}}}, 2, 0.95),
			(100*80 + 100) / 101.0, 0, 101, 1 / (100.0/101*100.0/101/100 + 1.0/101*1.0/101), 0},
		// W = 50/51 and 1/51: value = (50·80 + 50)/51.
		{"more answers than people", StratifiedTopBox([]Stratum{{Population: 50, Counts: csat}, {Population: 1, Counts: []int{1, 0, 0, 0, 1}}}, 2, 0.95),
			4050.0 / 51, 0, 102, 1 / (50.0/51*50.0/51/100 + 1.0/51/51/2), 0},
		// A mean from one answer has no sample variance: no margin, unless it is a census.
		// W = 0.5 each; value = 0.5·4.05 + 0.5·2.
		{"mean, one answer, not a census", StratifiedMean([]Stratum{{Population: 1000, Counts: csat}, {Population: 1000, Counts: []int{0, 1, 0, 0, 0}}}, 1, 0.95),
			3.025, nan, 101, 1 / (0.25/100 + 0.25), 0},
		// The census of one adds nothing: variance = (1000/1001)²·s²/100·900/999 with s² of csat.
		// (A stratum of one answer that is not a census would make the margin NaN, as above.)
		{"mean, one answer, a census of one", StratifiedMean([]Stratum{{Population: 1000, Counts: csat}, {Population: 1, Counts: []int{0, 1, 0, 0, 0}}}, 1, 0.95),
			(1000*4.05 + 2) / 1001, z95 * math.Sqrt(1000.0/1001*1000.0/1001*ssCSAT/99/100*900/999), 101,
			1 / (1000.0/1001*1000.0/1001/100 + 1.0/1001/1001), 0},
		// Points past 10 are off the NPS scale and are not counted.
		{"NPS counts past 10", StratifiedNPS([]Stratum{{Population: 0, Counts: []int{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 7}}}, 0.95),
			50, 100 * z95 * math.Sqrt((1-0.25)/4), 4, 4, 0},
		// A shorter Counts is the same scale with the top points empty.
		{"top-box, short counts", StratifiedTopBox([]Stratum{{Population: 100, Counts: []int{2, 2, 0, 0, 4}}, {Population: 100, Counts: []int{4, 2}}}, 2, 0.95),
			25, 100 * z95 * math.Sqrt(0.25*0.25/8*92/99+0.25*0/6), 14, 1 / (0.25/8 + 0.25/6), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			near(t, "value", c.got.Value, c.value, 1e-9)
			near(t, "margin", c.got.MarginOfError, c.margin, 1e-9)
			if math.IsNaN(c.margin) && (!math.IsNaN(c.got.Low) || !math.IsNaN(c.got.High)) {
				t.Errorf("no margin, but low %v high %v", c.got.Low, c.got.High)
			}
			if c.got.N != c.n {
				t.Errorf("N = %d, want %d", c.got.N, c.n)
			}
			near(t, "effective n", c.got.EffectiveN, c.effectiveN, 1e-9)
			near(t, "uncovered", c.got.Uncovered, c.uncovered, 1e-12)
		})
	}
}

// ssCSAT is Σ c·(x − mean)² of the counts 5, 5, 10, 40, 40 on 1..5 (mean 4.05).
const ssCSAT = 5*3.05*3.05 + 5*2.05*2.05 + 10*1.05*1.05 + 40*0.05*0.05 + 40*0.95*0.95

func TestRepresentativeness(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name                  string
		population, responses []int
		chi2                  float64
		df                    int
		p                     float64
	}{
		// n = 100; E = 25, 25, 50; χ² = 5²/25 + 5²/25 + 0 = 2; df 2: p = e^(−χ²/2) = e^(−1).
		{"df 2", []int{100, 100, 200}, []int{30, 20, 50}, 2, 2, math.Exp(-1)},
		// n = 100; E = 75, 25; χ² = 15²/75 + 15²/25 = 3 + 9 = 12; df 1: p = erfc(sqrt(χ²/2)).
		{"df 1", []int{300, 100}, []int{60, 40}, 12, 1, math.Erfc(math.Sqrt(6))},
		// n = 30; E = 6 each; χ² = (16+4+0+4+16)/6; df 4: p = e^(−χ²/2)·(1 + χ²/2).
		{"df 4", []int{10, 10, 10, 10, 10}, []int{2, 4, 6, 8, 10}, 40.0 / 6, 4, math.Exp(-20.0/6) * (1 + 20.0/6)},
		{"a perfect fit", []int{600, 300, 100}, []int{60, 30, 10}, 0, 2, 1},
		// Strata without a population are left out, responses and all: n = 40 over the two
		// others, E = 20, 20, χ² = 10²/20·2 = 10.
		{"strata without a population", []int{100, 0, 100, -1}, []int{10, 99, 30, 5}, 10, 1, math.Erfc(math.Sqrt(5))},
		// A missing response count is 0: n = 10, E = 5, 5, χ² = 5 + 5.
		{"short responses", []int{100, 100}, []int{10}, 10, 1, math.Erfc(math.Sqrt(5))},
		{"no strata", nil, nil, nan, 0, nan},
		{"one stratum", []int{100}, []int{40}, nan, 0, nan},
		{"one stratum with a population", []int{100, 0}, []int{40, 3}, nan, 0, nan},
		{"no responses", []int{100, 200, 300}, []int{0, 0, 0}, nan, 2, nan},
	} {
		t.Run(c.name, func(t *testing.T) {
			chi2, df, p := Representativeness(c.population, c.responses)
			near(t, "chi2", chi2, c.chi2, 1e-9)
			if df != c.df {
				t.Errorf("df = %d, want %d", df, c.df)
			}
			near(t, "p", p, c.p, 1e-12)
		})
	}
}

// TestWorkedExample computes the example of docs/statistics.md and checks every figure printed
// there, rounded as it is printed, so that the document cannot drift from the code.
func TestWorkedExample(t *testing.T) {
	segments := []struct {
		name               string
		population, invite int
		counts             []int // CSAT 1..5
	}{
		{"general needs", 6000, 2400, []int{20, 30, 50, 140, 160}},
		{"supported housing", 800, 800, []int{14, 14, 28, 98, 126}},
		{"shared ownership", 471, 471, []int{20, 24, 36, 48, 32}},
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %s, the document says %s", what, got, want)
		}
	}
	f1 := func(x float64) string { return fmt.Sprintf("%.1f", x) }

	var strata []Stratum
	var population, responses []int
	pooled := make([]int, 5)
	total := 0
	for _, s := range segments {
		strata = append(strata, Stratum{Population: s.population, Counts: s.counts})
		population = append(population, s.population)
		responses = append(responses, responsesIn(s.counts))
		for i, c := range s.counts {
			pooled[i] += c
		}
		total += s.population
	}
	check("total population", fmt.Sprint(total), "7271")
	check("pooled counts", fmt.Sprint(pooled), "[54 68 114 286 318]")

	want := []struct {
		n, rate, weight, topBox, margin, expected string
	}{
		{"400", "16.7", "0.8252", "75.0", "4.1", "693.2"},
		{"280", "35.0", "0.1100", "80.0", "3.8", "92.4"},
		{"160", "34.0", "0.0648", "50.0", "6.3", "54.4"},
	}
	for h, s := range segments {
		n := responsesIn(s.counts)
		tb := TopBox(s.counts, 2, s.population, 0.95)
		check(s.name+" responses", fmt.Sprint(n), want[h].n)
		check(s.name+" response rate", f1(100*float64(n)/float64(s.invite)), want[h].rate)
		check(s.name+" weight", fmt.Sprintf("%.4f", float64(s.population)/float64(total)), want[h].weight)
		check(s.name+" top-box", f1(tb.Value), want[h].topBox)
		check(s.name+" margin on its own population", f1(tb.MarginOfError), want[h].margin)
		check(s.name+" expected responses", f1(840*float64(s.population)/float64(total)), want[h].expected)
	}

	w := StratifiedTopBox(strata, 2, 0.95)
	check("weighted top-box", f1(w.Value), "73.9")
	numerator := 0
	for _, s := range segments {
		numerator += s.population * 100 * (s.counts[3] + s.counts[4]) / responsesIn(s.counts)
	}
	check("weighted numerator", fmt.Sprint(numerator), "537550")
	check("weighted top-box, to 4 places", fmt.Sprintf("%.4f", w.Value), "73.9307")
	check("margin", f1(w.MarginOfError), "3.4")
	check("margin, to 3 places", fmt.Sprintf("%.3f", w.MarginOfError), "3.433")
	check("low", f1(w.Low), "70.5")
	check("high", f1(w.High), "77.4")
	check("responses", fmt.Sprint(w.N), "840")
	check("effective n", fmt.Sprintf("%.0f", w.EffectiveN), "564")
	check("uncovered", fmt.Sprint(w.Uncovered), "0")
	check("variance, percent²", fmt.Sprintf("%.5f", w.MarginOfError*w.MarginOfError/(z95*z95)), "3.06805")
	check("design effect", fmt.Sprintf("%.2f", float64(w.N)/w.EffectiveN), "1.49")

	// Each segment's part of the variance, in percent², and Σ W_h²/n_h, worked from the
	// formulas as the document shows them.
	parts := []string{"2.97965", "0.04502", "0.04338"}
	kish := 0.0
	for h, s := range segments {
		n := float64(responsesIn(s.counts))
		weight := float64(s.population) / float64(total)
		p := 100 * float64(s.counts[3]+s.counts[4]) / n
		part := weight * weight * p * (100 - p) / n * float64(s.population-responsesIn(s.counts)) / float64(s.population-1)
		check(s.name+" part of the variance", fmt.Sprintf("%.5f", part), parts[h])
		kish += weight * weight / n
	}
	check("Σ W²/n", fmt.Sprintf("%.7f", kish), "0.0017718")

	invited := 0
	for _, s := range segments {
		invited += s.invite
	}
	check("invited", fmt.Sprint(invited), "3671")
	check("overall response rate", f1(100*float64(w.N)/float64(invited)), "22.9")

	u := TopBox(pooled, 2, 0, 0.95)
	check("pooled satisfied", fmt.Sprint(pooled[3]+pooled[4]), "604")
	check("unweighted top-box", f1(u.Value), "71.9")
	check("weighted less unweighted", f1(w.Value-u.Value), "2.0")
	check("shared ownership, share of the homes", f1(100*471.0/float64(total)), "6.5")
	check("shared ownership, share of the answers", f1(100*160.0/float64(w.N)), "19.0")

	chi2, df, p := Representativeness(population, responses)
	check("chi2", f1(chi2), "709.6")
	check("df", fmt.Sprint(df), "2")
	check("p", fmt.Sprintf("%.1e", p), "8.3e-155")
	terms := []string{"124.0", "380.7", "204.9"}
	for h := range segments {
		e := float64(w.N) * float64(population[h]) / float64(total)
		o := float64(responses[h])
		check(segments[h].name+" part of χ²", f1((o-e)*(o-e)/e), terms[h])
	}
	// df 2: the upper tail is e^(−χ²/2), which a reader can work out by hand.
	if rel := math.Abs(p-math.Exp(-chi2/2)) / p; rel > 1e-9 {
		t.Errorf("p = %g, e^(−χ²/2) = %g", p, math.Exp(-chi2/2))
	}
}
