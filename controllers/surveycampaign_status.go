package controllers

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
)

// refreshResults asks the response service for the aggregates of the waves that collect, at
// most as often as the poll policy allows, closes the waves whose window has ended, and queues
// each refreshed wave's report.
func (u *run) refreshResults(ctx context.Context) {
	logger := log.FromContext(ctx)
	for i := range u.c.Status.Waves {
		w := &u.c.Status.Waves[i]
		if w.Phase != v1alpha1.WaveSending && w.Phase != v1alpha1.WaveCollecting {
			continue
		}
		closing := w.Phase == v1alpha1.WaveCollecting && w.CloseTime != nil && !u.now.Before(w.CloseTime.Time)
		key := u.pollKey(w)
		if next := u.r.polls.due(key); !closing && u.now.Before(next) && !next.IsZero() {
			u.wakeAt(next)
			continue
		}
		sum, err := u.r.Responses.Summary(ctx, string(u.c.UID), w.ID, u.c.Spec.Survey.PrimaryQuestionID())
		if err != nil {
			logger.Info("the response service did not answer; the figures wait", "wave", w.ID, "error", err.Error())
			u.wakeAt(u.now.Add(retryBackoff))
			continue
		}
		res := campaign.Score(&u.c.Spec, sum)
		if !closing {
			res.Targets = campaign.WhileCollecting(res.Targets)
		}
		before := w.DeepCopy()
		applyResults(w, res)
		w.Trend = nil
		if prev := u.previousClosed(i); prev != nil {
			w.Trend = campaign.Trend(&u.c.Spec, w.Scores, prev.Scores, prev.ID)
		}
		policy := u.r.Poll
		if w.Phase == v1alpha1.WaveSending && u.sending { // a Job sends now (not paused for quiet hours)
			policy.Min, policy.Max = policy.Sending, policy.Sending
		}
		next := u.r.polls.polled(key, u.now, !equality.Semantic.DeepEqual(before, w), policy)
		if closing {
			w.Phase = v1alpha1.WaveClosed
			u.r.polls.forget(key)
			u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventWaveClosed, v1alpha1.ActionCollect,
				"Wave %s closed: %d of %d responded (%s%%), score %s.",
				w.ID, w.Responded, w.Invited, orDash(string(w.ResponseRate)), orDash(campaign.ScoreText(u.primary(), res.Primary)))
		} else {
			u.wakeAt(next)
			if w.CloseTime != nil {
				u.wakeAt(w.CloseTime.Time)
			}
		}
		u.queueReport(w, res, sum)
	}
}

// previousClosed is the latest closed wave older than the i-th (the waves are newest first).
func (u *run) previousClosed(i int) *v1alpha1.WaveStatus {
	for j := i + 1; j < len(u.c.Status.Waves); j++ {
		if w := &u.c.Status.Waves[j]; w.Phase == v1alpha1.WaveClosed {
			return w
		}
	}
	return nil
}

// pollKey names a wave in the poll tracker.
func (u *run) pollKey(w *v1alpha1.WaveStatus) string { return u.key.String() + "/" + w.ID }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (u *run) primary() *v1alpha1.Question {
	id := u.c.Spec.Survey.PrimaryQuestionID()
	for i := range u.c.Spec.Survey.Questions {
		if u.c.Spec.Survey.Questions[i].ID == id {
			return &u.c.Spec.Survey.Questions[i]
		}
	}
	return nil
}

func applyResults(w *v1alpha1.WaveStatus, r campaign.Results) {
	w.Invited, w.Delivered, w.Failed, w.OptedOut, w.Responded = r.Invited, r.Delivered, r.Failed, r.OptedOut, r.Responded
	w.ResponseRate = r.ResponseRate
	w.Scores, w.Segments, w.Channels, w.Drivers = r.Scores, r.Segments, r.Channels, r.Drivers
	w.Targets, w.Benchmarks, w.Representativeness = r.Targets, r.Benchmarks, r.Representativeness
}

