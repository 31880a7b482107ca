package scoring

import "fmt"

// Histogram counts the answers to one scale question in a wave, and keeps apart the answers
// that do not count.
//
// The rule, as the tenant satisfaction measures apply it: a score's base (n) is the number of
// answers on the scale. A skipped question (no answer) and an answer of "don't know" or "not
// applicable" are recorded, so that nothing is lost and the report can show them, but they are
// left out of n, the score and its margin of error: asking a resident without a repair how
// satisfied they are with repairs tells nothing.
type Histogram struct {
	// Min is the lowest point of the scale.
	Min int
	// Counts[i] is the number of answers of point Min+i.
	Counts []int
	// Skipped counts respondents who left the question unanswered.
	Skipped int
	// NotApplicable counts "don't know" and "not applicable" answers.
	NotApplicable int
}

// NewHistogram makes an empty histogram for a scale from min to max.
func NewHistogram(min, max int) *Histogram {
	if max < min {
		max = min
	}
	return &Histogram{Min: min, Counts: make([]int, max-min+1)}
}

// Add records one respondent's answer: value is nil when the question was skipped;
// notApplicable marks a "don't know" or "not applicable" answer. A value off the scale is an
// error and is not recorded.
func (h *Histogram) Add(value *int, notApplicable bool) error {
	switch {
	case notApplicable:
		h.NotApplicable++
	case value == nil:
		h.Skipped++
	default:
		i := *value - h.Min
		if i < 0 || i >= len(h.Counts) {
			return fmt.Errorf("answer %d is off the scale %d-%d", *value, h.Min, h.Min+len(h.Counts)-1)
		}
		h.Counts[i]++
	}
	return nil
}

// Base is the number of answers that count: those on the scale.
func (h *Histogram) Base() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// NPSCounts returns the counts of an NPS question (a 0-10 scale) in the form NPS takes.
func (h *Histogram) NPSCounts() ([11]int, error) {
	var out [11]int
	if h.Min != 0 || len(h.Counts) != 11 {
		return out, fmt.Errorf("an NPS histogram runs from 0 to 10, not %d to %d", h.Min, h.Min+len(h.Counts)-1)
	}
	copy(out[:], h.Counts)
	return out, nil
}
