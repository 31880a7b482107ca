package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"time"
)

// Erasure (a person's right to erasure, GDPR Art. 17): every record of one person in a
// namespace goes in one transaction, and the aggregates are corrected as if they had never
// been invited. What stays is an entry in the erasure log (an id, the namespace, the time) and,
// if they had opted out or an address of theirs bounced, that suppression under a hash of
// their key, so that it is still honoured if the organisation's list names them again.

// Erasure is what Erase did: the log entry's ID, and the rows it deleted, by kind.
type Erasure struct {
	ID                                     string
	ErasedAt                               time.Time
	Invitations, Responses, Answers, Cases int64
	OptOuts, Suppressions                  int64
	// Events are the touch-point events that held the person's key.
	Events int64
	// Decisions are touch-point campaigns' records of the events that invited the person.
	Decisions int64
}

// ErasureEntry is one entry of the erasure log: that an erasure happened, not what it erased.
type ErasureEntry struct {
	ID       string
	ErasedAt time.Time
}

// erasedKey is the hash an erased person's suppressions are kept under: SHA-256 of the
// namespace and the key, domain-separated. It is not anonymous to whoever can guess keys
// (tenancy references are guessable): it only keeps a suppression working without keeping the
// key itself.
func erasedKey(namespace, recipientKey string) string {
	sum := sha256.Sum256([]byte("survey-operator erased suppression v1\x00" + namespace + "\x00" + recipientKey))
	return hex.EncodeToString(sum[:])
}

