package campaign

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/scoring"
	"github.com/surveyops/survey-operator/internal/survey"
)

// Results are a wave's figures, computed from the response service's aggregates: counts,
// response rates, scores with margins of error, breakdowns, drivers, target verdicts and
// benchmark comparisons. They hold counts and scores only, never a person.
type Results struct {
	Invited, Delivered, Failed, OptedOut, Responded int64
	ResponseRate                                    v1alpha1.Percent
	Scores                                          []v1alpha1.QuestionScore
	Segments, Channels                              []v1alpha1.Breakdown
	// ChannelDetail is Channels with every scored question's score by channel: for the wave's
	// report, not for the status (which would then outgrow an object at the API's maxima).
	ChannelDetail []v1alpha1.Breakdown
	Drivers       []v1alpha1.Driver
	// Choices are the Choice questions' answers, option by option: for the wave's report.
	Choices            []ChoiceShares
	Targets            []v1alpha1.TargetVerdict
	Benchmarks         []v1alpha1.BenchmarkComparison
	Representativeness *v1alpha1.Representativeness
	// Primary is the primary question's estimate over the whole wave.
	Primary scoring.Estimate
	// Rate is the response rate (AAPOR RR2) as a fraction; NaN with nobody invited.
	Rate float64
}

// MaxDrivers bounds the drivers published in status.
const MaxDrivers = 10

