package main

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
)

// resultsOutput is what results -o json and -o yaml print: the wave as the campaign's status
// (or the wave's report) holds it, its fields at the top as before, and beside them the Choice
// questions' shares that the table shows.
type resultsOutput struct {
	v1alpha1.WaveStatus `json:",inline"`
	Choices             []campaign.ChoiceShares `json:"choices,omitempty"`
}

// overall is the segment column's value for the whole wave: in brackets, so that no segment
// (a DNS label) can be named the same.
const overall = "(overall)"

// resultsCSVHeader is results -o csv's one header: one figure a row, one value a column, for a
// spreadsheet to filter on kind, question and segment.
var resultsCSVHeader = []string{"wave", "kind", "question", "segment", "choice", "value", "margin_of_error", "n", "effective_n",
	"unweighted", "mean", "count", "invited", "population", "change", "previous_wave", "trend"}

// printResultsCSV prints a wave's results for a spreadsheet, every row under the one header:
//
//   - kind "responses", one row for the wave (segment "(overall)") and one for each segment:
//     value the response rate in percent, n those who responded, invited, population;
//   - kind "score", one row for each scored question and segment, the wave's own first: value
//     (NPS points, or percent satisfied; empty when too few answered), margin_of_error, n,
//     effective_n and unweighted (when weighted by segment), mean (in scale units); the
//     wave's rows also carry the change since previous_wave and its trend (Above, Below,
//     NotSignificant or Unknown). A segment with too few responses for a score has no row;
//   - kind "choice", one row for each option of a Choice question (segment "(overall)"): value
//     the share in percent of the n who answered the question, count those who chose it.
//
// Numbers are plain, without plus signs, units or thousands separators.
func printResultsCSV(w io.Writer, wv *v1alpha1.WaveStatus, choices []campaign.ChoiceShares) error {
	cw := csv.NewWriter(w)
	row := func(f map[string]string) {
		r := make([]string, len(resultsCSVHeader))
		for i, col := range resultsCSVHeader {
			r[i] = f[col]
		}
		r[0] = wv.ID
		_ = cw.Write(r) // the first error is kept by the writer, and read once at the end
	}
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	positive := func(n int64) string {
		if n <= 0 {
			return ""
		}
		return count(n)
	}
	_ = cw.Write(resultsCSVHeader)

	row(map[string]string{"kind": "responses", "segment": overall, "value": string(wv.ResponseRate),
		"n": count(wv.Responded), "invited": count(wv.Invited)})
	for _, b := range wv.Segments {
		row(map[string]string{"kind": "responses", "segment": b.Name, "value": string(b.ResponseRate),
			"n": count(b.Responded), "invited": count(b.Invited), "population": positive(b.Population)})
	}

	score := func(segment string, s v1alpha1.QuestionScore) map[string]string {
		return map[string]string{"kind": "score", "question": s.Question, "segment": segment, "value": string(s.Value),
			"margin_of_error": string(s.MarginOfError), "n": count(s.N), "effective_n": positive(s.EffectiveN),
			"unweighted": string(s.Unweighted), "mean": string(s.Mean)}
	}
	for _, s := range wv.Scores {
		f := score(overall, s)
		for _, tr := range wv.Trend {
			if tr.Question == s.Question {
				f["change"], f["previous_wave"], f["trend"] = string(tr.Change), tr.PreviousWave, string(tr.Verdict)
			}
		}
		row(f)
		for _, b := range wv.Segments {
			if bs, ok := segmentScore(b, s.Question); ok {
				row(score(b.Name, bs))
			}
		}
	}

	for _, c := range choices {
		for _, o := range c.Options {
			row(map[string]string{"kind": "choice", "question": c.Question, "segment": overall, "choice": o.Choice,
				"value": string(o.Share), "n": count(c.N), "count": count(o.Count)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// segmentScore is a segment's score of a question: the primary question's (Score) or another's
// (Scores); false when the segment has none.
func segmentScore(b v1alpha1.Breakdown, question string) (v1alpha1.QuestionScore, bool) {
	if b.Score != nil && b.Score.Question == question {
		return *b.Score, true
	}
	for _, s := range b.Scores {
		if s.Question == question {
			return s, true
		}
	}
	return v1alpha1.QuestionScore{}, false
}
