// Package store keeps the response service's data: wave snapshots, the invitation ledger,
// responses and their answers, opt-outs and follow-up cases. It is the only code that touches
// the database.
//
// Two databases sit behind one interface and pass one contract suite: SQLite (pure Go, WAL mode,
// synchronous=FULL), the embedded default for a single replica, and PostgreSQL for production
// and many replicas. The SQL is written once, portably; migrations are embedded and applied with
// goose. Times are stored as Unix microseconds, booleans as 0/1, so both databases hold the same
// values.
//
// Every write that acknowledges something to a caller (a response, a reservation, an opt-out)
// commits before it returns, and aggregates are computed in SQL, never by loading rows.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/surveyops/survey-operator/internal/scoring"
)

// Errors a caller can act on.
var (
	// ErrNotFound is a wave, invitation or response that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is a second, different snapshot for a wave that already has one: a wave's
	// questionnaire is fixed for its life.
	ErrConflict = errors.New("a different snapshot is already registered for this wave")
	// ErrWaveClosed is a response to a wave whose window has ended.
	ErrWaveClosed = errors.New("the wave is closed")
	// ErrNotSending is an invitation released (marked reserved again) that is not being sent.
	ErrNotSending = errors.New("only an invitation being sent can be released to reserved")
	// ErrAnswered is a second response to an anonymous wave: nothing links the first to the
	// person, so nothing could replace it.
	ErrAnswered = errors.New("this person has answered this anonymous survey already")
	// ErrReplay is a write carrying a signed request's signature already used (see Once).
	ErrReplay = errors.New("this signed request was already received")
	// ErrBadInput is a value the database refused as invalid input (see IsBadInput).
	ErrBadInput = errors.New("the database refused a value as invalid input")
)

// The rows' fields tagged `gate:"name"` are what the stores key and index rows by: the response
// service's gate (internal/gated.CheckRow) lets each through only empty or as a name (at most
// 253 bytes of text without control characters), one tagged `gate:"key"` only as a name, never
// empty, and every other string only as plain text.

// Once is the signature of the signed request that carries a write, remembered with the write
// until Until (when the request's timestamp would be refused anyway): another write carrying it
// before then is ErrReplay, and nothing is written. The zero Once is no signed request.
type Once struct {
	Signature string `gate:"name"`
	Until     time.Time
}

// Wave is the snapshot of a survey definition for one wave, registered by the manager when the
// wave starts.
type Wave struct {
	CampaignUID string `gate:"name"`
	WaveID      string `gate:"name"`
	Namespace   string `gate:"name"`
	Campaign    string `gate:"name"`
	// Definition is the survey as the wave asks it (JSON); the store keeps it as it is.
	Definition []byte
	// PrimaryQuestion is the id of the question drivers are correlated with; answers record
	// their respondent's answer to it, so that Summarize needs no join for it.
	PrimaryQuestion string `gate:"name"`
	// ChannelKeys are the HMAC keys of the wave's webhook channels, by channel name, which
	// authenticate answers arriving from a gateway. Each PutWave replaces them, so keys rotate.
	ChannelKeys map[string][]byte `gate:"name"`
	OpensAt     time.Time
	ClosesAt    time.Time
	// Anonymous waves keep no answer linked to its author (anonymous.go).
	Anonymous bool
}

// InvitationState is where an invitation is in the ledger.
type InvitationState string

const (
	// StateReserved is recorded before sending; a sender that dies leaves it reserved.
	StateReserved InvitationState = "reserved"
	// StateSending is set just before the channel is called: a sender that dies leaves only the
	// invitations it was actually sending in this state, and only those are ambiguous.
	StateSending InvitationState = "sending"
	// StateSent is accepted by the channel.
	StateSent InvitationState = "sent"
	// StateFailed is refused by the channel (permanently, or after retries).
	StateFailed InvitationState = "failed"
	// StateBounced was accepted, then reported undeliverable.
	StateBounced InvitationState = "bounced"
	// StateUnknown was reserved by a sender that died mid-send, on a channel that cannot tell
	// whether the message went: counted as possibly sent, never sent again.
	StateUnknown InvitationState = "unknown"
)

