package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Retention: a campaign declares how long what is known about people is kept once a wave
// closes; Expire, run on a schedule by the response service, deletes what outlived it. A wave's
// figures live on in the maintained aggregates (and in its report, in the cluster), which hold
// counts, never a person: a summary of a wave reduced to them is the summary it had.

// Retention is a campaign's retention, as the manager registers it. A zero duration keeps for
// ever.
type Retention struct {
	Namespace string `gate:"name"`
	// Responses is how long a wave's responses, their answers and their follow-up cases are
	// kept after it closes.
	Responses time.Duration
	// Invitations is how long a wave's invitation ledger is kept after it closes.
	Invitations time.Duration
	// DropAggregates deletes the wave's aggregates and frame too when its responses expire,
	// instead of keeping them.
	DropAggregates bool
}

// Expired counts what one call of Expire deleted.
type Expired struct {
	// Waves counts the waves whose responses, or whose invitations, expired.
	Waves                                  int
	Responses, Answers, Cases, Invitations int64
	// Events are the touch-point events received more than EventRetention ago.
	Events int64
}

// expireBatch bounds the people whose rows one transaction deletes, so that an expiry never
// holds the writer (SQLite) or many row locks (PostgreSQL) for long.
const expireBatch = 500

func (s *sqlStore) PutRetention(ctx context.Context, campaignUID string, r Retention, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO retention (campaign_uid, namespace, responses, invitations, drop_aggregates, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (campaign_uid) DO UPDATE SET namespace = excluded.namespace, responses = excluded.responses,
				invitations = excluded.invitations, drop_aggregates = excluded.drop_aggregates, updated_at = excluded.updated_at`),
			campaignUID, r.Namespace, r.Responses.Microseconds(), r.Invitations.Microseconds(), boolInt(r.DropAggregates), micros(now))
		return err
	})
}

func (s *sqlStore) GetRetention(ctx context.Context, campaignUID string) (Retention, error) {
	var r Retention
	var responses, invitations int64
	var drop int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT namespace, responses, invitations, drop_aggregates FROM retention WHERE campaign_uid = $1`),
		campaignUID).Scan(&r.Namespace, &responses, &invitations, &drop)
	if err == sql.ErrNoRows {
		return Retention{}, ErrNotFound
	}
	r.Responses, r.Invitations = time.Duration(responses)*time.Microsecond, time.Duration(invitations)*time.Microsecond
	r.DropAggregates = drop == 1
	return r, err
}

// expiring is a wave some of whose data has outlived its campaign's retention.
type expiring struct {
	WaveRef
	responses, invitations, dropAggregates bool
}

func (s *sqlStore) Expire(ctx context.Context, now time.Time) (Expired, error) {
	// Touch-point events first, on their own: a wave's expiry that fails must not hold them
	// past their time.
	events, eventsErr := s.expireEvents(ctx, now)
	out, err := s.expireWaves(ctx, now)
	out.Events = events
	return out, errors.Join(eventsErr, err)
}

// expireWaves deletes what the waves' retentions say has been kept long enough.
func (s *sqlStore) expireWaves(ctx context.Context, now time.Time) (Expired, error) {
	var out Expired
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT w.campaign_uid, w.wave_id,
			r.responses > 0 AND w.responses_purged = 0 AND w.closes_at + r.responses <= $1,
			r.invitations > 0 AND w.invitations_purged = 0 AND w.closes_at + r.invitations <= $1,
			r.drop_aggregates
		FROM waves w JOIN retention r ON r.campaign_uid = w.campaign_uid
		WHERE (r.responses > 0 AND w.responses_purged = 0 AND w.closes_at + r.responses <= $1)
			OR (r.invitations > 0 AND w.invitations_purged = 0 AND w.closes_at + r.invitations <= $1)
		ORDER BY w.closes_at, w.campaign_uid, w.wave_id`), micros(now))
	if err != nil {
		return out, err
	}
	var due []expiring
	for rows.Next() {
		var e expiring
		var drop int
		if err := rows.Scan(&e.CampaignUID, &e.WaveID, &e.responses, &e.invitations, &drop); err != nil {
			rows.Close()
			return out, err
		}
		e.dropAggregates = drop == 1
		due = append(due, e)
	}
	if err := closeRows(rows); err != nil {
		return out, err
	}
	for _, e := range due {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if e.responses {
			if err := s.expireResponses(ctx, e, &out); err != nil {
				return out, err
			}
		}
		if e.invitations {
			if err := s.expireInvitations(ctx, e.WaveRef, &out); err != nil {
				return out, err
			}
		}
		out.Waves++
	}
	return out, nil
}

// expireResponses deletes a wave's answers, follow-up cases and responses, batch by batch; then,
// if asked, its aggregates.
func (s *sqlStore) expireResponses(ctx context.Context, e expiring, out *Expired) error {
	for _, t := range []struct {
		table string
		count *int64
		key   string
	}{{"answers", &out.Answers, "recipient_key"}, {"anonymous_comments", &out.Answers, "id"}, {"followup_cases", &out.Cases, "recipient_key"},
		{"responses", &out.Responses, "recipient_key"}} {
		if err := s.deleteInBatches(ctx, t.table, t.key, e.WaveRef, t.count); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if e.dropAggregates {
			for _, table := range []string{"wave_dispositions", "wave_responded", "wave_languages", "wave_answer_counts", "wave_answer_pairs", "wave_frames", "wave_channel_keys"} {
				if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE campaign_uid = $1 AND wave_id = $2`), e.CampaignUID, e.WaveID); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE waves SET responses_purged = 1 WHERE campaign_uid = $1 AND wave_id = $2`), e.CampaignUID, e.WaveID)
		return err
	})
}

// expireInvitations deletes a wave's invitation ledger (every round), batch by batch.
func (s *sqlStore) expireInvitations(ctx context.Context, w WaveRef, out *Expired) error {
	if err := s.deleteInBatches(ctx, "invitations", "recipient_key", w, &out.Invitations); err != nil {
		return err
	}
	// The touch-point decisions that made them keep their outcome (so that their events stay
	// decided, and invite nobody again) and forget whom and where.
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE touch_decisions SET wave_id = '', recipient_key = '', segment = '', attributes = '{}'
			WHERE campaign_uid = $1 AND wave_id = $2`), w.CampaignUID, w.WaveID)
		return err
	}); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE waves SET invitations_purged = 1 WHERE campaign_uid = $1 AND wave_id = $2`), w.CampaignUID, w.WaveID)
		return err
	})
}

// deleteInBatches deletes a wave's rows of a table, the rows of at most expireBatch values of
// key (a person's, or a row's own id) per transaction, adding the rows deleted to count.
func (s *sqlStore) deleteInBatches(ctx context.Context, table, key string, w WaveRef, count *int64) error {
	query := s.q(`DELETE FROM ` + table + ` WHERE campaign_uid = $1 AND wave_id = $2 AND ` + key + ` IN
		(SELECT ` + key + ` FROM ` + table + ` WHERE campaign_uid = $1 AND wave_id = $2 LIMIT $3)`)
	for {
		var n int64
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, query, w.CampaignUID, w.WaveID, expireBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}); err != nil {
			return err
		}
		*count += n
		if n == 0 {
			return nil
		}
	}
}
