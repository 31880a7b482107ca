package campaign

import "github.com/surveyops/survey-operator/api/v1alpha1"

// DetailedWaves is how many of the newest waves keep every figure in the campaign's status.
// Older finished waves keep their counts (overall, by segment and by channel), rates, target
// verdicts, representativeness and the primary question's scores overall and by segment; their
// other questions' scores, trend, drivers, benchmark comparisons and channels' scores are
// dropped, so that a campaign at the API's maxima (50 waves of 50 questions, 20 segments and 16
// channels) stays well within the size etcd accepts for one object.
const DetailedWaves = 4

// TrimHistory drops the per-question detail of the finished waves past the newest
// DetailedWaves (waves are newest first).
func TrimHistory(waves []v1alpha1.WaveStatus, primary string) {
	for i := DetailedWaves; i < len(waves); i++ {
		w := &waves[i]
		if w.Phase != v1alpha1.WaveClosed && w.Phase != v1alpha1.WaveFailed {
			continue
		}
		var kept []v1alpha1.QuestionScore
		for _, s := range w.Scores {
			if s.Question == primary {
				kept = append(kept, s)
			}
		}
		w.Scores, w.Trend, w.Drivers, w.Benchmarks = kept, nil, nil, nil
		for j := range w.Channels {
			w.Channels[j].Score = nil
		}
	}
}
