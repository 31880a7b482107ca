package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Touch-point campaigns (docs/touchpoints.md). The manager registers which events a campaign
// takes (PutTouchPoints); the response service then stores only events some campaign of their
// namespace takes (TakenTypes). An event falls due for a campaign its delay after it happened
// (its time, or when it was received if it has none or says a later time), and a sending Job
// asks for what is due (DueEvents), places each event's person, and records its decision about
// each event in the same transaction as the invitations it makes (Decide): a decided event is
// never due again, so an event invites at most once, whatever is retried.

// EventType is an event type a touch-point campaign takes, from one source or (Source "") any.
type EventType struct {
	Type   string `gate:"key"`
	Source string `gate:"name"`
}

// TouchPoints is a campaign fed by touch-point events, as the manager registers it.
type TouchPoints struct {
	// CampaignUID and Namespace are required (ErrBadInput when empty).
	CampaignUID, Namespace, Campaign string `gate:"name"`
	// Types are the events it takes; none stops it taking any.
	Types []EventType
	// Delay is how long after an event it falls due; an event older than MaxAge when it falls
	// due invites nobody.
	Delay, MaxAge time.Duration
}

// DueEvent is an event due for a campaign, not yet decided (or decided to invite, and the
// invitation not yet sent).
type DueEvent struct {
	Event
	// Due is when it fell due.
	Due time.Time
	// TooOld is an event that happened more than the campaign's MaxAge ago: it invites nobody.
	TooOld bool
	// WaveID, RecipientKey and Segment are, for an event decided already to invite whose
	// invitation is still reserved or being sent (a stopped sender's), that invitation: the
	// next sender resumes it, as it is, without deciding again.
	WaveID, RecipientKey, Segment string
}

// TouchPointsDue is where a campaign's events stand at a time: how many are due and not yet
// done with, when the first of them fell due, and when the next one falls due (zero: none is
// waiting).
type TouchPointsDue struct {
	Due int
	// First is when the earliest of those due fell due (zero: none is due).
	First, Next time.Time
}

// EventOutcome is what became of an event a campaign took.
type EventOutcome string

// The outcomes of an event. Only OutcomeInvited names the person.
const (
	// OutcomeInvited made an invitation (or found the person's invitation of that wave made).
	OutcomeInvited EventOutcome = "invited"
	// OutcomeNoSegment: no segment of the campaign matched the event.
	OutcomeNoSegment EventOutcome = "no-segment"
	// OutcomeNotSampled: the segment's sample left it out.
	OutcomeNotSampled EventOutcome = "not-sampled"
	// OutcomeUnreachable: no contact for the segment's channels.
	OutcomeUnreachable EventOutcome = "unreachable"
	// OutcomeOptedOut: the person opted out.
	OutcomeOptedOut EventOutcome = "opted-out"
	// OutcomeContacted: the person was contacted recently (contactedWithin), or is already
	// invited in this wave by another event.
	OutcomeContacted EventOutcome = "contacted"
	// OutcomeTooOld: the event was older than the campaign's maxAge when it fell due.
	OutcomeTooOld EventOutcome = "too-old"
	// OutcomeInvalid: the event's data does not place a person (no id, no contact).
	OutcomeInvalid EventOutcome = "invalid"
)

var eventOutcomes = map[EventOutcome]bool{OutcomeInvited: true, OutcomeNoSegment: true, OutcomeNotSampled: true, OutcomeUnreachable: true,
	OutcomeOptedOut: true, OutcomeContacted: true, OutcomeTooOld: true, OutcomeInvalid: true}

// EventOutcomes are the outcomes Decide records, sorted.
func EventOutcomes() []EventOutcome {
	return slices.Sorted(maps.Keys(eventOutcomes))
}

// Decision is a campaign's decision about one event.
type Decision struct {
	Source, ID string `gate:"key"`
	Outcome    EventOutcome
	// Due is when the event fell due (DueEvent.Due): the period it is counted in.
	Due time.Time
	// WaveID and RecipientKey are the invitation an invited event made; empty otherwise.
	WaveID, RecipientKey string `gate:"name"`
	// Segment is the segment that placed the person, when one did.
	Segment string `gate:"name"`
	// Attributes are the event's fields the campaign breaks its results down by.
	Attributes map[string]string
}

// errNotRegistered is a campaign never registered as taking touch-point events.
var errNotRegistered = fmt.Errorf("touch-point campaign: %w", ErrNotFound)

