// Package scoring turns counts of answers into the figures the operator publishes: scores with
// their margins of error, response rates, comparisons with benchmarks and the drivers of the
// headline score. It works on counts and sufficient statistics only, so the store can aggregate
// in SQL and never hand it individual responses.
//
// Conventions:
//   - Margins of error are two-sided, at a confidence given as a fraction (0.95), from the
//     normal approximation, with the finite population correction sqrt((N-n)/(N-1)) when the
//     population (the number invited) is known. A census (n = population) has no sampling
//     error, so its margin is 0.
//   - Estimates are in display units: NPS points (-100..100), percent (0..100) for proportions,
//     scale units for means. Low and High are Value ± MarginOfError, clipped to the scale.
//   - A margin that cannot be estimated (no responses; one response to a mean) is NaN, and so
//     are Low and High. Check Estimate.HasMargin before publishing one.
package scoring

import (
	"math"
)

// Estimate is a score with its precision, in the score's own display units:
// NPS points (-100..100), percent (0..100) for proportions, scale units for means.
type Estimate struct {
	Value, MarginOfError, Low, High float64
	N                               int // responses that counted
}

// HasValue reports whether the estimate rests on at least one response.
func (e Estimate) HasValue() bool { return e.N > 0 && !math.IsNaN(e.Value) }

// HasMargin reports whether the estimate's margin of error could be computed.
func (e Estimate) HasMargin() bool { return e.HasValue() && !math.IsNaN(e.MarginOfError) }

// Z is the two-sided critical value of the standard normal distribution for a confidence level
// (0.95 gives 1.959964), computed exactly as sqrt(2)·erf⁻¹(confidence). It is NaN outside
// [0, 1) and +Inf at 1.
func Z(confidence float64) float64 {
	if math.IsNaN(confidence) || confidence < 0 || confidence > 1 {
		return math.NaN()
	}
	return math.Sqrt2 * math.Erfinv(confidence)
}

// fpc is the finite population correction factor sqrt((N-n)/(N-1)); 1 for an unknown
// (population <= 0) population, 0 for a census.
func fpc(n, population int) float64 {
	if population <= 0 {
		return 1
	}
	if n >= population {
		return 0
	}
	if population == 1 {
		return 0
	}
	return math.Sqrt(float64(population-n) / float64(population-1))
}

// MarginOfError of a proportion p (0..1) from n responses out of a population
// (population <= 0: infinite), at confidence (e.g. 0.95), with the finite population
// correction sqrt((N-n)/(N-1)); result in proportion units (0.031 = ±3.1 points).
// It is NaN when n <= 0, and 0 for a census (n >= population > 0).
func MarginOfError(p float64, n, population int, confidence float64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	p = clamp(p, 0, 1)
	return Z(confidence) * math.Sqrt(p*(1-p)/float64(n)) * fpc(n, population)
}

// SampleSize is the number of responses needed for a margin of error (0..1) at confidence,
// worst case p = 0.5, corrected for a finite population, rounded up.
//
// It solves MarginOfError(0.5, n, population, confidence) <= margin exactly:
// n = n0·N / (n0 + N - 1) with n0 = z²/(4·margin²). A margin of 0 or less needs a census:
// the population, or math.MaxInt when the population is infinite.
func SampleSize(population int, margin, confidence float64) int {
	if margin <= 0 || math.IsNaN(margin) {
		if population > 0 {
			return population
		}
		return math.MaxInt
	}
	z := Z(confidence)
	n0 := z * z / (4 * margin * margin)
	if population <= 0 {
		return ceilCareful(n0)
	}
	n := ceilCareful(n0 * float64(population) / (n0 + float64(population) - 1))
	if n > population {
		n = population
	}
	if n < 1 {
		n = 1
	}
	return n
}

// ceilCareful rounds up, forgiving the last bits of floating-point error so that an exact
// integer computed as 384.00000000000006 stays 384.
func ceilCareful(x float64) int {
	r := math.Round(x)
	if math.Abs(x-r) < 1e-9*math.Max(1, math.Abs(x)) {
		return int(r)
	}
	return int(math.Ceil(x))
}

// NPS from counts of answers 0..10. Promoters answer 9 or 10, detractors 0 to 6; the score is
// 100·(promoters − detractors)/n. Its variance is [(p+d) − (p−d)²]/n for promoter share p and
// detractor share d.
func NPS(counts [11]int, population int, confidence float64) Estimate {
	n, promoters, detractors := npsGroups(counts[:])
	if n <= 0 {
		return none()
	}
	p := float64(promoters) / float64(n)
	d := float64(detractors) / float64(n)
	variance := ((p + d) - (p-d)*(p-d)) / float64(n)
	moe := 100 * Z(confidence) * math.Sqrt(math.Max(variance, 0)) * fpc(n, population)
	return estimate(100*(p-d), moe, n, -100, 100)
}

// TopBox is the percent of answers in the top `positive` points of a scale; counts run from
// the lowest point. With CSAT counts (1..5) and positive 2 it is the share "fairly" or "very
// satisfied", the way the tenant satisfaction measures report.
func TopBox(counts []int, positive int, population int, confidence float64) Estimate {
	n, top := 0, 0
	for i, c := range counts {
		n += c
		if i >= len(counts)-positive {
			top += c
		}
	}
	if n <= 0 {
		return none()
	}
	p := float64(top) / float64(n)
	return estimate(100*p, 100*MarginOfError(p, n, population, confidence), n, 0, 100)
}

// Mean of a rating scale whose lowest point is min, with the margin of error from the sample
// standard deviation (n − 1 in the denominator); one response has no margin unless it is a
// census.
func Mean(counts []int, min int, population int, confidence float64) Estimate {
	n := 0
	sum := 0.0
	for i, c := range counts {
		n += c
		sum += float64(c) * float64(min+i)
	}
	if n <= 0 {
		return none()
	}
	mean := sum / float64(n)
	f := fpc(n, population)
	moe := math.NaN()
	switch {
	case f == 0:
		moe = 0
	case n >= 2:
		ss := 0.0
		for i, c := range counts {
			dev := float64(min+i) - mean
			ss += float64(c) * dev * dev
		}
		moe = Z(confidence) * math.Sqrt(ss/float64(n-1)/float64(n)) * f
	}
	return estimate(mean, moe, n, float64(min), float64(min+len(counts)-1))
}

func none() Estimate {
	nan := math.NaN()
	return Estimate{Value: nan, MarginOfError: nan, Low: nan, High: nan}
}

func estimate(value, moe float64, n int, lo, hi float64) Estimate {
	e := Estimate{Value: value, MarginOfError: moe, N: n, Low: math.NaN(), High: math.NaN()}
	if !math.IsNaN(moe) {
		e.Low = clamp(value-moe, lo, hi)
		e.High = clamp(value+moe, lo, hi)
	}
	return e
}

func clamp(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, x))
}

// npsGroups counts the answers on the 0..10 scale (points past 10 are off it and not counted),
// the promoters (9 and 10) and the detractors (0 to 6).
func npsGroups(counts []int) (n, promoters, detractors int) {
	for point, c := range counts {
		if point > 10 {
			break
		}
		n += c
		switch {
		case point >= 9:
			promoters += c
		case point <= 6:
			detractors += c
		}
	}
	return n, promoters, detractors
}