// Score computes a wave's results. Once the senders have recorded the wave's frame, the
// overall scores are post-stratified by segment (each segment's score weighted by its share of
// the population, with the unweighted score and the effective n beside it), and a segment's
// margins use the finite population correction on the segment's population. Before that, and
// for channels, the number invited stands in for the population.
func Score(spec *v1alpha1.SurveyCampaignSpec, sum responseapi.Summary) Results {
	confidence := Confidence(spec)
	primary := spec.Survey.PrimaryQuestionID()
	var r Results

	// Dispositions: the invitations of round 0, by segment and channel.
	total := scoring.Dispositions{}
	bySegment := map[string]*scoring.Dispositions{}
	byChannel := map[string]*scoring.Dispositions{}
	add := func(m map[string]*scoring.Dispositions, k string, d scoring.Dispositions) {
		if m[k] == nil {
			m[k] = &scoring.Dispositions{}
		}
		addTo(m[k], d)
	}
	for _, row := range sum.Dispositions {
		d := scoring.Dispositions{Complete: row.Complete, Partial: row.Partial, Refusal: row.Refusal,
			NonContact: row.NonContact, NoAnswer: row.NoAnswer}
		addTo(&total, d)
		add(bySegment, row.Segment, d)
		add(byChannel, row.Channel, d)
	}
	r.Invited = int64(invited(total))
	r.Failed = int64(total.NonContact)
	r.Delivered = r.Invited - r.Failed
	r.OptedOut = int64(total.Refusal)
	r.Responded = int64(total.Complete + total.Partial)
	r.Rate = total.RR2()
	r.ResponseRate = percent(r.Rate)
	// An anonymous survey publishes no score until the wave has minimumGroupSize responses:
	// before that, a score could be one person's answers.
	if spec.Survey.Anonymous && r.Responded < int64(MinimumGroupSize(spec)) {
		sum.Histograms, sum.Pairs = nil, nil
	}

	// Histograms of every scored question, over the wave and by segment and channel.
	questions := map[string]*v1alpha1.Question{}
	for i := range spec.Survey.Questions {
		questions[spec.Survey.Questions[i].ID] = &spec.Survey.Questions[i]
	}
	population := map[string]int{} // the segments' frames, once the senders have recorded them
	for _, f := range sum.Frame {
		population[f.Segment] = f.Population
	}
	whole := map[string]*scoring.Histogram{}
	bySegQ := map[string]map[string]*scoring.Histogram{} // question → segment → histogram
	chanHist := map[string]*scoring.Histogram{}
	byChanQ := map[string]map[string]*scoring.Histogram{} // question → channel → histogram
	for _, h := range sum.Histograms {
		q := questions[h.Question]
		if q == nil || !q.Kind.Scored() {
			continue
		}
		record(whole, h.Question, q, h)
		if bySegQ[h.Question] == nil {
			bySegQ[h.Question] = map[string]*scoring.Histogram{}
		}
		record(bySegQ[h.Question], h.Segment, q, h)
		if h.Question == primary {
			record(chanHist, h.Channel, q, h)
		}
		if byChanQ[h.Question] == nil {
			byChanQ[h.Question] = map[string]*scoring.Histogram{}
		}
		record(byChanQ[h.Question], h.Channel, q, h)
	}
	estimates := map[string]scoring.Estimate{}
	for i := range spec.Survey.Questions {
		q := &spec.Survey.Questions[i]
		if !q.Kind.Scored() {
			continue
		}
		h := whole[q.ID]
		if h == nil {
			continue
		}
		e := Estimate(q, h, int(r.Invited), confidence)
		if e.N < OverallMinimum(spec) {
			// Counts only: a score of one or two answers, with a margin of zero, is not a
			// measurement (and could be one person's answers).
			r.Scores = append(r.Scores, v1alpha1.QuestionScore{Question: q.ID, N: int64(e.N)})
			continue
		}
		s := questionScore(q, h, e, int(r.Invited), confidence)
		if w, mean, ok := weighted(q, bySegQ[q.ID], population, max(MinimumGroupSize(spec), 2), confidence); ok {
			s.Unweighted = s.Value
			e = w.Estimate
			s.Value, s.MarginOfError, s.Mean = decimal(e.Value, 1), "", ""
			if e.HasMargin() {
				s.MarginOfError = decimal(e.MarginOfError, 1)
			}
			if mean.HasValue() {
				s.Mean = decimal(mean.Value, 2)
			}
			s.EffectiveN = int64(math.Round(w.EffectiveN))
		}
		estimates[q.ID] = e
		if q.ID == primary {
			r.Primary = e
		}
		r.Scores = append(r.Scores, s)
	}
	if p := questions[primary]; p != nil {
		r.Segments = breakdowns(spec, bySegment, bySegQ[primary], p, population, confidence)
		r.Channels = breakdowns(spec, byChannel, chanHist, p, nil, confidence)
		segmentScores(spec, r.Segments, bySegQ, primary, population, confidence)
		r.ChannelDetail = make([]v1alpha1.Breakdown, len(r.Channels))
		for i := range r.Channels {
			r.ChannelDetail[i] = *r.Channels[i].DeepCopy()
		}
		segmentScores(spec, r.ChannelDetail, byChanQ, primary, nil, confidence)
	}
	r.Representativeness = representativeness(r.Segments, population)

	pairs := map[string]scoring.PairStats{}
	for q, p := range sum.Pairs {
		pairs[q] = scoring.PairStats{N: p.N, SumX: p.SumX, SumY: p.SumY, SumXX: p.SumXX, SumYY: p.SumYY, SumXY: p.SumXY}
	}
	for i, d := range scoring.Drivers(primary, pairs) {
		if i == MaxDrivers {
			break
		}
		r.Drivers = append(r.Drivers, v1alpha1.Driver{Question: d.Question, Correlation: decimal(d.Correlation, 2), N: d.N})
	}

	r.Choices = choiceShares(spec, sum.Histograms)
	r.Targets = verdicts(spec, r)
	r.Benchmarks = compare(spec, estimates, confidence)
	return r
}

// ChoiceShares are a Choice question's answers over the wave: how many answered it (N; "don't
// know" and those not asked left out), and for each option, in the question's order, how many
// chose it and their share of N in percent. A multiple choice's shares add up to more than 100.
type ChoiceShares struct {
	Question string        `json:"question"`
	Multiple bool          `json:"multiple,omitempty"`
	N        int64         `json:"n"`
	Options  []OptionShare `json:"options"`
}