// InvitationKey identifies one message: an invitation (round 0) or a reminder (round n).
type InvitationKey struct {
	CampaignUID  string `gate:"name"`
	WaveID       string `gate:"name"`
	RecipientKey string `gate:"name"`
	Round        int
}

// Outcome is a state to record for one invitation.
type Outcome struct {
	Key    InvitationKey
	State  InvitationState
	Reason string
}

// Invitation is one row of the ledger.
type Invitation struct {
	InvitationKey
	Namespace  string `gate:"name"`
	Segment    string `gate:"name"`
	Channel    string `gate:"name"`
	State      InvitationState
	Attempts   int
	Reason     string
	ReservedAt time.Time
	SentAt     time.Time // zero until sent
	UpdatedAt  time.Time
}

// Answer is the answer to one question. Value holds a scale point, or a choice's index; Text a
// free-text answer. NotApplicable marks "don't know" or "not applicable". A question left
// unanswered has no Answer.
type Answer struct {
	Question      string `gate:"name"`
	Value         *int
	Text          string
	NotApplicable bool
}

// Response is one person's answers to one wave.
type Response struct {
	CampaignUID  string `gate:"name"`
	WaveID       string `gate:"name"`
	RecipientKey string `gate:"name"`
	Namespace    string `gate:"name"`
	Segment      string `gate:"name"`
	Channel      string `gate:"name"`
	// Complete is true when every required question is answered; otherwise it is a partial.
	Complete bool
	// Language is the language the person answered in (BCP 47; "" when not known, as from a
	// gateway). A re-submission records the language of the latest.
	Language string `gate:"name"`
	Answers  []Answer
	// Cases are the follow-up cases the response opens (its FollowUp, due times), recorded in
	// the same transaction; a case already open for the person is left as it is. Their key's
	// campaign, wave and person, and their segment and channel, are the response's.
	Cases []Case
	// Once is the gateway's signed request that carried the response, if it came from one.
	Once        Once
	SubmittedAt time.Time // the first submission
	UpdatedAt   time.Time // the latest
}

// ExportedResponse is one person's response to a wave, as an export reads it. RecipientKey is
// for the caller to turn into a pseudonym: an export never shows it.
type ExportedResponse struct {
	RecipientKey           string
	Segment, Channel       string
	Language               string
	Complete               bool
	SubmittedAt, UpdatedAt time.Time
	Answers                []Answer
}

// FollowUpRule is a FollowUp as the response service applies it, registered by the manager.
type FollowUpRule struct {
	UID, Namespace, Name, CampaignUID string `gate:"name"`
	// Trigger is "Response" (a response for which When is true) or "NonResponse" (no response
	// After the invitation was sent).
	Trigger string
	When    string
	After   time.Duration
	// Segments limit the rule to these segments; empty is all.
	Segments []string `gate:"name"`
	// ContactWithin and ResolveWithin set a case's due times from its opening; zero is none.
	ContactWithin, ResolveWithin time.Duration
	// TicketKey is the HMAC key of the FollowUp's ticket webhook: the helpdesk signs its
	// "resolved" callbacks with it. Empty when there is no ticket webhook.
	TicketKey []byte
	// Active is false once the FollowUp is deleted: no new cases, and the history is kept.
	Active bool
	// Created is when the rule was first registered: a NonResponse rule opens cases only for
	// invitations sent since.
	Created time.Time
}

// CaseKey identifies a follow-up case: one per FollowUp and person in a wave.
type CaseKey struct {
	FollowUpUID, CampaignUID, WaveID, RecipientKey string `gate:"name"`
}

// Case is one person followed up. Zero times are "not yet" (or "no due time").
type Case struct {
	CaseKey
	Namespace, Segment, Channel string `gate:"name"`
	OpenedAt                    time.Time
	ContactDue, ResolveDue      time.Time
	ContactedAt, ResolvedAt     time.Time
	TicketRef                   string
}

// Percentiles summarise durations: N of them, their median and 90th percentile (nearest rank).
type Percentiles struct {
	N           int
	Median, P90 time.Duration
}

// CaseStats are a FollowUp's cases in figures, computed in SQL.
type CaseStats struct {
	Matched, Contacted, Resolved int
	// ToContact counts open cases not contacted yet.
	ToContact int
	// Overdue counts cases past a due time now: not contacted by contactWithin, or not resolved
	// by resolveWithin.
	Overdue int
	// Breaches counts cases whose service standard was missed, now or before.
	Breaches                     int
	TimeToContact, TimeToResolve Percentiles
}

