package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// optionalMicros stores a zero time as NULL.
func optionalMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func fromOptional(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// dueAfter is the due time d after t, or zero when there is no standard.
func dueAfter(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return t.Add(d)
}

func (s *sqlStore) PutFollowUp(ctx context.Context, r FollowUpRule, now time.Time) error {
	switch r.Trigger {
	case "Response", "NonResponse":
	default:
		return fmt.Errorf("unknown trigger %q", r.Trigger)
	}
	defer s.forgetRules()
	return s.writing(func() error {
		_, err := s.db.ExecContext(ctx, s.q(`
			INSERT INTO followups (followup_uid, namespace, name, campaign_uid, trigger_type, trigger_when, trigger_after,
				segments, contact_within, resolve_within, active, ticket_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, $12, $12)
			ON CONFLICT (followup_uid) DO UPDATE SET namespace = excluded.namespace, name = excluded.name,
				campaign_uid = excluded.campaign_uid, trigger_type = excluded.trigger_type, trigger_when = excluded.trigger_when,
				trigger_after = excluded.trigger_after, segments = excluded.segments, contact_within = excluded.contact_within,
				resolve_within = excluded.resolve_within, active = excluded.active, ticket_key = excluded.ticket_key,
				updated_at = excluded.updated_at`),
			r.UID, r.Namespace, r.Name, r.CampaignUID, r.Trigger, r.When, r.After.Microseconds(), strings.Join(r.Segments, ","),
			r.ContactWithin.Microseconds(), r.ResolveWithin.Microseconds(), boolInt(r.Active), micros(now), hex.EncodeToString(r.TicketKey))
		return err
	})
}

const followUpColumns = `followup_uid, namespace, name, campaign_uid, trigger_type, trigger_when, trigger_after, segments,
	contact_within, resolve_within, active, created_at, ticket_key`

func scanFollowUp(row interface{ Scan(...any) error }) (FollowUpRule, error) {
	var r FollowUpRule
	var after, contact, resolve, created int64
	var segments, ticketKey string
	var active int
	if err := row.Scan(&r.UID, &r.Namespace, &r.Name, &r.CampaignUID, &r.Trigger, &r.When, &after, &segments,
		&contact, &resolve, &active, &created, &ticketKey); err != nil {
		return r, err
	}
	key, err := hex.DecodeString(ticketKey)
	if err != nil {
		return r, fmt.Errorf("a follow-up's ticket key: %w", err)
	}
	if len(key) > 0 {
		r.TicketKey = key
	}
	r.After, r.ContactWithin, r.ResolveWithin = time.Duration(after)*time.Microsecond, time.Duration(contact)*time.Microsecond,
		time.Duration(resolve)*time.Microsecond
	if segments != "" {
		r.Segments = strings.Split(segments, ",")
	}
	r.Active, r.Created = active == 1, fromMicros(created)
	return r, nil
}

func (s *sqlStore) GetFollowUp(ctx context.Context, uid string) (FollowUpRule, error) {
	r, err := scanFollowUp(s.db.QueryRowContext(ctx, s.q(`SELECT `+followUpColumns+` FROM followups WHERE followup_uid = $1`), uid))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// rulesTTL is how long a campaign's rules are served from memory: every response reads them,
// and they change seldom. A change through this store is seen at once; one through another
// replica of the service, within rulesTTL.
const rulesTTL = 2 * time.Second

// maxCachedRules bounds the campaigns whose rules are held; past it, the cache starts again.
const maxCachedRules = 4096

type cachedRules struct {
	rules []FollowUpRule
	until time.Time
}

func (s *sqlStore) FollowUpRules(ctx context.Context, campaignUID string) ([]FollowUpRule, error) {
	s.rulesMu.Lock()
	c, ok := s.rules[campaignUID]
	generation := s.rulesGeneration
	s.rulesMu.Unlock()
	if ok && time.Now().Before(c.until) {
		return c.rules, nil
	}
	rules, err := s.readFollowUpRules(ctx, campaignUID)
	if err != nil {
		return nil, err
	}
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	if generation == s.rulesGeneration { // no rule changed while they were read
		if s.rules == nil || len(s.rules) >= maxCachedRules {
			s.rules = map[string]cachedRules{}
		}
		s.rules[campaignUID] = cachedRules{rules, time.Now().Add(rulesTTL)}
	}
	return rules, nil
}

// forgetRules drops the cached rules after a change.
func (s *sqlStore) forgetRules() {
	s.rulesMu.Lock()
	s.rules = nil
	s.rulesGeneration++
	s.rulesMu.Unlock()
}

func (s *sqlStore) readFollowUpRules(ctx context.Context, campaignUID string) ([]FollowUpRule, error) {
	rows, err := s.query(ctx, `SELECT `+followUpColumns+` FROM followups WHERE campaign_uid = $1 AND active = 1 ORDER BY followup_uid`, campaignUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FollowUpRule
	for rows.Next() {
		r, err := scanFollowUp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// insertCases opens cases in a transaction; one already open is left as it is.
func (s *sqlStore) insertCases(ctx context.Context, tx *sql.Tx, cases []Case) error {
	if len(cases) == 0 {
		return nil
	}
	insert, err := s.prepare(ctx, tx, `
		INSERT INTO followup_cases (followup_uid, campaign_uid, wave_id, recipient_key, namespace, segment, channel,
			opened_at, contact_due, resolve_due)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (followup_uid, campaign_uid, wave_id, recipient_key) DO NOTHING`)
	if err != nil {
		return err
	}
	defer insert.Close()
	for _, c := range cases {
		if _, err := insert.ExecContext(ctx, c.FollowUpUID, c.CampaignUID, c.WaveID, c.RecipientKey, c.Namespace, c.Segment, c.Channel,
			micros(c.OpenedAt), optionalMicros(c.ContactDue), optionalMicros(c.ResolveDue)); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlStore) OpenNonResponseCases(ctx context.Context, r FollowUpRule, now time.Time) (int, error) {
	if r.Trigger != "NonResponse" || !r.Active {
		return 0, nil
	}
	query := `
		INSERT INTO followup_cases (followup_uid, campaign_uid, wave_id, recipient_key, namespace, segment, channel,
			opened_at, contact_due, resolve_due)
		SELECT CAST($1 AS TEXT), i.campaign_uid, i.wave_id, i.recipient_key, i.namespace, i.segment, i.channel,
			CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS BIGINT)
		FROM invitations i
		WHERE i.campaign_uid = $5 AND i.round = 0 AND i.state IN ('sent', 'unknown')
			AND i.sent_at IS NOT NULL AND i.sent_at >= $6 AND i.sent_at <= $7
			AND NOT EXISTS (SELECT 1 FROM responses x
				WHERE x.campaign_uid = i.campaign_uid AND x.wave_id = i.wave_id AND x.recipient_key = i.recipient_key)
			AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.namespace = i.namespace AND o.recipient_key = i.recipient_key)`
	args := []any{r.UID, micros(now), optionalMicros(dueAfter(now, r.ContactWithin)), optionalMicros(dueAfter(now, r.ResolveWithin)),
		r.CampaignUID, micros(r.Created), micros(now.Add(-r.After))}
	if len(r.Segments) > 0 {
		marks := make([]string, len(r.Segments))
		for i, seg := range r.Segments {
			marks[i] = fmt.Sprintf("$%d", len(args)+1)
			args = append(args, seg)
		}
		query += ` AND i.segment IN (` + strings.Join(marks, ", ") + `)`
	}
	query += ` ON CONFLICT (followup_uid, campaign_uid, wave_id, recipient_key) DO NOTHING`
	var opened int64
	err := s.writing(func() error {
		res, err := s.db.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		opened, err = res.RowsAffected()
		return err
	})
	return int(opened), err
}

const caseColumns = `followup_uid, campaign_uid, wave_id, recipient_key, namespace, segment, channel, opened_at,
	contact_due, resolve_due, contacted_at, resolved_at, ticket_ref`

func scanCase(row interface{ Scan(...any) error }) (Case, error) {
	var c Case
	var opened int64
	var contactDue, resolveDue, contacted, resolved sql.NullInt64
	if err := row.Scan(&c.FollowUpUID, &c.CampaignUID, &c.WaveID, &c.RecipientKey, &c.Namespace, &c.Segment, &c.Channel, &opened,
		&contactDue, &resolveDue, &contacted, &resolved, &c.TicketRef); err != nil {
		return c, err
	}
	c.OpenedAt = fromMicros(opened)
	c.ContactDue, c.ResolveDue = fromOptional(contactDue), fromOptional(resolveDue)
	c.ContactedAt, c.ResolvedAt = fromOptional(contacted), fromOptional(resolved)
	return c, nil
}

func (s *sqlStore) CasesToContact(ctx context.Context, followUpUID string, limit int) ([]Case, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+caseColumns+` FROM followup_cases
		WHERE followup_uid = $1 AND contacted_at IS NULL AND resolved_at IS NULL
		ORDER BY opened_at, recipient_key LIMIT $2`), followUpUID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqlStore) MarkContacted(ctx context.Context, keys []CaseKey, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		update, err := s.prepare(ctx, tx, `UPDATE followup_cases SET contacted_at = COALESCE(contacted_at, $5)
			WHERE followup_uid = $1 AND campaign_uid = $2 AND wave_id = $3 AND recipient_key = $4`)
		if err != nil {
			return err
		}
		defer update.Close()
		for _, k := range keys {
			res, err := update.ExecContext(ctx, k.FollowUpUID, k.CampaignUID, k.WaveID, k.RecipientKey, micros(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
		}
		return nil
	})
}

func (s *sqlStore) ResolveCase(ctx context.Context, k CaseKey, ticketRef string, once Once, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.once(ctx, tx, once, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE followup_cases SET resolved_at = COALESCE(resolved_at, $5),
			ticket_ref = CASE WHEN $6 = '' THEN ticket_ref ELSE $6 END
			WHERE followup_uid = $1 AND campaign_uid = $2 AND wave_id = $3 AND recipient_key = $4`),
			k.FollowUpUID, k.CampaignUID, k.WaveID, k.RecipientKey, micros(now), ticketRef)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func (s *sqlStore) GetCase(ctx context.Context, k CaseKey) (Case, error) {
	c, err := scanCase(s.db.QueryRowContext(ctx, s.q(`SELECT `+caseColumns+` FROM followup_cases
		WHERE followup_uid = $1 AND campaign_uid = $2 AND wave_id = $3 AND recipient_key = $4`),
		k.FollowUpUID, k.CampaignUID, k.WaveID, k.RecipientKey))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// caseCounts are the columns CaseStats and WaveCases count, of followup_cases c at $1 (now, in
// microseconds): matched, contacted, resolved, to contact, overdue, breaches.
const caseCounts = `COUNT(*), COUNT(c.contacted_at), COUNT(c.resolved_at),
	COALESCE(SUM(CASE WHEN c.contacted_at IS NULL AND c.resolved_at IS NULL THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN (c.contacted_at IS NULL AND c.resolved_at IS NULL AND c.contact_due IS NOT NULL AND c.contact_due < $1)
		OR (c.resolved_at IS NULL AND c.resolve_due IS NOT NULL AND c.resolve_due < $1) THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN (c.contact_due IS NOT NULL AND COALESCE(c.contacted_at, c.resolved_at, $1) > c.contact_due)
		OR (c.resolve_due IS NOT NULL AND COALESCE(c.resolved_at, $1) > c.resolve_due) THEN 1 ELSE 0 END), 0)`

func (s *sqlStore) WaveCases(ctx context.Context, campaignUID, waveID string, now time.Time) ([]WaveCases, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT c.followup_uid, COALESCE(f.name, ''), `+caseCounts+`
		FROM followup_cases c LEFT JOIN followups f ON f.followup_uid = c.followup_uid
		WHERE c.campaign_uid = $2 AND c.wave_id = $3
		GROUP BY c.followup_uid, f.name ORDER BY f.name, c.followup_uid`), micros(now), campaignUID, waveID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WaveCases
	for rows.Next() {
		var w WaveCases
		var toContact int
		if err := rows.Scan(&w.FollowUpUID, &w.FollowUp, &w.Matched, &w.Contacted, &w.Resolved, &toContact, &w.Overdue, &w.Breaches); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *sqlStore) CaseStats(ctx context.Context, followUpUID string, now time.Time) (CaseStats, error) {
	var st CaseStats
	err := s.db.QueryRowContext(ctx, s.q(`SELECT `+caseCounts+` FROM followup_cases c WHERE c.followup_uid = $2`), micros(now), followUpUID).
		Scan(&st.Matched, &st.Contacted, &st.Resolved, &st.ToContact, &st.Overdue, &st.Breaches)
	if err != nil {
		return st, err
	}
	if st.TimeToContact, err = s.percentiles(ctx, followUpUID, "contacted_at", st.Contacted); err != nil {
		return st, err
	}
	st.TimeToResolve, err = s.percentiles(ctx, followUpUID, "resolved_at", st.Resolved)
	return st, err
}

// percentiles finds the median and 90th percentile of (column - opened_at) by nearest rank, one
// indexed row each: portable SQL, and nothing loaded but the two values.
func (s *sqlStore) percentiles(ctx context.Context, followUpUID, column string, n int) (Percentiles, error) {
	p := Percentiles{N: n}
	if n == 0 {
		return p, nil
	}
	at := func(q float64) (time.Duration, error) {
		rank := max(1, int(math.Ceil(q*float64(n))))
		var d int64
		err := s.db.QueryRowContext(ctx, s.q(`SELECT `+column+` - opened_at AS d FROM followup_cases
			WHERE followup_uid = $1 AND `+column+` IS NOT NULL ORDER BY d LIMIT 1 OFFSET $2`), followUpUID, rank-1).Scan(&d)
		return time.Duration(d) * time.Microsecond, err
	}
	var err error
	if p.Median, err = at(0.5); err != nil {
		return p, err
	}
	p.P90, err = at(0.9)
	return p, err
}
