package scoring

// Collapse merges the strata with fewer than minAnswers answers, so that no stratum's score,
// and no stratum's share of the variance, rests on a handful of answers (one answer, or a few
// that agree, would give a variance of 0 and a margin that is too small), and so that a
// stratum without any answer is not left out of the population. The small strata are merged
// into one; if that one still has fewer than minAnswers answers, it is merged into the stratum
// with the largest population. Strata keep their order; the merged one comes last. This is the
// usual collapsing of strata: within a merged stratum the answers are taken as representative
// of all its people.
func Collapse(strata []Stratum, minAnswers int) []Stratum {
	answers := func(s Stratum) int {
		n := 0
		for _, c := range s.Counts {
			n += c
		}
		return n
	}
	var big []Stratum
	var small Stratum
	smalls := 0
	for _, s := range strata {
		if answers(s) >= minAnswers {
			big = append(big, Stratum{Population: s.Population, Counts: append([]int(nil), s.Counts...)})
			continue
		}
		smalls++
		small = merge(small, s)
	}
	if smalls == 0 {
		return big
	}
	if answers(small) >= minAnswers || len(big) == 0 {
		return append(big, small)
	}
	largest := 0
	for i := range big {
		if big[i].Population > big[largest].Population {
			largest = i
		}
	}
	big[largest] = merge(big[largest], small)
	return big
}

// merge adds two strata: populations and counts, point by point.
func merge(a, b Stratum) Stratum {
	out := Stratum{Population: a.Population + b.Population, Counts: make([]int, max(len(a.Counts), len(b.Counts)))}
	for i, c := range a.Counts {
		out.Counts[i] += c
	}
	for i, c := range b.Counts {
		out.Counts[i] += c
	}
	return out
}