// OptionShare is one option of a Choice question.
type OptionShare struct {
	Choice string           `json:"choice"`
	Count  int64            `json:"count"`
	Share  v1alpha1.Decimal `json:"share"`
}

// choiceShares counts each Choice question's options from the histograms: a single choice's
// value is the option's index, a multiple choice's the options ticked as a bit mask.
func choiceShares(spec *v1alpha1.SurveyCampaignSpec, hist []responseapi.Histogram) []ChoiceShares {
	var out []ChoiceShares
	for i := range spec.Survey.Questions {
		q := &spec.Survey.Questions[i]
		if q.Kind != v1alpha1.QuestionChoice {
			continue
		}
		c := ChoiceShares{Question: q.ID, Multiple: q.Multiple, Options: make([]OptionShare, len(q.Choices))}
		for j, choice := range q.Choices {
			c.Options[j].Choice = choice
		}
		for _, h := range hist {
			if h.Question != q.ID || h.NotApplicable || h.Value == nil {
				continue
			}
			c.N += int64(h.Count)
			if !q.Multiple {
				if v := *h.Value; v >= 0 && v < len(c.Options) {
					c.Options[v].Count += int64(h.Count)
				}
				continue
			}
			for _, v := range survey.Indexes(*h.Value) {
				if v < len(c.Options) {
					c.Options[v].Count += int64(h.Count)
				}
			}
		}
		for j := range c.Options {
			c.Options[j].Share = "0"
			if c.N > 0 {
				c.Options[j].Share = decimal(100*float64(c.Options[j].Count)/float64(c.N), 1)
			}
		}
		out = append(out, c)
	}
	return out
}

// Trend compares a wave's published scores with an earlier wave's (the previous closed one):
// the change of each question scored in both, significant or not at the campaign's confidence.
func Trend(spec *v1alpha1.SurveyCampaignSpec, current, previous []v1alpha1.QuestionScore, previousWave string) []v1alpha1.TrendComparison {
	confidence := Confidence(spec)
	before := map[string]v1alpha1.QuestionScore{}
	for _, s := range previous {
		before[s.Question] = s
	}
	var out []v1alpha1.TrendComparison
	for _, s := range current {
		p, ok := before[s.Question]
		if !ok || s.N == 0 || p.N == 0 || (s.Unweighted == "") != (p.Unweighted == "") {
			continue // a weighted score is not compared with a pooled one: the weighting alone moves it
		}
		e, ref := estimateOf(s), estimateOf(p)
		cmp := scoring.Compare(e, scoring.ReferenceOf(ref), confidence)
		t := v1alpha1.TrendComparison{Question: s.Question, PreviousWave: previousWave, Change: decimal(cmp.Difference, 1),
			Verdict: v1alpha1.VerdictUnknown}
		if !math.IsNaN(cmp.Z) {
			t.Verdict = verdictOf(cmp)
		}
		out = append(out, t)
	}
	return out
}

// verdictOf words a comparison: Above or Below when significant, NotSignificant otherwise.
func verdictOf(cmp scoring.Comparison) v1alpha1.Verdict {
	switch cmp.Direction() {
	case 1:
		return v1alpha1.VerdictAbove
	case -1:
		return v1alpha1.VerdictBelow
	}
	return v1alpha1.VerdictNotSignificant
}

// estimateOf reads a published score back: its value, margin (NaN when none) and n.
func estimateOf(s v1alpha1.QuestionScore) scoring.Estimate {
	e := scoring.Estimate{Value: math.NaN(), MarginOfError: math.NaN(), N: int(s.N)}
	if v, err := strconv.ParseFloat(string(s.Value), 64); err == nil {
		e.Value = v
	}
	if m, err := strconv.ParseFloat(string(s.MarginOfError), 64); err == nil {
		e.MarginOfError = m
	}
	return e
}

