package scoring

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Stratum is one segment of a sampled survey: the size of its frame and the answers it gave to
// one question.
type Stratum struct {
	Population int   // N_h: people in the stratum's frame
	Counts     []int // answers per scale point, lowest first (NPS: 11 entries, 0..10)
}

// Stratified is a post-stratified estimate: each stratum's score weighted by its share of the
// population rather than by its share of the responses, so that a segment sampled (or answering)
// more heavily than the rest does not pull the overall figure.
//
// Over the strata with at least one response ("covered"), with N_h the stratum's population
// and n_h its responses:
//
//	W_h      = N_h / Σ N_h
//	value    = Σ W_h · v_h
//	variance = Σ W_h² · var_h / n_h · (N_h − n_h) / (N_h − 1)
//	margin   = Z(confidence) · sqrt(variance)
//
// where v_h and var_h are what NPS, TopBox and Mean use for one group, in the same display
// units, and the last factor is the finite population correction fpc² (0 for a census,
// N_h <= n_h, and for N_h = 1). With one covered stratum the weight is 1 and the estimate is
// exactly that of NPS, TopBox or Mean for the stratum's counts and population.
//
// Edge cases:
//   - No responses at all: the same estimate as NPS, TopBox and Mean give (Value, margin, Low
//     and High NaN, N = 0), EffectiveN 0.
//   - A stratum with responses but a population of 0 or less (unknown) can only be weighted
//     when it is the only stratum in play (a stratum is in play when it has a population or a
//     response): it then has weight 1 and no finite population correction, as NPS, TopBox and
//     Mean treat an unknown population. Among several strata its weight is unknown, and so is
//     everything else: Value, margin, Low, High, EffectiveN and Uncovered are NaN; N still
//     counts the responses.
//   - A stratum with no response and no population is ignored.
//   - A mean whose covered stratum has a single response and is not a census (fpc² > 0) has no
//     sample variance, so the margin is NaN, as Mean's is; the value is still given.
type Stratified struct {
	Estimate           // Value, MarginOfError, Low, High; N = responses in all strata
	EffectiveN float64 // Kish: 1 / Σ(W_h² / n_h)
	Uncovered  float64 // share of the population (0..1) in strata without a response
}

// StratifiedNPS is the post-stratified NPS in points (−100..100). Each stratum's Counts are the
// answers 0..10; entries past the eleventh are off the scale and are not counted.
func StratifiedNPS(strata []Stratum, confidence float64) Stratified {
	return stratify(strata, confidence, -100, 100, func(counts []int) (int, float64, float64) {
		n, promoters, detractors := npsGroups(counts)
		if n <= 0 {
			return 0, 0, 0
		}
		p := float64(promoters) / float64(n)
		d := float64(detractors) / float64(n)
		return n, 100 * (p - d), 100 * 100 * math.Max((p+d)-(p-d)*(p-d), 0)
	})
}

// StratifiedTopBox is the post-stratified percent of answers in the top `positive` points of
// the scale. A stratum's Counts may be shorter than the longest (missing points at the top of
// the scale count 0); the top box is taken from the longest.
func StratifiedTopBox(strata []Stratum, positive int, confidence float64) Stratified {
	points := scaleLength(strata)
	return stratify(strata, confidence, 0, 100, func(counts []int) (int, float64, float64) {
		n, top := 0, 0
		for i, c := range counts {
			n += c
			if i >= points-positive {
				top += c
			}
		}
		if n <= 0 {
			return 0, 0, 0
		}
		p := clamp(float64(top)/float64(n), 0, 1)
		return n, 100 * p, 100 * 100 * p * (1 - p)
	})
}

// StratifiedMean is the post-stratified mean of a rating scale whose lowest point is min, each
// stratum's variance the sample variance (n − 1 in the denominator). Low and High are clipped to
// the scale min .. min + (longest Counts) − 1.
func StratifiedMean(strata []Stratum, min int, confidence float64) Stratified {
	points := scaleLength(strata)
	return stratify(strata, confidence, float64(min), float64(min+points-1), func(counts []int) (int, float64, float64) {
		n := 0
		sum := 0.0
		for i, c := range counts {
			n += c
			sum += float64(c) * float64(min+i)
		}
		if n <= 0 {
			return 0, 0, 0
		}
		mean := sum / float64(n)
		if n < 2 {
			return n, mean, math.NaN()
		}
		ss := 0.0
		for i, c := range counts {
			dev := float64(min+i) - mean
			ss += float64(c) * dev * dev
		}
		return n, mean, ss / float64(n-1)
	})
}

