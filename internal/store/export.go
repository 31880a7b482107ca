package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
)

func (s *sqlStore) ExportResponses(ctx context.Context, campaignUID, waveID string, fn func(ExportedResponse) error) error {
	// Both tables' primary keys are in this order: the rows come merged, without a sort.
	rows, err := s.db.QueryContext(ctx, s.q(`
		SELECT r.recipient_key, r.segment, r.channel, r.language, r.complete, r.submitted_at, r.updated_at,
			a.question, a.value_int, a.value_text, a.not_applicable
		FROM responses r LEFT JOIN answers a
			ON a.campaign_uid = r.campaign_uid AND a.wave_id = r.wave_id AND a.recipient_key = r.recipient_key
		WHERE r.campaign_uid = $1 AND r.wave_id = $2
		ORDER BY r.recipient_key, a.question`), campaignUID, waveID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var cur ExportedResponse
	started := false
	for rows.Next() {
		var key, segment, channel, language string
		var complete int
		var submitted, updated int64
		var question, text sql.NullString
		var value sql.NullInt64
		var na sql.NullInt64
		if err := rows.Scan(&key, &segment, &channel, &language, &complete, &submitted, &updated, &question, &value, &text, &na); err != nil {
			return err
		}
		if !started || key != cur.RecipientKey {
			if started {
				if err := fn(cur); err != nil {
					return err
				}
			}
			started = true
			cur = ExportedResponse{RecipientKey: key, Segment: segment, Channel: channel, Language: language, Complete: complete == 1,
				SubmittedAt: fromMicros(submitted), UpdatedAt: fromMicros(updated), Answers: cur.Answers[:0]}
		}
		if !question.Valid {
			continue // a response without answers
		}
		a := Answer{Question: question.String, Text: text.String, NotApplicable: na.Int64 == 1}
		if value.Valid {
			v := int(value.Int64)
			a.Value = &v
		}
		cur.Answers = append(cur.Answers, a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if started {
		return fn(cur)
	}
	return nil
}

func (s *sqlStore) ExportKey(ctx context.Context, campaignUID string) ([]byte, error) {
	var stored string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT key_hex FROM export_keys WHERE campaign_uid = $1`), campaignUID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		// Two replicas may make one at once: the first stored is everyone's.
		if err := s.writing(func() error {
			_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO export_keys (campaign_uid, key_hex) VALUES ($1, $2)
				ON CONFLICT (campaign_uid) DO NOTHING`), campaignUID, hex.EncodeToString(key))
			return err
		}); err != nil {
			return nil, err
		}
		err = s.db.QueryRowContext(ctx, s.q(`SELECT key_hex FROM export_keys WHERE campaign_uid = $1`), campaignUID).Scan(&stored)
	}
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(stored)
}