// OverallMinimum is the fewest answers a question needs over the whole wave for its score to be
// published: minimumGroupSize, as for a segment, and never fewer than 2 (one answer has no
// margin of error). Below it the wave's figures are counts only.
func OverallMinimum(spec *v1alpha1.SurveyCampaignSpec) int {
	return max(MinimumGroupSize(spec), 2)
}

// WhileCollecting is the verdicts of a wave that still collects: a response rate below its
// target is not missed yet (answers still arrive), so it is Unknown until the wave closes, as
// the TargetsMet condition says. A rate already reached stays Met.
func WhileCollecting(verdicts []v1alpha1.TargetVerdict) []v1alpha1.TargetVerdict {
	for i := range verdicts {
		if verdicts[i].Target == "responseRate" && verdicts[i].Verdict == v1alpha1.VerdictNotMet {
			verdicts[i].Verdict = v1alpha1.VerdictUnknown
		}
	}
	return verdicts
}

// MinimumGroupSize is the campaign's smallest group whose score is published (5 by default).
func MinimumGroupSize(spec *v1alpha1.SurveyCampaignSpec) int {
	if spec.Reporting == nil || spec.Reporting.MinimumGroupSize == nil {
		return 5
	}
	return int(*spec.Reporting.MinimumGroupSize)
}

// representativeness compares the segments' responses with their populations (chi-square
// goodness of fit), and sets each segment's shares; nil before the frame is known or with
// fewer than two segments in it.
func representativeness(segments []v1alpha1.Breakdown, population map[string]int) *v1alpha1.Representativeness {
	if len(population) < 2 {
		return nil
	}
	names := make([]string, 0, len(population))
	for seg := range population {
		names = append(names, seg)
	}
	sort.Strings(names)
	responded := map[string]int{}
	for _, b := range segments {
		responded[b.Name] = int(b.Responded)
	}
	pops, resps := make([]int, len(names)), make([]int, len(names))
	totalPop, totalResp := 0, 0
	for i, seg := range names {
		pops[i], resps[i] = population[seg], responded[seg]
		totalPop += max(pops[i], 0)
		totalResp += resps[i]
	}
	for i := range segments {
		if n, ok := population[segments[i].Name]; ok && totalPop > 0 {
			segments[i].PopulationShare = percent(float64(n) / float64(totalPop))
			if totalResp > 0 {
				segments[i].ResponseShare = percent(float64(segments[i].Responded) / float64(totalResp))
			}
		}
	}
	chi2, df, p := scoring.Representativeness(pops, resps)
	if math.IsNaN(p) {
		return nil
	}
	out := &v1alpha1.Representativeness{ChiSquare: decimal(min(chi2, 999999), 1), DegreesOfFreedom: int32(df),
		PValue: pValue(p), Representative: p >= 0.05}
	return out
}

// pValue writes a probability: three decimals, or scientific notation below 0.001.
func pValue(p float64) v1alpha1.PValue {
	if p >= 0.001 {
		return v1alpha1.PValue(strconv.FormatFloat(p, 'f', 3, 64))
	}
	if p <= 0 {
		return "0"
	}
	return v1alpha1.PValue(strconv.FormatFloat(p, 'e', 1, 64))
}