// WaveCases are one FollowUp's cases of one wave, counted as CaseStats counts them.
type WaveCases struct {
	FollowUpUID, FollowUp                           string
	Matched, Contacted, Resolved, Overdue, Breaches int
}

// Group names the cell of a breakdown; the zero Group is the whole wave.
type Group struct {
	Segment string
	Channel string
}

// HistogramRow counts answers of one question in one segment and channel: Value is the scale
// point or choice index, or nil for "don't know / not applicable" (NotApplicable).
type HistogramRow struct {
	Question      string
	Group         Group
	Value         *int
	NotApplicable bool
	Count         int
}

// Summary is a wave's aggregate, computed in SQL.
// WaveRef names a wave.
type WaveRef struct {
	CampaignUID, WaveID string `gate:"name"`
}

// FrameCounts are one segment's frame in a wave: the people the segment matched in the audience
// before sampling (Population), those no channel could reach, those sampled, and those left
// out of the invitations because they opted out or were contacted recently.
type FrameCounts struct {
	Population, Unreachable, Sampled, OptedOut, ContactedRecently int
}

type Summary struct {
	// Dispositions by segment and channel of the invitation (round 0); sum them for totals.
	Dispositions map[Group]scoring.Dispositions
	// Responded counts responses by the segment and channel they came through.
	Responded map[Group]int
	// Languages counts responses by the language they were given in ("" when not known).
	Languages map[string]int
	// Histograms of the scale and choice questions, by segment and channel.
	Histograms []HistogramRow
	// Pairs holds, for every scale question, its sufficient statistics with the primary
	// question over the responses that answered both on the scale.
	Pairs map[string]scoring.PairStats
	// Frame is each segment's frame, as the senders recorded it (empty before they have).
	Frame map[string]FrameCounts
}