func (s *sqlStore) PutTouchPoints(ctx context.Context, tp TouchPoints, now time.Time) error {
	if tp.CampaignUID == "" || tp.Namespace == "" {
		return fmt.Errorf("touch points: a campaign uid and a namespace: %w", ErrBadInput)
	}
	if tp.Delay < 0 || tp.MaxAge <= 0 {
		return fmt.Errorf("touch points: a delay of at least 0 and a maxAge above 0: %w", ErrBadInput)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO touch_campaigns (campaign_uid, namespace, campaign, delay, max_age, registered_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_uid) DO UPDATE SET namespace = excluded.namespace,
			campaign = excluded.campaign, delay = excluded.delay, max_age = excluded.max_age`),
			tp.CampaignUID, tp.Namespace, tp.Campaign, tp.Delay.Microseconds(), tp.MaxAge.Microseconds(), micros(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM touch_types WHERE campaign_uid = $1`), tp.CampaignUID); err != nil {
			return err
		}
		for _, t := range tp.Types {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO touch_types (campaign_uid, namespace, type, source) VALUES ($1, $2, $3, $4)
				ON CONFLICT (campaign_uid, type, source) DO NOTHING`), tp.CampaignUID, tp.Namespace, t.Type, t.Source); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqlStore) TakenTypes(ctx context.Context, namespace string) ([]EventType, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT type, source FROM touch_types WHERE namespace = $1 ORDER BY type, source`), namespace)
	if err != nil {
		return nil, err
	}
	var out []EventType
	for rows.Next() {
		var t EventType
		if err := rows.Scan(&t.Type, &t.Source); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, t)
	}
	return out, closeRows(rows)
}

// Takes says whether an event of this type and source is one of types.
func Takes(types []EventType, typ, source string) bool {
	for _, t := range types {
		if t.Type == typ && (t.Source == "" || t.Source == source) {
			return true
		}
	}
	return false
}

// undecided is the SQL selecting a campaign's ($1) events not yet done with, received since an
// event could still be young enough ($2 is now): each with its time (at) and due time (due).
// An event's time is its own unless it has none, or says a time after it was received. An event
// is done with once decided, unless it invited someone and the invitation is still reserved or
// being sent: a sender that died after deciding left it so, and the next one sends it (the
// ledger then says whether it may have gone, as for a list's rerun).
const undecided = `SELECT e.source, e.event_id, e.type, e.subject, e.event_time, e.received_at, e.fields,
		e.at + c.delay AS due, CASE WHEN e.at < $2 - c.max_age THEN 1 ELSE 0 END AS too_old,
		COALESCE(d.wave_id, '') AS wave_id, COALESCE(d.recipient_key, '') AS recipient_key, COALESCE(d.segment, '') AS segment
	FROM touch_campaigns c JOIN (SELECT namespace, source, event_id, type, subject, event_time, received_at, fields,
		CASE WHEN event_time = 0 OR event_time > received_at THEN received_at ELSE event_time END AS at FROM touch_events) e
		ON e.namespace = c.namespace
	LEFT JOIN touch_decisions d ON d.campaign_uid = c.campaign_uid AND d.source = e.source AND d.event_id = e.event_id
	WHERE c.campaign_uid = $1 AND e.received_at >= $2 - c.max_age
		AND EXISTS (SELECT 1 FROM touch_types t WHERE t.campaign_uid = c.campaign_uid AND t.type = e.type AND (t.source = '' OR t.source = e.source))
		AND (d.campaign_uid IS NULL OR d.outcome = 'invited' AND EXISTS (SELECT 1 FROM invitations i WHERE i.campaign_uid = d.campaign_uid
			AND i.wave_id = d.wave_id AND i.recipient_key = d.recipient_key AND i.round = 0 AND i.state IN ('reserved', 'sending')))`

// registered is nil when a campaign is registered in the namespace, errNotRegistered when it
// is not (in another namespace too: a caller scoped to one namespace learns nothing of others).
func (s *sqlStore) registered(ctx context.Context, namespace, campaignUID string) error {
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM touch_campaigns WHERE campaign_uid = $1 AND namespace = $2`), campaignUID, namespace).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotRegistered
	}
	return err
}

func (s *sqlStore) DueEvents(ctx context.Context, namespace, campaignUID string, now time.Time, limit int) ([]DueEvent, error) {
	if err := s.registered(ctx, namespace, campaignUID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT * FROM (`+undecided+`) u WHERE due <= $2 ORDER BY due, source, event_id LIMIT $3`),
		campaignUID, micros(now), limit)
	if err != nil {
		return nil, err
	}
	var out []DueEvent
	for rows.Next() {
		var e DueEvent
		var at, received, due int64
		var tooOld int
		var fields string
		if err := rows.Scan(&e.Source, &e.ID, &e.Type, &e.Subject, &at, &received, &fields, &due, &tooOld, &e.WaveID, &e.RecipientKey, &e.Segment); err != nil {
			rows.Close()
			return nil, err
		}
		if at != 0 {
			e.Time = fromMicros(at)
		}
		e.ReceivedAt, e.Due, e.TooOld = fromMicros(received), fromMicros(due), tooOld == 1
		if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, closeRows(rows)
}