// weighted is a question's post-stratified estimate (and, for a scale other than NPS, its mean)
// over the segments of the frame: each segment's score weighted by its share of the
// population. Segments with fewer than minAnswers answers, or none, are merged before weighting
// (scoring.Collapse), so that no weight rests on a handful of answers and nobody in the frame is
// left out. ok is false when the frame is not known yet, or when a segment with answers has no
// population in it (the weights would be a guess): the pooled estimate stands then.
func weighted(q *v1alpha1.Question, bySegment map[string]*scoring.Histogram, population map[string]int,
	minAnswers int, confidence float64) (scoring.Stratified, scoring.Estimate, bool) {
	if len(population) == 0 {
		return scoring.Stratified{}, scoring.Estimate{}, false
	}
	for seg, h := range bySegment {
		if population[seg] <= 0 && h.Base() > 0 {
			return scoring.Stratified{}, scoring.Estimate{}, false
		}
	}
	segments := make([]string, 0, len(population))
	for seg := range population {
		segments = append(segments, seg)
	}
	sort.Strings(segments)
	strata := make([]scoring.Stratum, 0, len(segments))
	min := 0
	for _, seg := range segments {
		st := scoring.Stratum{Population: population[seg]}
		if h := bySegment[seg]; h != nil {
			if q.Kind == v1alpha1.QuestionNPS {
				counts, err := h.NPSCounts()
				if err != nil {
					return scoring.Stratified{}, scoring.Estimate{}, false
				}
				st.Counts = counts[:]
			} else {
				st.Counts, min = h.Counts, h.Min
			}
		}
		strata = append(strata, st)
	}
	strata = scoring.Collapse(strata, minAnswers)
	if q.Kind == v1alpha1.QuestionNPS {
		return scoring.StratifiedNPS(strata, confidence), scoring.Estimate{}, true
	}
	scale, _ := q.EffectiveScale()
	return scoring.StratifiedTopBox(strata, int(*scale.Positive), confidence),
		scoring.StratifiedMean(strata, min, confidence).Estimate, true
}

func addTo(d *scoring.Dispositions, e scoring.Dispositions) {
	d.Complete += e.Complete
	d.Partial += e.Partial
	d.Refusal += e.Refusal
	d.NonContact += e.NonContact
	d.NoAnswer += e.NoAnswer
	d.UnknownEligibility += e.UnknownEligibility
	d.NotEligible += e.NotEligible
}

func invited(d scoring.Dispositions) int {
	return d.Complete + d.Partial + d.Refusal + d.NonContact + d.NoAnswer + d.UnknownEligibility + d.NotEligible
}

func record(m map[string]*scoring.Histogram, key string, q *v1alpha1.Question, h responseapi.Histogram) {
	scale, _ := q.EffectiveScale()
	if m[key] == nil {
		m[key] = scoring.NewHistogram(int(scale.Min), int(scale.Max))
	}
	for range h.Count {
		if err := m[key].Add(h.Value, h.NotApplicable); err != nil {
			return // an answer off today's scale (the spec changed): it does not count
		}
	}
}

// Confidence is spec.confidence as a fraction (0.95 by default).
func Confidence(spec *v1alpha1.SurveyCampaignSpec) float64 {
	if c, err := strconv.ParseFloat(string(spec.Confidence), 64); err == nil && c > 0 && c < 100 {
		return c / 100
	}
	return 0.95
}

// Estimate scores one question: NPS points for NPS, percent satisfied (top-box) otherwise.
func Estimate(q *v1alpha1.Question, h *scoring.Histogram, population int, confidence float64) scoring.Estimate {
	if q.Kind == v1alpha1.QuestionNPS {
		counts, err := h.NPSCounts()
		if err != nil {
			return scoring.Estimate{Value: math.NaN(), MarginOfError: math.NaN()}
		}
		return scoring.NPS(counts, population, confidence)
	}
	scale, _ := q.EffectiveScale()
	return scoring.TopBox(h.Counts, int(*scale.Positive), population, confidence)
}

func questionScore(q *v1alpha1.Question, h *scoring.Histogram, e scoring.Estimate, population int, confidence float64) v1alpha1.QuestionScore {
	s := v1alpha1.QuestionScore{Question: q.ID, N: int64(e.N)}
	if e.HasValue() {
		s.Value = decimal(e.Value, 1)
	} else {
		s.Value = "0"
	}
	if e.HasMargin() {
		s.MarginOfError = decimal(e.MarginOfError, 1)
	}
	if q.Kind != v1alpha1.QuestionNPS && h != nil {
		if m := scoring.Mean(h.Counts, h.Min, population, confidence); m.HasValue() {
			s.Mean = decimal(m.Value, 2)
		}
	}
	return s
}