// Store is the response service's data.
type Store interface {
	// PutWave registers a wave's snapshot. Registering the same snapshot again is a no-op; a
	// different one is ErrConflict.
	PutWave(ctx context.Context, w Wave) error
	// GetWave returns a wave's snapshot (without its channel keys), or ErrNotFound.
	GetWave(ctx context.Context, campaignUID, waveID string) (Wave, error)
	// ChannelKey returns the HMAC key of one of a wave's channels, or ErrNotFound.
	ChannelKey(ctx context.Context, campaignUID, waveID, channel string) ([]byte, error)

	// Reserve records invitations before they are sent. Rows that exist already are left as
	// they are; every row is returned as stored, so a retried sender sees what was sent.
	Reserve(ctx context.Context, invs []Invitation, now time.Time) ([]Invitation, error)
	// Mark records the outcome of a send: sending, sent, failed, bounced or unknown, with a
	// reason code; or reserved, releasing an invitation being sent that the channel certainly
	// did not take (refused for now, or unreachable), to be tried again (ErrNotSending when it
	// is not being sent).
	Mark(ctx context.Context, key InvitationKey, state InvitationState, reason string, now time.Time) error
	// RecordSigned remembers a signed request that writes nothing of its own (a delivery
	// receipt), so that its signature, like every other, is refused as ErrReplay on any signed
	// route until it expires.
	RecordSigned(ctx context.Context, once Once, now time.Time) error
	// MarkMany records several outcomes in one transaction; a missing invitation is ErrNotFound
	// and nothing is recorded.
	MarkMany(ctx context.Context, outcomes []Outcome, now time.Time) error
	// Contacted returns which of keys were sent something in the namespace at or after since,
	// by another wave than except (a rerun of a wave's sender sees its own invitations as
	// already sent, not as recent contacts; the zero WaveRef excludes nothing).
	Contacted(ctx context.Context, namespace string, keys []string, since time.Time, except WaveRef) (map[string]bool, error)

	// Unanswered returns which of keys are due a reminder in a wave: their invitation (round 0)
	// was sent, or possibly sent (unknown), and they have not responded.
	Unanswered(ctx context.Context, campaignUID, waveID string, keys []string) (map[string]bool, error)

	// OptOut records that a person wants no more contact in a namespace.
	OptOut(ctx context.Context, namespace, recipientKey string, now time.Time) error
	// OptedOut returns which of keys opted out in the namespace.
	OptedOut(ctx context.Context, namespace string, keys []string) (map[string]bool, error)
	// Suppressed returns, for those of keys that have any, the channels through which an
	// invitation to them bounced in the namespace (MarkMany suppresses them as it records a
	// bounce).
	Suppressed(ctx context.Context, namespace string, keys []string) (map[string][]string, error)

	// PutFrame records the frame a sending Job's shard (of shards) counted for a wave, by
	// segment, replacing what that shard, and any shard past shards, recorded before. A wave
	// never registered is ErrNotFound.
	PutFrame(ctx context.Context, campaignUID, waveID string, shard, shards int, frame map[string]FrameCounts) error

	// SaveResponse stores a response, durably, before it returns. A second submission for the
	// same person and wave replaces the answers while the wave is open (created is false); after
	// the wave closes it is ErrWaveClosed. A wave never registered is ErrNotFound.
	SaveResponse(ctx context.Context, r Response, now time.Time) (created bool, err error)
	// GetResponse returns a stored response, or ErrNotFound.
	GetResponse(ctx context.Context, campaignUID, waveID, recipientKey string) (Response, error)

	// PutFollowUp registers or updates a FollowUp's rule.
	PutFollowUp(ctx context.Context, rule FollowUpRule, now time.Time) error
	// GetFollowUp returns a registered rule, active or not, or ErrNotFound.
	GetFollowUp(ctx context.Context, uid string) (FollowUpRule, error)
	// FollowUpRules returns the active rules of a campaign, shared (the caller must not change
	// them). A change made through this store is seen at once; one made through another process
	// on the same database, within a few seconds.
	FollowUpRules(ctx context.Context, campaignUID string) ([]FollowUpRule, error)
	// OpenNonResponseCases opens a case for each person invited (round 0, sent or possibly
	// sent) since the rule was created, at least rule.After ago, who has not responded or opted
	// out; it returns how many it opened.
	OpenNonResponseCases(ctx context.Context, rule FollowUpRule, now time.Time) (int, error)
	// CasesToContact returns up to limit open cases not yet contacted, oldest first.
	CasesToContact(ctx context.Context, followUpUID string, limit int) ([]Case, error)
	// MarkContacted records that cases were contacted (the first time counts).
	MarkContacted(ctx context.Context, keys []CaseKey, now time.Time) error
	// ResolveCase records that a case is resolved (the first time counts), or ErrNotFound; once
	// is the helpdesk's signed request, if it came from one.
	ResolveCase(ctx context.Context, key CaseKey, ticketRef string, once Once, now time.Time) error
	// GetCase returns a case, or ErrNotFound.
	GetCase(ctx context.Context, key CaseKey) (Case, error)
	// CaseStats sums up a FollowUp's cases at now.
	CaseStats(ctx context.Context, followUpUID string, now time.Time) (CaseStats, error)
	// WaveCases sums up a wave's cases at now, by FollowUp (in name order).
	WaveCases(ctx context.Context, campaignUID, waveID string, now time.Time) ([]WaveCases, error)

	// Summarize aggregates a wave; primary names the question the drivers are correlated with.
	Summarize(ctx context.Context, campaignUID, waveID, primary string) (Summary, error)
	// ExportResponses calls fn with each response to a wave, in the order of the people's
	// keys, reading them as it goes: memory does not grow with the wave. fn must not keep the
	// response (its answers are reused); an error from fn stops it and is returned.
	ExportResponses(ctx context.Context, campaignUID, waveID string, fn func(ExportedResponse) error) error
	// ExportComments calls fn with each written answer to an anonymous wave, in an order that
	// says nothing about when it was written (its random id's).
	ExportComments(ctx context.Context, campaignUID, waveID string, fn func(Comment) error) error
	// ExportKey is the campaign's pseudonym key, made (32 random bytes) the first time it is
	// asked for; it never leaves the store but through this.
	ExportKey(ctx context.Context, campaignUID string) ([]byte, error)

	// PutRetention registers or replaces a campaign's retention (retention.go).
	PutRetention(ctx context.Context, campaignUID string, r Retention, now time.Time) error
	// GetRetention returns a campaign's registered retention, or ErrNotFound.
	GetRetention(ctx context.Context, campaignUID string) (Retention, error)
	// Expire deletes, at now, what has outlived its campaign's retention: each wave's
	// responses, answers and cases, and its invitations, their own time after the wave closed,
	// keeping the wave's aggregates unless the campaign drops them too. A few hundred people's
	// rows go per transaction, so other writers wait little; a call cut short is finished by the
	// next. Touch-point events go EventRetention after they were received.
	Expire(ctx context.Context, now time.Time) (Expired, error)

	// PutEvents stores a namespace's touch-point events in one transaction, each once (by
	// source and id: a repeated delivery changes nothing), and returns how many were new. When
	// it returns nil, every event is durably stored.
	PutEvents(ctx context.Context, namespace string, events []Event, now time.Time) (created int, err error)
	// Events lists a namespace's events received at or after since, oldest first, at most
	// limit.
	Events(ctx context.Context, namespace string, since time.Time, limit int) ([]Event, error)
	// PutTouchPoints registers or replaces which events a touch-point campaign takes, and when
	// they fall due (touchpoints.go).
	PutTouchPoints(ctx context.Context, tp TouchPoints, now time.Time) error
	// TakenTypes lists the event types the namespace's touch-point campaigns take.
	TakenTypes(ctx context.Context, namespace string) ([]EventType, error)
	// DueEvents lists up to limit of a campaign's events due at now and not yet done with (not
	// decided, or decided to invite with the invitation still reserved or being sent), the
	// earliest due first; a campaign not registered in the namespace is ErrNotFound.
	DueEvents(ctx context.Context, namespace, campaignUID string, now time.Time, limit int) ([]DueEvent, error)
	// DueTouchPoints counts a campaign's undecided events due at now, and finds when the next
	// falls due; a campaign not registered in the namespace is ErrNotFound.
	DueTouchPoints(ctx context.Context, namespace, campaignUID string, now time.Time) (TouchPointsDue, error)
	// Decide records a campaign's decisions about events, each once (a decision made already
	// stays as it is), and reserves the invitations they made, as Reserve does, in the same
	// transaction: a decided event is never due again. The invitations must be the campaign's,
	// in the namespace; a campaign not registered in it is ErrNotFound.
	// EventPeople returns, for those of keys a campaign's events invited, the data of the
	// latest such event still kept (EventRetention): where a follow-up reaches them.
	EventPeople(ctx context.Context, namespace, campaignUID string, keys []string) (map[string]map[string]string, error)
	// WavePeople returns the people a campaign's events invited in a wave, with the data of
	// (one of) the events that did, a page at a time: at most limit, in the order of their keys,
	// after the key after ("" for the first page). A reminder round reaches them so.
	WavePeople(ctx context.Context, namespace, campaignUID, waveID, after string, limit int) (map[string]map[string]string, error)
	Decide(ctx context.Context, namespace, campaignUID string, decisions []Decision, invs []Invitation, now time.Time) ([]Invitation, error)

	// Erase deletes every record of one person (by their key, the audience id) in a namespace,
	// in one transaction: invitations, responses and their answers, follow-up cases, touch-point
	// events any field of which is the key, opt-out and bounce suppressions. The aggregates lose what the person counted in them. An opt-out or a
	// bounce is kept under a hash of the key, and still honoured; an entry in the erasure log
	// records that an erasure happened, and when, not whom or what. Erasing someone unknown
	// erases nothing and is logged too.
	Erase(ctx context.Context, namespace, recipientKey string, now time.Time) (Erasure, error)
	// Erasures is a namespace's erasure log, oldest first.
	Erasures(ctx context.Context, namespace string) ([]ErasureEntry, error)

	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Open opens the store a URL names and applies pending migrations:
// sqlite:///var/lib/survey/survey.db (an absolute path), sqlite://survey.db (relative), or
// postgres://user:password@host:5432/db?sslmode=... .
func Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	switch u.Scheme {
	case "sqlite":
		path := u.Host + u.Path
		if path == "" {
			return nil, fmt.Errorf("store URL %q names no database file", rawURL)
		}
		return openSQLite(ctx, path)
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	}
	return nil, fmt.Errorf("store URL %q: use sqlite:///path/to/file.db or a postgres:// URL", redact(rawURL))
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
