package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of the conditions, for anyone who matches on them (alerts, GitOps health checks,
// tests). Messages are for people and may change; reasons are part of the API.
const (
	// ReasonValid: the spec is valid (Stalled False).
	ReasonValid = "Valid"
	// ReasonInvalidSpec: the spec or an object it refers to is wrong; the message names the
	// field (Stalled True, Ready False).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonWaitingForResponseService: the response service did not answer or refused.
	ReasonWaitingForResponseService = "WaitingForResponseService"
	// ReasonAudienceUnavailable: a wave cannot start because its list cannot be reached (no
	// such object or claim, refused credentials); the message names the field (Stalled True,
	// Ready False; the manager tries again every 2 minutes). Not a failed wave.
	ReasonAudienceUnavailable = "AudienceUnavailable"
	// ReasonRetrying: the API server refused a write; the operator retries with backoff.
	ReasonRetrying = "Retrying"
	// ReasonSending: a sending Job runs (Reconciling True, Ready False).
	ReasonSending = "Sending"
	// ReasonSettled: no Job runs (Reconciling False).
	ReasonSettled = "Settled"
	// ReasonWaveFailed: the latest wave's sender failed (Stalled True, Ready False).
	ReasonWaveFailed = "WaveFailed"
	// ReasonWaveSkipped: the latest wave was never started, past its starting deadline.
	ReasonWaveSkipped = "WaveSkipped"
	// ReasonSuspended: spec.suspend is set.
	ReasonSuspended = "Suspended"
	// ReasonScheduled: no wave has started yet.
	ReasonScheduled = "Scheduled"
	// ReasonNotEnoughData: some target cannot be judged yet (TargetsMet Unknown).
	ReasonNotEnoughData = "NotEnoughData"
	// ReasonTargetsMet and ReasonTargetsMissed: TargetsMet True and False.
	ReasonTargetsMet    = "TargetsMet"
	ReasonTargetsMissed = "TargetsMissed"
	// ReasonContacting: a FollowUp's contact Job runs.
	ReasonContacting = "Contacting"
	// ReasonFollowing: a FollowUp's rule is registered and its cases counted.
	ReasonFollowing = "Following"
	// ReasonCasesOverdue and ReasonWithinStandard: SLABreached True and False.
	ReasonCasesOverdue   = "CasesOverdue"
	ReasonWithinStandard = "WithinStandard"
)

// WaveReason is the Ready reason of a campaign whose latest wave is in a phase: "WaveCollecting",
// "WaveClosed", ...
func WaveReason(p WavePhase) string { return "Wave" + string(p) }

// Reasons of the Events the operator records, and their actions.
const (
	EventInvalidSpec     = ReasonInvalidSpec
	EventWaveStarted     = "WaveStarted"
	EventWaveFailed      = "WaveFailed"
	EventWaveMissed      = "WaveMissed"
	EventWaveClosed      = "WaveClosed"
	EventSendingResumed  = "SendingResumed"
	EventReminderStarted = "ReminderStarted"
	EventCasesOpened     = "CasesOpened"
	EventContactStarted  = "ContactStarted"
	EventSLABreached     = "SLABreached"
	EventSLARestored     = "SLARestored"
	EventSuspended       = "Suspended"
	EventResumed         = "Resumed"
	// EventRequestRefused: a wave was asked for (the requestedAt annotation) while the
	// campaign is suspended; it is dropped, not kept for the resume.
	EventRequestRefused = "RequestRefused"
	// EventSendingFailed: a touch-point campaign's sending Job failed; its events stay due.
	EventSendingFailed = "SendingFailed"

	ActionValidate = "Validate"
	ActionSchedule = "Schedule"
	ActionSend     = "Send"
	ActionCollect  = "Collect"
	ActionFollow   = "Follow"
	ActionContact  = "Contact"
)

// MaxMessage bounds a condition's message (and an Event's note): long enough for every
// problem of a spec, short enough that a status stays small.
const MaxMessage = 1024

// Bound cuts a message to MaxMessage bytes, marking the cut with "...", without splitting a
// UTF-8 character.
func Bound(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage - 3
	for cut > 0 && msg[cut]&0xC0 == 0x80 { // a continuation byte: back to the character's start
		cut--
	}
	return msg[:cut] + "..."
}

// setCondition sets a condition for the given generation, its message bounded.
func setCondition(conds *[]metav1.Condition, generation int64, t string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: Bound(msg),
		ObservedGeneration: generation})
}

// SetCondition sets one of the campaign's conditions for its current generation; the message
// is bounded.
func (c *SurveyCampaign) SetCondition(t string, s metav1.ConditionStatus, reason, msg string) {
	setCondition(&c.Status.Conditions, c.Generation, t, s, reason, msg)
}

// SetCondition sets one of the FollowUp's conditions for its current generation; the message
// is bounded.
func (f *FollowUp) SetCondition(t string, s metav1.ConditionStatus, reason, msg string) {
	setCondition(&f.Status.Conditions, f.Generation, t, s, reason, msg)
}

// GetConditions returns the campaign's conditions.
func (c *SurveyCampaign) GetConditions() []metav1.Condition { return c.Status.Conditions }

// MarkObserved records that the status describes the current generation.
func (c *SurveyCampaign) MarkObserved() { c.Status.ObservedGeneration = c.Generation }

// GetConditions returns the FollowUp's conditions.
func (f *FollowUp) GetConditions() []metav1.Condition { return f.Status.Conditions }

// MarkObserved records that the status describes the current generation.
func (f *FollowUp) MarkObserved() { f.Status.ObservedGeneration = f.Generation }