// settle sets the conditions of a valid campaign, kstatus-style: Reconciling while a Job sends
// or the latest spec is not yet acted on, Ready when nothing is wrong, Stalled only when the
// latest wave's sender failed (a broken spec is handled by stalled).
func (u *run) settle(err error) {
	st := &u.c.Status
	u.c.MarkObserved()
	set := u.c.SetCondition
	set(v1alpha1.ConditionStalled, metav1.ConditionFalse, v1alpha1.ReasonValid, "The spec is valid.")
	var latest *v1alpha1.WaveStatus
	if len(st.Waves) > 0 {
		latest = &st.Waves[0]
	}
	switch {
	case err != nil:
		reason := v1alpha1.ReasonRetrying
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReconciling); c != nil &&
			c.Reason == v1alpha1.ReasonWaitingForResponseService && c.Status == metav1.ConditionTrue {
			reason = c.Reason
		}
		set(v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, err.Error())
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, err.Error())
		return
	case u.sending:
		set(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonSending, "A sending Job is running.")
	default:
		set(v1alpha1.ConditionReconciling, metav1.ConditionFalse, v1alpha1.ReasonSettled, "No Job is running.")
	}
	failed := latest != nil && latest.Phase == v1alpha1.WaveFailed && latest.JobName != ""
	if failed {
		// The latest wave's sender failed (a bad audience line, the ledger unreachable, the
		// deadline passed): it needs someone to look, and the next wave or a requested one
		// clears it.
		set(v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonWaveFailed, "Wave "+latest.ID+": "+latest.Message)
	}
	switch {
	case failed:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonWaveFailed, "Wave "+latest.ID+": "+latest.Message)
	case latest != nil && latest.Phase == v1alpha1.WaveFailed:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonWaveSkipped, "Wave "+latest.ID+": "+latest.Message)
	case u.c.Spec.Suspend:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended, "The campaign is suspended: no new waves or reminders.")
	case u.sending:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSending, "A sending Job is running.")
	case latest != nil:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.WaveReason(latest.Phase), "Wave "+latest.ID+" is "+string(latest.Phase)+".")
	default:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonScheduled, "Waiting for the first wave.")
	}
	u.summarize()
}

// summarize sets the summary columns and TargetsMet from one wave (summaryWave): the latest
// with responses, or, before any has one, the latest with invitations. A wave that has just
// sent and not yet heard back does not blank the figures of the wave before it.
func (u *run) summarize() {
	st := &u.c.Status
	w := summaryWave(st.Waves)
	if w == nil {
		return
	}
	st.SummaryWave = w.ID
	st.ResponseRate = w.ResponseRate
	st.Score = campaign.ScoreLabel(u.primary(), w.Scores)
	met, known := campaign.TargetsMet(w.Targets)
	switch {
	case len(w.Targets) == 0:
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionTargetsMet)
	case !known:
		u.c.SetCondition(v1alpha1.ConditionTargetsMet, metav1.ConditionUnknown, v1alpha1.ReasonNotEnoughData,
			"Wave "+w.ID+" cannot be judged on every target yet: "+unknown(w)+".")
	case met:
		u.c.SetCondition(v1alpha1.ConditionTargetsMet, metav1.ConditionTrue, v1alpha1.ReasonTargetsMet, "Wave "+w.ID+" meets every target.")
	default:
		u.c.SetCondition(v1alpha1.ConditionTargetsMet, metav1.ConditionFalse, v1alpha1.ReasonTargetsMissed, "Wave "+w.ID+" misses: "+missed(w.Targets)+".")
	}
}

// summaryWave is the latest wave (newest first) with responses, else the latest with
// invitations, else nil.
func summaryWave(waves []v1alpha1.WaveStatus) *v1alpha1.WaveStatus {
	var invited *v1alpha1.WaveStatus
	for i := range waves {
		w := &waves[i]
		if w.Responded > 0 {
			return w
		}
		if invited == nil && w.Invited > 0 {
			invited = w
		}
	}
	return invited
}

// unknown names the targets of a wave that cannot be judged yet, and why.
func unknown(w *v1alpha1.WaveStatus) string {
	var out []string
	for _, v := range w.Targets {
		if v.Verdict != v1alpha1.VerdictUnknown {
			continue
		}
		switch {
		case v.Target == "responseRate" && v.Actual != "":
			out = append(out, "responseRate ("+string(v.Actual)+" so far, the wave is still collecting)")
		default:
			out = append(out, v.Target+" (not enough responses)")
		}
	}
	return strings.Join(out, ", ")
}

func missed(vs []v1alpha1.TargetVerdict) string {
	var out []string
	for _, v := range vs {
		if v.Verdict == v1alpha1.VerdictNotMet {
			out = append(out, v.Target+" ("+string(v.Actual)+")")
		}
	}
	return strings.Join(out, ", ")
}