// breakdowns are the figures of each group; population holds the groups' populations where
// they are known (segments), and the margins use the number invited where they are not.
func breakdowns(spec *v1alpha1.SurveyCampaignSpec, disp map[string]*scoring.Dispositions, hist map[string]*scoring.Histogram,
	primary *v1alpha1.Question, population map[string]int, confidence float64) []v1alpha1.Breakdown {
	names := make([]string, 0, len(disp))
	for k := range disp {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]v1alpha1.Breakdown, 0, len(names))
	for _, name := range names {
		d := disp[name]
		b := v1alpha1.Breakdown{Name: name, Invited: int64(invited(*d)), Responded: int64(d.Complete + d.Partial),
			ResponseRate: percent(d.RR2()), Population: int64(population[name])}
		if minimum := MinimumGroupSize(spec); minimum > 0 && b.Responded < int64(minimum) {
			out = append(out, b) // counts only: too few answers to publish a score without singling anyone out
			continue
		}
		pop := invited(*d)
		if n := population[name]; n >= pop {
			pop = n
		}
		if h := hist[name]; h != nil && h.Base() > 0 {
			e := Estimate(primary, h, pop, confidence)
			s := questionScore(primary, h, e, pop, confidence)
			b.Score = &s
		}
		out = append(out, b)
	}
	return out
}

// segmentScores breaks every scored question but the primary down by segment (or channel), in
// the questionnaire's order, each on the segment's population (the number invited until the
// frame is known, and for channels); a group too small to publish a score gets none.
func segmentScores(spec *v1alpha1.SurveyCampaignSpec, segments []v1alpha1.Breakdown, bySegQ map[string]map[string]*scoring.Histogram,
	primary string, population map[string]int, confidence float64) {
	for i := range segments {
		b := &segments[i]
		if minimum := MinimumGroupSize(spec); minimum > 0 && b.Responded < int64(minimum) {
			continue
		}
		pop := max(int(b.Invited), population[b.Name])
		for j := range spec.Survey.Questions {
			q := &spec.Survey.Questions[j]
			if !q.Kind.Scored() || q.ID == primary {
				continue
			}
			if h := bySegQ[q.ID][b.Name]; h != nil && h.Base() > 0 {
				b.Scores = append(b.Scores, questionScore(q, h, Estimate(q, h, pop, confidence), pop, confidence))
			}
		}
	}
}

func verdicts(spec *v1alpha1.SurveyCampaignSpec, r Results) []v1alpha1.TargetVerdict {
	t := spec.Targets
	if t == nil {
		return nil
	}
	var out []v1alpha1.TargetVerdict
	if t.ResponseRate != "" {
		v := v1alpha1.TargetVerdict{Target: "responseRate", Verdict: v1alpha1.VerdictUnknown}
		if want, err := strconv.ParseFloat(string(t.ResponseRate), 64); err == nil && !math.IsNaN(r.Rate) {
			v.Actual = decimal(100*r.Rate, 1)
			v.Verdict = met(100*r.Rate >= want)
		}
		out = append(out, v)
	}
	if t.Score != nil {
		v := v1alpha1.TargetVerdict{Target: "score", Verdict: v1alpha1.VerdictUnknown}
		want, err := strconv.ParseFloat(string(t.Score.Min), 64)
		for _, s := range r.Scores {
			if s.Question == t.Score.Question && s.N > 0 && s.Value != "" && err == nil {
				got, _ := strconv.ParseFloat(string(s.Value), 64)
				v.Actual = s.Value
				v.Verdict = met(got >= want)
			}
		}
		out = append(out, v)
	}
	if t.MarginOfError != "" {
		v := v1alpha1.TargetVerdict{Target: "marginOfError", Verdict: v1alpha1.VerdictUnknown}
		if want, err := strconv.ParseFloat(string(t.MarginOfError), 64); err == nil && r.Primary.HasMargin() {
			v.Actual = decimal(r.Primary.MarginOfError, 1)
			v.Verdict = met(r.Primary.MarginOfError <= want)
		}
		out = append(out, v)
	}
	return out
}