func (s *sqlStore) DueTouchPoints(ctx context.Context, namespace, campaignUID string, now time.Time) (TouchPointsDue, error) {
	if err := s.registered(ctx, namespace, campaignUID); err != nil {
		return TouchPointsDue{}, err
	}
	var out TouchPointsDue
	var first, next sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(CASE WHEN due <= $2 THEN 1 END), MIN(CASE WHEN due <= $2 THEN due END),
		MIN(CASE WHEN due > $2 THEN due END) FROM (`+undecided+`) u`), campaignUID, micros(now)).Scan(&out.Due, &first, &next)
	if first.Valid {
		out.First = fromMicros(first.Int64)
	}
	if next.Valid {
		out.Next = fromMicros(next.Int64)
	}
	return out, err
}

func (s *sqlStore) Decide(ctx context.Context, namespace, campaignUID string, decisions []Decision, invs []Invitation, now time.Time) ([]Invitation, error) {
	for i, d := range decisions {
		invited := d.Outcome == OutcomeInvited
		switch {
		case !eventOutcomes[d.Outcome]:
			return nil, fmt.Errorf("decisions[%d].outcome is not an outcome: %w", i, ErrBadInput)
		case invited && (d.WaveID == "" || d.RecipientKey == ""):
			return nil, fmt.Errorf("decisions[%d]: an invited event names its wave and person: %w", i, ErrBadInput)
		case !invited && (d.WaveID != "" || d.RecipientKey != ""):
			return nil, fmt.Errorf("decisions[%d]: an event that invited nobody names no wave or person: %w", i, ErrBadInput)
		}
	}
	for i, inv := range invs {
		if inv.CampaignUID != campaignUID || inv.Namespace != namespace {
			return nil, fmt.Errorf("invitations[%d] is another campaign's: %w", i, ErrBadInput)
		}
	}
	if err := s.registered(ctx, namespace, campaignUID); err != nil {
		return nil, err
	}
	var out []Invitation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.prepare(ctx, tx, `INSERT INTO touch_decisions (campaign_uid, source, event_id, outcome, due_at, decided_at, wave_id, recipient_key, segment, attributes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (campaign_uid, source, event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range decisions {
			attrs, err := json.Marshal(d.Attributes)
			if err != nil {
				return err
			}
			if d.Attributes == nil {
				attrs = []byte("{}")
			}
			if _, err := st.ExecContext(ctx, campaignUID, d.Source, d.ID, string(d.Outcome), micros(d.Due), micros(now), d.WaveID, d.RecipientKey, d.Segment, string(attrs)); err != nil {
				return err
			}
		}
		out, err = s.reserve(ctx, tx, invs, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eraseDecisions deletes, in an erasure's transaction, the decisions naming the person in the
// namespace's touch-point campaigns: counted in n.
func (s *sqlStore) eraseDecisions(ctx context.Context, tx *sql.Tx, namespace, recipientKey string, n *int64) error {
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM touch_decisions WHERE recipient_key = $2
		AND campaign_uid IN (SELECT campaign_uid FROM touch_campaigns WHERE namespace = $1)`), namespace, recipientKey)
	return count(res, err, n)
}

func (s *sqlStore) EventPeople(ctx context.Context, namespace, campaignUID string, keys []string) (map[string]map[string]string, error) {
	if err := s.registered(ctx, namespace, campaignUID); err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	latest := map[string]int64{}
	for start := 0; start < len(keys); start += keyBatch {
		q, args := inList(`SELECT d.recipient_key, d.due_at, e.fields FROM touch_decisions d
			JOIN touch_events e ON e.namespace = $2 AND e.source = d.source AND e.event_id = d.event_id
			WHERE d.campaign_uid = $1 AND d.outcome = 'invited' AND d.recipient_key IN`, []any{campaignUID, namespace}, keys[start:min(start+keyBatch, len(keys))])
		rows, err := s.db.QueryContext(ctx, s.q(q), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var key, raw string
			var due int64
			if err := rows.Scan(&key, &due, &raw); err != nil {
				rows.Close()
				return nil, err
			}
			if at, seen := latest[key]; seen && at >= due {
				continue
			}
			var fields map[string]string
			if err := json.Unmarshal([]byte(raw), &fields); err != nil {
				rows.Close()
				return nil, err
			}
			out[key], latest[key] = fields, due
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *sqlStore) WavePeople(ctx context.Context, namespace, campaignUID, waveID, after string, limit int) (map[string]map[string]string, error) {
	if err := s.registered(ctx, namespace, campaignUID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.recipient_key, d.due_at, e.fields FROM touch_decisions d
		JOIN touch_events e ON e.namespace = $2 AND e.source = d.source AND e.event_id = d.event_id
		WHERE d.campaign_uid = $1 AND d.wave_id = $3 AND d.outcome = 'invited' AND d.recipient_key > $4
		ORDER BY d.recipient_key, d.due_at LIMIT $5`), campaignUID, namespace, waveID, after, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for rows.Next() {
		var key, raw string
		var due int64
		if err := rows.Scan(&key, &due, &raw); err != nil {
			rows.Close()
			return nil, err
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			rows.Close()
			return nil, err
		}
		out[key] = fields // the latest of the person's events in the wave, by the order
	}
	return out, closeRows(rows)
}