// stratify weights the strata. one gives a stratum's responses, its value and the variance of
// one response (var_h, so that var_h/n_h is the variance of the stratum's value), in display
// units; a NaN variance is used only when the stratum's finite population correction is not 0.
func stratify(strata []Stratum, confidence, lo, hi float64, one func(counts []int) (n int, value, variance float64)) Stratified {
	type covered struct {
		n, population int
		value, unit   float64
	}
	var (
		parts            []covered
		inPlay, unknown  int
		known, uncovered float64 // population of strata with population > 0; of those with no response
		responses        int
	)
	for _, s := range strata {
		n, v, u := one(s.Counts)
		if s.Population > 0 || n > 0 {
			inPlay++
		}
		if s.Population > 0 {
			known += float64(s.Population)
			if n <= 0 {
				uncovered += float64(s.Population)
			}
		}
		if n > 0 {
			responses += n
			if s.Population <= 0 {
				unknown++
			}
			parts = append(parts, covered{n: n, population: s.Population, value: v, unit: u})
		}
	}
	share := 0.0
	if known > 0 {
		share = uncovered / known
	}
	if responses <= 0 {
		return Stratified{Estimate: none(), EffectiveN: 0, Uncovered: share}
	}
	if unknown > 0 && inPlay > 1 {
		e := none()
		e.N = responses
		return Stratified{Estimate: e, EffectiveN: math.NaN(), Uncovered: math.NaN()}
	}

	total := 0.0
	for _, p := range parts {
		total += float64(p.population)
	}
	value, variance, kish := 0.0, 0.0, 0.0
	for _, p := range parts {
		w := 1.0
		if len(parts) > 1 {
			w = float64(p.population) / total
		}
		value += w * p.value
		kish += w * w / float64(p.n)
		f := fpc(p.n, p.population)
		if f != 0 {
			variance += w * w * p.unit / float64(p.n) * f * f
		}
	}
	moe := Z(confidence) * math.Sqrt(variance)
	return Stratified{
		Estimate:   estimate(value, moe, responses, lo, hi),
		EffectiveN: 1 / kish,
		Uncovered:  share,
	}
}

// scaleLength is the number of points of the longest Counts.
func scaleLength(strata []Stratum) int {
	points := 0
	for _, s := range strata {
		points = max(points, len(s.Counts))
	}
	return points
}

// Representativeness tests whether the responses are spread over the strata as the population
// is: Pearson's chi-square goodness of fit of the responses per stratum against the population
// shares, over the strata with a population above 0 (responses in strata without one are left
// out, and a missing entry of responses counts 0):
//
//	E_h  = n · N_h / Σ N_h, with n = Σ responses over those strata
//	chi2 = Σ (O_h − E_h)² / E_h
//	df   = (number of those strata) − 1
//	p    = P(χ²(df) ≥ chi2), the upper tail
//
// A small p (below 0.05) says the respondents are not spread as the population is, so the
// unweighted figures lean towards the strata that answered more: the post-stratified ones correct
// for it. The chi-square approximation wants every E_h at 5 or more.
//
// When there is nothing to test (fewer than two strata with a population, or no response in
// them) chi2 and p are NaN and df is the number of strata less one (0 with none): a NaN p is
// neither "representative" (as a p of 1 would read) nor "not representative" (as 0 would), and
// fails every comparison, so callers must check for it.
func Representativeness(population, responses []int) (chi2 float64, df int, p float64) {
	k, n, total := 0, 0, 0.0
	for h, size := range population {
		if size <= 0 {
			continue
		}
		k++
		total += float64(size)
		if h < len(responses) {
			n += responses[h]
		}
	}
	df = max(k-1, 0)
	if k < 2 || n <= 0 {
		return math.NaN(), df, math.NaN()
	}
	for h, size := range population {
		if size <= 0 {
			continue
		}
		observed := 0.0
		if h < len(responses) {
			observed = float64(responses[h])
		}
		expected := float64(n) * float64(size) / total
		chi2 += (observed - expected) * (observed - expected) / expected
	}
	return chi2, df, distuv.ChiSquared{K: float64(df)}.Survival(chi2)
}