func met(ok bool) v1alpha1.Verdict {
	if ok {
		return v1alpha1.VerdictMet
	}
	return v1alpha1.VerdictNotMet
}

// TargetsMet is true when every target has a verdict and all are Met; known is false while any
// is Unknown.
func TargetsMet(verdicts []v1alpha1.TargetVerdict) (met, known bool) {
	met, known = true, true
	for _, v := range verdicts {
		switch v.Verdict {
		case v1alpha1.VerdictUnknown:
			known = false
		case v1alpha1.VerdictNotMet:
			met = false
		}
	}
	return met, known
}

// compare sets each benchmark against the wave's estimate of its question (weighted when the
// frame is known).
func compare(spec *v1alpha1.SurveyCampaignSpec, estimates map[string]scoring.Estimate, confidence float64) []v1alpha1.BenchmarkComparison {
	var out []v1alpha1.BenchmarkComparison
	for _, b := range spec.Benchmarks {
		c := v1alpha1.BenchmarkComparison{Name: b.Name, Verdict: v1alpha1.VerdictUnknown}
		e, ok := estimates[b.Question]
		value, err := strconv.ParseFloat(string(b.Value), 64)
		if ok && err == nil {
			if e.HasValue() {
				ref := scoring.Reference{Value: value}
				if moe, err := strconv.ParseFloat(string(b.MarginOfError), 64); err == nil {
					ref.MarginOfError = moe
				}
				cmp := scoring.Compare(e, ref, confidence)
				c.Difference = decimal(cmp.Difference, 1)
				c.Verdict = verdictOf(cmp)
			}
		}
		out = append(out, c)
	}
	return out
}

// ScoreText is the primary score for `kubectl get`: "+32 ±4.1" for NPS, "78.5% ±3.2" otherwise.
func ScoreText(q *v1alpha1.Question, e scoring.Estimate) string {
	if q == nil || !e.HasValue() {
		return ""
	}
	var s string
	if q.Kind == v1alpha1.QuestionNPS {
		s = fmt.Sprintf("%+.0f", e.Value)
	} else {
		s = fmt.Sprintf("%.1f%%", e.Value)
	}
	if e.HasMargin() {
		s += fmt.Sprintf(" ±%.1f", e.MarginOfError)
	}
	return s
}

// ScoreLabel is ScoreText from a wave's published scores.
func ScoreLabel(q *v1alpha1.Question, scores []v1alpha1.QuestionScore) string {
	if q == nil {
		return ""
	}
	for _, s := range scores {
		if s.Question != q.ID || s.N == 0 {
			continue
		}
		if s.Value == "" {
			return fmt.Sprintf("n=%d, too few", s.N) // counts only (OverallMinimum)
		}
		e := scoring.Estimate{Value: math.NaN(), MarginOfError: math.NaN(), N: int(s.N)}
		if v, err := strconv.ParseFloat(string(s.Value), 64); err == nil {
			e.Value = v
		}
		if m, err := strconv.ParseFloat(string(s.MarginOfError), 64); err == nil {
			e.MarginOfError = m
		}
		return ScoreText(q, e)
	}
	return ""
}

func decimal(v float64, places int) v1alpha1.Decimal {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', places, 64)
	if s == "-0" || s == "-0.0" || s == "-0.00" {
		s = s[1:]
	}
	return v1alpha1.Decimal(s)
}

func percent(fraction float64) v1alpha1.Percent {
	if math.IsNaN(fraction) {
		return ""
	}
	return v1alpha1.Percent(strconv.FormatFloat(100*math.Max(0, math.Min(1, fraction)), 'f', 1, 64))
}
