package scoring

import (
	"math"
	"sort"
)

// MinComparableN is the fewest responses an estimate needs before it is ever called
// significantly different from a benchmark or an earlier wave. Below it the normal
// approximation behind the margins does not hold (a single promoter has an NPS of +100 "±0"),
// and an honest report says "not significant" rather than "above".
const MinComparableN = 30

// Reference is a figure to compare with: a benchmark, or an earlier wave's estimate. A
// benchmark given without a margin of error is taken as exact.
type Reference struct {
	Value         float64
	MarginOfError float64 // at the same confidence as the estimate; 0 or NaN when exact
	N             int     // responses behind it; 0 for an outside benchmark
}

// ReferenceOf makes a Reference from an earlier wave's estimate.
func ReferenceOf(e Estimate) Reference {
	return Reference{Value: e.Value, MarginOfError: e.MarginOfError, N: e.N}
}

// Comparison is the outcome of a two-sided z-test of an estimate against a reference, the two
// taken as independent.
type Comparison struct {
	// Difference is estimate − reference, in the estimate's units.
	Difference float64
	// Z is Difference over the standard error of the difference (±Inf when both are exact).
	Z float64
	// PValue is the two-sided p-value of Z.
	PValue float64
	// Significant is true when the difference is significant at the confidence used.
	Significant bool
}

// Direction is +1 when the estimate is significantly above the reference, −1 when significantly
// below, and 0 otherwise.
func (c Comparison) Direction() int {
	switch {
	case !c.Significant:
		return 0
	case c.Difference > 0:
		return 1
	default:
		return -1
	}
}

// Compare tests an estimate against a reference at a confidence (0.95). The standard errors are
// recovered from the margins of error at that confidence, so both must have been computed at
// it. An estimate or reference resting on fewer than MinComparableN responses (an outside
// benchmark has N = 0 and is exempt), or without a margin, is never significant.
func Compare(e Estimate, ref Reference, confidence float64) Comparison {
	c := Comparison{Difference: e.Value - ref.Value, Z: math.NaN(), PValue: math.NaN()}
	if !e.HasMargin() || math.IsNaN(ref.Value) {
		return c
	}
	z := Z(confidence)
	se := e.MarginOfError / z
	refMOE := ref.MarginOfError
	if math.IsNaN(refMOE) {
		if ref.N > 0 {
			return c // an earlier wave without a margin cannot be tested
		}
		refMOE = 0
	}
	seRef := refMOE / z
	sd := math.Hypot(se, seRef)
	switch {
	case sd > 0:
		c.Z = c.Difference / sd
	case c.Difference == 0:
		c.Z = 0
	default:
		c.Z = math.Copysign(math.Inf(1), c.Difference)
	}
	c.PValue = math.Erfc(math.Abs(c.Z) / math.Sqrt2)
	enough := e.N >= MinComparableN && (ref.N == 0 || ref.N >= MinComparableN)
	c.Significant = enough && math.Abs(c.Z) > z
	return c
}

// PairStats are the sufficient statistics of two questions over the responses that answered
// both: counts, sums, sums of squares and the sum of cross-products. The store computes them
// in SQL; nothing else about the responses is needed to correlate the two questions.
type PairStats struct {
	N                               int64
	SumX, SumY, SumXX, SumYY, SumXY int64
}

// Correlation is Pearson's r between the two questions. ok is false with fewer than three
// responses, or when either question has no variation (everyone gave the same answer).
func (s PairStats) Correlation() (r float64, ok bool) {
	if s.N < 3 {
		return math.NaN(), false
	}
	n := float64(s.N)
	cov := n*float64(s.SumXY) - float64(s.SumX)*float64(s.SumY)
	vx := n*float64(s.SumXX) - float64(s.SumX)*float64(s.SumX)
	vy := n*float64(s.SumYY) - float64(s.SumY)*float64(s.SumY)
	if vx <= 0 || vy <= 0 {
		return math.NaN(), false
	}
	return clamp(cov/math.Sqrt(vx*vy), -1, 1), true
}

// Driver is one question's association with the primary question.
type Driver struct {
	Question    string
	Correlation float64
	N           int64
}

// Drivers ranks the questions by their correlation with the primary question, strongest
// positive association first (ties by question id), leaving out the primary question itself
// and pairs whose correlation cannot be computed. This is key-driver analysis in its
// correlational form: it shows where improvement is most associated with overall satisfaction,
// not what causes it.
func Drivers(primary string, pairs map[string]PairStats) []Driver {
	out := make([]Driver, 0, len(pairs))
	for q, s := range pairs {
		if q == primary {
			continue
		}
		if r, ok := s.Correlation(); ok {
			out = append(out, Driver{Question: q, Correlation: r, N: s.N})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Correlation != out[j].Correlation {
			return out[i].Correlation > out[j].Correlation
		}
		return out[i].Question < out[j].Question
	})
	return out
}

func nan() float64 { return math.NaN() }