func (s *sqlStore) Erase(ctx context.Context, namespace, recipientKey string, now time.Time) (Erasure, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return Erasure{}, err
	}
	out := Erasure{ID: hex.EncodeToString(id), ErasedAt: now.UTC().Truncate(time.Microsecond)}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = Erasure{ID: out.ID, ErasedAt: out.ErasedAt}
		t := s.newTally()
		// Responses: each takes back what it counted, its answers with it.
		// An anonymous wave's answers cannot be found, and stay counted: so does the response.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT r.campaign_uid, r.wave_id, r.segment, r.channel, r.language, w.anonymous FROM responses r
			JOIN waves w ON w.campaign_uid = r.campaign_uid AND w.wave_id = r.wave_id
			WHERE r.namespace = $1 AND r.recipient_key = $2`), namespace, recipientKey)
		if err != nil {
			return err
		}
		var waves []WaveRef
		for rows.Next() {
			var w WaveRef
			var segment, channel, language string
			var anonymous int
			if err := rows.Scan(&w.CampaignUID, &w.WaveID, &segment, &channel, &language, &anonymous); err != nil {
				rows.Close()
				return err
			}
			if anonymous == 0 {
				t.response(w, segment, channel, language, -1)
				waves = append(waves, w)
			}
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		for _, w := range waves {
			if err := s.uncountAnswers(ctx, tx, w, recipientKey, t); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM answers WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3`),
				w.CampaignUID, w.WaveID, recipientKey)
			if err := count(res, err, &out.Answers); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM responses WHERE namespace = $1 AND recipient_key = $2`), namespace, recipientKey)
		if err := count(res, err, &out.Responses); err != nil {
			return err
		}

		// Invitations: each first one leaves the disposition it was counted under.
		rows, err = tx.QueryContext(ctx, s.q(`SELECT campaign_uid, wave_id, segment, channel, disposition FROM invitations
			WHERE namespace = $1 AND recipient_key = $2 AND round = 0`), namespace, recipientKey)
		if err != nil {
			return err
		}
		for rows.Next() {
			var w WaveRef
			var segment, channel, disposition string
			if err := rows.Scan(&w.CampaignUID, &w.WaveID, &segment, &channel, &disposition); err != nil {
				rows.Close()
				return err
			}
			t.disposition(w, segment, channel, disposition, "")
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM invitations WHERE namespace = $1 AND recipient_key = $2`), namespace, recipientKey)
		if err := count(res, err, &out.Invitations); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM followup_cases WHERE namespace = $1 AND recipient_key = $2`), namespace, recipientKey)
		if err := count(res, err, &out.Cases); err != nil {
			return err
		}
		if err := s.eraseEvents(ctx, tx, namespace, recipientKey, &out.Events); err != nil {
			return err
		}
		if err := s.eraseDecisions(ctx, tx, namespace, recipientKey, &out.Decisions); err != nil {
			return err
		}

		// Suppressions stay, under the hash: an opt-out for every channel (""), a bounce for its own.
		hash := erasedKey(namespace, recipientKey)
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erased_suppressions (namespace, key_hash, channel, reason, suppressed_at)
			SELECT namespace, $3, '', 'opt-out', opted_out_at FROM opt_outs WHERE namespace = $1 AND recipient_key = $2
			ON CONFLICT (namespace, key_hash, channel) DO NOTHING`), namespace, recipientKey, hash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erased_suppressions (namespace, key_hash, channel, reason, suppressed_at)
			SELECT namespace, $3, channel, reason, suppressed_at FROM suppressions WHERE namespace = $1 AND recipient_key = $2
			ON CONFLICT (namespace, key_hash, channel) DO NOTHING`), namespace, recipientKey, hash); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM opt_outs WHERE namespace = $1 AND recipient_key = $2`), namespace, recipientKey)
		if err := count(res, err, &out.OptOuts); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.q(`DELETE FROM suppressions WHERE namespace = $1 AND recipient_key = $2`), namespace, recipientKey)
		if err := count(res, err, &out.Suppressions); err != nil {
			return err
		}

		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erasures (id, namespace, erased_at) VALUES ($1, $2, $3)`),
			out.ID, namespace, micros(out.ErasedAt)); err != nil {
			return err
		}
		return s.apply(ctx, tx, t)
	})
	if err != nil {
		return Erasure{}, err
	}
	return out, nil
}

// count adds the rows a statement affected to n.
func count(res sql.Result, err error, n *int64) error {
	if err != nil {
		return err
	}
	affected, err := res.RowsAffected()
	*n += affected
	return err
}

func (s *sqlStore) Erasures(ctx context.Context, namespace string) ([]ErasureEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, erased_at FROM erasures WHERE namespace = $1 ORDER BY erased_at, id`), namespace)
	if err != nil {
		return nil, err
	}
	var out []ErasureEntry
	for rows.Next() {
		var e ErasureEntry
		var at int64
		if err := rows.Scan(&e.ID, &at); err != nil {
			rows.Close()
			return nil, err
		}
		e.ErasedAt = fromMicros(at)
		out = append(out, e)
	}
	return out, closeRows(rows)
}

// erasedSuppressions returns, for those of keys that were erased with a suppression kept, the
// channels it covers ("" for every channel: an opt-out). A namespace with none costs one
// indexed look-up.
func (s *sqlStore) erasedSuppressions(ctx context.Context, namespace string, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM erased_suppressions WHERE namespace = $1 LIMIT 1`), namespace).Scan(&one)
	if err == sql.ErrNoRows || len(keys) == 0 {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	byHash := make(map[string]string, len(keys))
	hashes := make([]string, len(keys))
	for i, k := range keys {
		hashes[i] = erasedKey(namespace, k)
		byHash[hashes[i]] = k
	}
	for start := 0; start < len(hashes); start += keyBatch {
		batch := hashes[start:min(start+keyBatch, len(hashes))]
		query, args := inList(`SELECT key_hash, channel FROM erased_suppressions WHERE namespace = $1 AND key_hash IN`, []any{namespace}, batch)
		rows, err := s.db.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var hash, channel string
			if err := rows.Scan(&hash, &channel); err != nil {
				rows.Close()
				return nil, err
			}
			out[byHash[hash]] = append(out[byHash[hash]], channel)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}
