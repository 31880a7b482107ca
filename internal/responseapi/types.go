// Package responseapi is the contract of the response service's HTTP API: its routes, the JSON
// of every request and answer, and the client the manager and the senders use. It imports
// neither the service nor its store, so the binaries that only call the API link no database.
package responseapi

import (
	"time"

	"github.com/surveyops/survey-operator/internal/survey"
)

// Limits of the API.
const (
	// MaxBatch bounds the rows of one ledger or case call.
	MaxBatch = 5000
	// MaxBodyBytes bounds a request or answer body.
	MaxBodyBytes = 8 << 20
)

// ErrorBody is the body of every refusal: {"error": "..."}.
type ErrorBody struct {
	Error string `json:"error"`
}

// WaveRegistration is the body of RoutePutWave: a wave's snapshot, registered by the manager.
type WaveRegistration struct {
	Namespace  string            `json:"namespace"`
	Campaign   string            `json:"campaign"`
	Definition survey.Definition `json:"definition"`
	OpensAt    time.Time         `json:"opensAt"`
	ClosesAt   time.Time         `json:"closesAt"`
	// ChannelKeys are the HMAC keys of the wave's webhook channels by name (base64 in JSON),
	// read by the manager from each channel's Secret; gateways sign inbound answers with them.
	ChannelKeys map[string][]byte `json:"channelKeys,omitempty"`
}

