package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"time"
)

// Anonymous surveys (spec.survey.anonymous). The ledger still learns who responded: a row in
// responses (complete or partial, with no answer) and the invitation's disposition, which
// reminders, the response rate and NonResponse follow-ups need. The answers themselves are
// added to the maintained aggregates, which are counts, and nowhere else; written answers go
// to anonymous_comments under a random id, with no key, segment, channel or time. No case is
// opened. A person answers once: a second response is ErrAnswered, for nothing could find the
// first to replace it; and erasing the person leaves their answers in the figures, since
// nothing says which they are.

// storeAnonymous writes an admitted response to an anonymous wave (admit refused a second one).
func (s *sqlStore) storeAnonymous(ctx context.Context, tx *sql.Tx, r Response, now time.Time, primaryQuestion string, t *tally) error {
	if _, err := s.exec(ctx, tx, `
		INSERT INTO responses (campaign_uid, wave_id, recipient_key, namespace, segment, channel, complete, submitted_at, updated_at, language)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
		r.CampaignUID, r.WaveID, r.RecipientKey, r.Namespace, r.Segment, r.Channel, boolInt(r.Complete), micros(now), r.Language); err != nil {
		return err
	}
	responseRows(r, r.Segment, now, primaryQuestion, t) // counted in the aggregates; neither the answer rows nor the cases are kept
	for _, a := range r.Answers {
		if a.Text == "" {
			continue
		}
		id, err := randomID()
		if err != nil {
			return err
		}
		query := `INSERT INTO anonymous_comments (campaign_uid, wave_id, id, question, comment) VALUES ($1, $2, $3, $4, $5)`
		if s.sqlite { // stored in the order of the random rowid, not of writing
			query = `INSERT INTO anonymous_comments (rowid, campaign_uid, wave_id, id, question, comment) VALUES ($3, $1, $2, $3, $4, $5)`
		}
		if _, err := s.exec(ctx, tx, query, r.CampaignUID, r.WaveID, id, a.Question, a.Text); err != nil {
			return err
		}
	}
	return s.answered(ctx, tx, r, t)
}

// randomID is a random positive 63-bit integer.
func randomID() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[:]) >> 1), nil
}

// Comment is a written answer to an anonymous wave: the question, and the words.
type Comment struct {
	Question, Text string
}

func (s *sqlStore) ExportComments(ctx context.Context, campaignUID, waveID string, fn func(Comment) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT question, comment FROM anonymous_comments
		WHERE campaign_uid = $1 AND wave_id = $2 ORDER BY id`), campaignUID, waveID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c Comment
		if err := rows.Scan(&c.Question, &c.Text); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}
