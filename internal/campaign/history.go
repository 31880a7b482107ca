package campaign

import "github.com/surveyops/survey-operator/api/v1alpha1"

// DetailedWaves is how many of the newest waves keep every figure in the campaign's status.
// Older finished waves keep their counts (overall, by segment and by channel), rates, target
// verdicts, representativeness and the primary question's scores overall and by segment; their
// other questions' scores, trend, drivers, benchmark comparisons and channels' scores are
// dropped, so that a campaign at the API's maxima (50 waves of 50 questions, 20 segments and 16
// channels) stays well within the size etcd accepts for one object.
const DetailedWaves = 3

// SegmentDetailWaves is how many of the newest waves keep every question's scores by segment
// (the primary question's by segment stay on every wave).
const SegmentDetailWaves = 1

// TrimHistory drops the scores by segment of the finished waves past the newest
// SegmentDetailWaves, and the per-question detail of those past the newest DetailedWaves
// (waves are newest first).
func TrimHistory(waves []v1alpha1.WaveStatus, primary string) {
	for i := SegmentDetailWaves; i < len(waves); i++ {
		if w := &waves[i]; w.Phase == v1alpha1.WaveClosed || w.Phase == v1alpha1.WaveFailed {
			for j := range w.Segments {
				w.Segments[j].Scores = nil
			}
		}
	}
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