// Invitation is an invitation in the ledger.
type Invitation struct {
	CampaignUID  string     `json:"campaignUID"`
	WaveID       string     `json:"waveID"`
	RecipientKey string     `json:"recipientKey"`
	Round        int        `json:"round"`
	Namespace    string     `json:"namespace"`
	Segment      string     `json:"segment"`
	Channel      string     `json:"channel"`
	State        string     `json:"state,omitempty"`
	Attempts     int        `json:"attempts,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	ReservedAt   *time.Time `json:"reservedAt,omitempty"`
	SentAt       *time.Time `json:"sentAt,omitempty"`
}

// ReserveRequest is the body of RouteReserve, and its answer.
type ReserveRequest struct {
	Invitations []Invitation `json:"invitations"`
}

// Mark is an invitation's outcome: the body of RouteMark.
type Mark struct {
	CampaignUID  string `json:"campaignUID"`
	WaveID       string `json:"waveID"`
	RecipientKey string `json:"recipientKey"`
	Round        int    `json:"round"`
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
}

// Marks is the body of RouteMarks: several outcomes, recorded together.
type Marks struct {
	Marks []Mark `json:"marks"`
}

// KeysRequest is the body of RouteContacted and RouteOptedOut.
type KeysRequest struct {
	Namespace string    `json:"namespace"`
	Keys      []string  `json:"keys"`
	Since     time.Time `json:"since,omitzero"`
	// ExceptCampaignUID and ExceptWaveID leave a wave's own invitations out of RouteContacted:
	// a sender run again sees them as already sent, not as recent contacts.
	ExceptCampaignUID string `json:"exceptCampaignUID,omitempty"`
	ExceptWaveID      string `json:"exceptWaveID,omitempty"`
}

// UnansweredRequest is the body of RouteUnanswered: which of these people, invited in this
// wave, are due a reminder.
type UnansweredRequest struct {
	CampaignUID string   `json:"campaignUID"`
	WaveID      string   `json:"waveID"`
	Keys        []string `json:"keys"`
}

// SuppressedResponse answers RouteSuppressed: for each key that has any, the channels through
// which an invitation to them bounced in the namespace.
type SuppressedResponse struct {
	Suppressed map[string][]string `json:"suppressed"`
}

// KeysResponse lists the keys found.
type KeysResponse struct {
	Keys []string `json:"keys"`
}

// Summary is the answer of RouteSummary: a wave's aggregates.
type Summary struct {
	Dispositions []DispositionRow     `json:"dispositions"`
	Responded    []CountRow           `json:"responded"`
	Histograms   []Histogram          `json:"histograms"`
	Pairs        map[string]PairStats `json:"pairs"`
	// Frame is each segment's frame, as the senders recorded it; empty before they have.
	Frame []FrameSegment `json:"frame"`
	// Cases are the wave's follow-up cases by FollowUp, at the time of the answer.
	Cases []WaveCases `json:"cases"`
	// Languages are the wave's responses by the language they were given in, in language order
	// ("" for a response whose language is not known, as from a gateway).
	Languages []LanguageCount `json:"languages,omitempty"`
}

// LanguageCount is how many responses were given in a language.
type LanguageCount struct {
	Language  string `json:"language"`
	Responses int    `json:"responses"`
}

// WaveCases are one FollowUp's cases of a wave: opened, contacted, resolved, past a due time now
// (overdue), and whose service standard was missed, now or before (breaches).
type WaveCases struct {
	FollowUpUID string `json:"followUpUID"`
	FollowUp    string `json:"followUp"`
	Matched     int    `json:"matched"`
	Contacted   int    `json:"contacted"`
	Resolved    int    `json:"resolved"`
	Overdue     int    `json:"overdue"`
	Breaches    int    `json:"breaches"`
}

// Frame is the body of RouteFrame: what one shard of a wave's sending Job counted of the
// audience, by segment. Every shard counts the whole audience, so Population, Unreachable and
// Sampled are the same from each; OptedOut and ContactedRecently are the people of the shard's
// own part left out of the invitations. A shard that records again replaces what it recorded.
type Frame struct {
	// Shards is how many shards the Job has: what shards past it recorded (a run with more
	// shards before) is dropped.
	Shards   int            `json:"shards"`
	Segments []FrameSegment `json:"segments"`
}

// FrameSegment is one segment's frame.
type FrameSegment struct {
	Segment string `json:"segment"`
	// Population is the people the segment matched in the audience, before sampling.
	Population int `json:"population"`
	// Unreachable are those of them no channel of the segment can reach.
	Unreachable int `json:"unreachable"`
	// Sampled are those chosen for the wave (all of the reachable when the segment is not
	// sampled).
	Sampled int `json:"sampled"`
	// OptedOut and ContactedRecently are those left out of the invitations.
	OptedOut          int `json:"optedOut"`
	ContactedRecently int `json:"contactedRecently"`
}

// DispositionRow is the dispositions of one segment and channel.
type DispositionRow struct {
	Segment    string `json:"segment"`
	Channel    string `json:"channel"`
	Complete   int    `json:"complete"`
	Partial    int    `json:"partial"`
	Refusal    int    `json:"refusal"`
	NonContact int    `json:"nonContact"`
	NoAnswer   int    `json:"noAnswer"`
}

// CountRow counts something in one segment and channel.
type CountRow struct {
	Segment string `json:"segment"`
	Channel string `json:"channel"`
	Count   int    `json:"count"`
}

// Histogram is one histogram row: how many answered Value to Question in a segment and channel.
type Histogram struct {
	Question      string `json:"question"`
	Segment       string `json:"segment"`
	Channel       string `json:"channel"`
	Value         *int   `json:"value"`
	NotApplicable bool   `json:"notApplicable,omitempty"`
	Count         int    `json:"count"`
}

// PairStats are the sufficient statistics of a question with the primary question.
type PairStats struct {
	N     int64 `json:"n"`
	SumX  int64 `json:"sumX"`
	SumY  int64 `json:"sumY"`
	SumXX int64 `json:"sumXX"`
	SumYY int64 `json:"sumYY"`
	SumXY int64 `json:"sumXY"`
}

// ErasureRequest is the body of RouteErase: the person's id in the audience (idField).
type ErasureRequest struct {
	ID string `json:"id"`
}

// Erasure is the answer of RouteErase: the erasure log entry's id and time, and how many rows
// of each kind were deleted. The log keeps the id and the time only.
type Erasure struct {
	ID           string    `json:"id"`
	ErasedAt     time.Time `json:"erasedAt"`
	Invitations  int64     `json:"invitations"`
	Responses    int64     `json:"responses"`
	Answers      int64     `json:"answers"`
	Cases        int64     `json:"cases"`
	OptOuts      int64     `json:"optOuts"`
	Suppressions int64     `json:"suppressions"`
	// Events are the touch-point events that held the person's id.
	Events int64 `json:"events"`
	// Decisions are touch-point campaigns' records of the events that invited the person.
	Decisions int64 `json:"decisions"`
}

// EventsAccepted is the answer of RouteEvents (202): how many events the request held, how
// many of them were new, and how many no campaign takes (the rest were delivered before, and
// changed nothing).
type EventsAccepted struct {
	Events int `json:"events"`
	New    int `json:"new"`
	// Ignored are the events of types no touch-point campaign of the namespace takes: not
	// stored, and counted in survey_collector_events_ignored_total.
	Ignored int `json:"ignored"`
}

// EventType is an event type a touch-point campaign takes: from one source, or (Source
// empty) any.
type EventType struct {
	Type   string `json:"type"`
	Source string `json:"source,omitempty"`
}

// TouchPointsRegistration is the body of RoutePutTouchPoints: which events a campaign takes
// (none: it takes no more), and when they fall due. Durations are Go duration strings.
type TouchPointsRegistration struct {
	Namespace string      `json:"namespace"`
	Campaign  string      `json:"campaign"`
	Events    []EventType `json:"events"`
	Delay     string      `json:"delay"`
	MaxAge    string      `json:"maxAge"`
}

// TouchPointsDue is the answer of RouteDueTouchPoints: how many of a campaign's events are
// due and not yet done with, when the first of them fell due, and when the next one falls due
// (absent: none).
type TouchPointsDue struct {
	Due   int        `json:"due"`
	First *time.Time `json:"first,omitempty"`
	Next  *time.Time `json:"next,omitempty"`
}

// MaxDueEvents is the most events one answer of RouteDueEvents lists: a sender asks again
// once it has decided them.
const MaxDueEvents = 1000

// DueEvent is an event due for a campaign: its attributes, its data's fields, when it fell
// due, and whether it was too old then (it invites nobody).
type DueEvent struct {
	Source     string            `json:"source"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Subject    string            `json:"subject,omitempty"`
	Time       *time.Time        `json:"time,omitempty"`
	ReceivedAt time.Time         `json:"receivedAt"`
	Due        time.Time         `json:"due"`
	TooOld     bool              `json:"tooOld,omitempty"`
	Fields     map[string]string `json:"fields"`
	// WaveID, RecipientKey and Segment name the invitation of an event decided already, whose
	// invitation a stopped sender left reserved or being sent: to resume as it is.
	WaveID       string `json:"waveID,omitempty"`
	RecipientKey string `json:"recipientKey,omitempty"`
	Segment      string `json:"segment,omitempty"`
}

// DueEvents is the answer of RouteDueEvents: the earliest due first, at most MaxDueEvents.
type DueEvents struct {
	Events []DueEvent `json:"events"`
}

// Decision is what a sender decided about one event (store.EventOutcome): invited (naming
// the wave and person of its invitation), or why not (naming no one).
type Decision struct {
	Source       string            `json:"source"`
	ID           string            `json:"id"`
	Outcome      string            `json:"outcome"`
	Due          time.Time         `json:"due"`
	WaveID       string            `json:"waveID,omitempty"`
	RecipientKey string            `json:"recipientKey,omitempty"`
	Segment      string            `json:"segment,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
}

// The outcomes of an event for a campaign (store.EventOutcome): only OutcomeInvited names a
// person.
const (
	OutcomeInvited     = "invited"
	OutcomeNoSegment   = "no-segment"
	OutcomeNotSampled  = "not-sampled"
	OutcomeUnreachable = "unreachable"
	OutcomeOptedOut    = "opted-out"
	OutcomeContacted   = "contacted"
	OutcomeTooOld      = "too-old"
	OutcomeInvalid     = "invalid"
)

// DecideRequest is the body of RouteDecide: decisions about events, and the invitations they
// made, recorded in one transaction. The answer is a ReserveRequest: the invitations as
// stored.
type DecideRequest struct {
	Decisions   []Decision   `json:"decisions"`
	Invitations []Invitation `json:"invitations,omitempty"`
}

// EventPeople is the answer of RouteEventPeople (whose body is a KeysRequest): for each key a
// campaign's events invited, the data of the latest such event still kept, where a follow-up
// reaches them; and of RouteWavePeople: the people invited in a wave, for its reminders.
type EventPeople struct {
	People map[string]map[string]string `json:"people"`
}

// MaxWavePeople is the most people one answer of RouteWavePeople lists: ask again with
// ?after= the last key for the next page.
const MaxWavePeople = 1000

// RetentionRegistration is the body of RoutePutRetention: a campaign's spec.retention, sent by
// the manager. Durations are Go duration strings; empty keeps for ever.
type RetentionRegistration struct {
	Namespace   string `json:"namespace"`
	Responses   string `json:"responses,omitempty"`
	Invitations string `json:"invitations,omitempty"`
	// Keep is what stays of a wave once its responses expired: KeepAggregates (when empty) or
	// KeepNothing.
	Keep string `json:"keep,omitempty"`
}

// What a RetentionRegistration keeps.
const (
	KeepAggregates = "Aggregates"
	KeepNothing    = "Nothing"
)

// FollowUpRegistration is the body of RoutePutFollowUp: a FollowUp's rule, sent by the manager.
// Durations are Go duration strings ("48h"); empty is none.
type FollowUpRegistration struct {
	Namespace     string   `json:"namespace"`
	Name          string   `json:"name"`
	CampaignUID   string   `json:"campaignUID"`
	Trigger       string   `json:"trigger"`
	When          string   `json:"when,omitempty"`
	After         string   `json:"after,omitempty"`
	Segments      []string `json:"segments,omitempty"`
	ContactWithin string   `json:"contactWithin,omitempty"`
	ResolveWithin string   `json:"resolveWithin,omitempty"`
	// TicketKey is the HMAC key of the ticket webhook (base64 in JSON), with which the helpdesk
	// signs its "resolved" callbacks.
	TicketKey []byte `json:"ticketKey,omitempty"`
	// Active is false when the FollowUp was deleted: no new cases, the history is kept.
	Active bool `json:"active"`
}

// CaseStats is the answer of RouteFollowUpStats and RouteSweepFollowUp; durations in seconds.
type CaseStats struct {
	Matched   int `json:"matched"`
	Contacted int `json:"contacted"`
	Resolved  int `json:"resolved"`
	ToContact int `json:"toContact"`
	Overdue   int `json:"overdue"`
	Breaches  int `json:"breaches"`
	// Opened is how many cases the sweep that came with this answer opened.
	Opened        int         `json:"opened,omitempty"`
	TimeToContact Percentiles `json:"timeToContact"`
	TimeToResolve Percentiles `json:"timeToResolve"`
}

// Percentiles summarises durations, in seconds.
type Percentiles struct {
	N             int     `json:"n"`
	MedianSeconds float64 `json:"medianSeconds"`
	P90Seconds    float64 `json:"p90Seconds"`
}

// Case is a case to contact, as the follow-up sender sees it.
type Case struct {
	CampaignUID  string     `json:"campaignUID"`
	WaveID       string     `json:"waveID"`
	RecipientKey string     `json:"recipientKey"`
	Segment      string     `json:"segment"`
	Channel      string     `json:"channel"`
	ContactDue   *time.Time `json:"contactDue,omitempty"`
}

// Cases lists cases: the answer of RouteCases and the body of RouteCasesContacted.
type Cases struct {
	Cases []Case `json:"cases"`
}

// InboundResponse is the body of RouteInbound: answers arriving through a channel gateway,
// such as an SMS reply. The gateway sends back the link token it was given with the
// invitation, names the channel, and signs the whole body with the channel's HMAC key in
// SignatureHeader, as the operator signs what it sends to gateways.
type InboundResponse struct {
	Token   string            `json:"token"`
	Channel string            `json:"channel"`
	Answers map[string]string `json:"answers"`
	// Reply is the person's message as they sent it, when the gateway has it. A reply that is a
	// stop word (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, in any case) opts the person out
	// of the namespace's surveys, and the answers are not recorded.
	Reply string `json:"reply,omitempty"`
}

// InboundResult answers an accepted inbound response.
type InboundResult struct {
	Saved    bool `json:"saved"`
	Complete bool `json:"complete"`
	// OptedOut is true when the reply was a stop word: the person is opted out.
	OptedOut bool `json:"optedOut,omitempty"`
}

// DeliveryEvent is the body of RouteDelivery: a gateway's delivery receipt for an invitation
// it was given, signed like inbound answers with the channel's key.
type DeliveryEvent struct {
	Token   string `json:"token"`
	Channel string `json:"channel"`
	// Event is "delivered", "deferred" (a temporary failure: the invitation stays possibly
	// delivered, and the next reminder tries again) or "bounced" (a permanent failure: the
	// invitation counts as not delivered, and no reminder follows it).
	Event string `json:"event"`
}

// CaseCallback is the body of RouteCaseCallback: a helpdesk says a ticket is resolved. It is
// signed like inbound answers (SignatureHeader) with the FollowUp's ticket key.
type CaseCallback struct {
	// CaseID is the case id the ticket webhook carried ({{ .CaseID }}).
	CaseID string `json:"caseId"`
	// TicketRef is the helpdesk's own reference, kept with the case.
	TicketRef string `json:"ticketRef,omitempty"`
}
