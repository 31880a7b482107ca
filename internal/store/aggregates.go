package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
)

// The aggregates a summary reads are maintained by every write that changes them, in its own
// transaction (migration 00006 describes the tables). A write collects its changes in a tally
// and applies them last, just before it commits: on PostgreSQL the rows it updates stay locked
// for as short a time as possible, and in a fixed order, so that two writers cannot deadlock.

// The dispositions an invitation (round 0) is counted under, in the order they take precedence.
const (
	dispComplete   = "complete"
	dispPartial    = "partial"
	dispRefusal    = "refusal"
	dispNonContact = "noncontact"
	dispNoAnswer   = "noanswer"
)

// dispositionOf is the disposition an invitation with no response and no opt-out since it was
// reserved has in a state.
func dispositionOf(state string) string {
	if state == string(StateFailed) || state == string(StateBounced) {
		return dispNonContact
	}
	return dispNoAnswer // sent, unknown, sending or still reserved: possibly delivered
}

// dispositionSQL computes the disposition of invitation i from its response r and opt-out o.
const dispositionSQL = `CASE WHEN r.complete = 1 THEN 'complete' WHEN r.complete = 0 THEN 'partial'
	WHEN o.recipient_key IS NOT NULL THEN 'refusal' WHEN i.state IN ('failed', 'bounced') THEN 'noncontact' ELSE 'noanswer' END`

// dispositionJoins are the rows dispositionSQL reads.
const dispositionJoins = `LEFT JOIN responses r ON r.campaign_uid = i.campaign_uid AND r.wave_id = i.wave_id AND r.recipient_key = i.recipient_key
	LEFT JOIN opt_outs o ON o.namespace = i.namespace AND o.recipient_key = i.recipient_key AND o.opted_out_at >= i.reserved_at`

// The cells of the aggregates, keyed as their tables are.
type (
	dispositionCell struct {
		WaveRef
		Segment, Channel, Disposition string
		Slot                          int
	}
	respondedCell struct {
		WaveRef
		Segment, Channel string
		Slot             int
	}
	answerCell struct {
		WaveRef
		Question, Segment, Channel string
		NotApplicable, Value       int
		Slot                       int
	}
	pairCell struct {
		WaveRef
		Question            string
		Value, PrimaryValue int
		Slot                int
	}
)

// tally is the change a transaction makes to the aggregates.
type tally struct {
	slots        int
	dispositions map[dispositionCell]int64
	responded    map[respondedCell]int64
	answers      map[answerCell]int64
	pairs        map[pairCell]int64
}

func (s *sqlStore) newTally() *tally {
	return &tally{slots: s.slots, dispositions: map[dispositionCell]int64{}, responded: map[respondedCell]int64{},
		answers: map[answerCell]int64{}, pairs: map[pairCell]int64{}}
}

// slot spreads a person's cells: the same person always lands in the same slot, so a
// re-submission takes back exactly what its first submission added.
func (t *tally) slot(recipientKey string) int {
	if t.slots <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(recipientKey))
	return int(h.Sum32() % uint32(t.slots))
}

// disposition moves an invitation from one disposition to another ("" for none).
func (t *tally) disposition(w WaveRef, recipientKey, segment, channel, from, to string) {
	if from == to {
		return
	}
	slot := t.slot(recipientKey)
	if from != "" {
		t.dispositions[dispositionCell{w, segment, channel, from, slot}]--
	}
	if to != "" {
		t.dispositions[dispositionCell{w, segment, channel, to, slot}]++
	}
}

// response counts a response in (delta 1) or out (delta -1) of its segment and channel.
func (t *tally) response(w WaveRef, recipientKey, segment, channel string, delta int64) {
	t.responded[respondedCell{w, segment, channel, t.slot(recipientKey)}] += delta
}

// answer counts one stored answer row in or out: its histogram cell, and its pair with the
// primary answer.
func (t *tally) answer(w WaveRef, recipientKey, question, segment, channel string, value, primary sql.NullInt64, notApplicable bool, delta int64) {
	slot := t.slot(recipientKey)
	switch {
	case notApplicable:
		t.answers[answerCell{w, question, segment, channel, 1, 0, slot}] += delta
	case value.Valid:
		t.answers[answerCell{w, question, segment, channel, 0, int(value.Int64), slot}] += delta
		if primary.Valid {
			t.pairs[pairCell{w, question, int(value.Int64), int(primary.Int64), slot}] += delta
		}
	}
}

// apply writes the tally: one multi-row upsert per table, its rows in key order.
func (s *sqlStore) apply(ctx context.Context, tx *sql.Tx, t *tally) error {
	if err := upsert(ctx, s, tx, "wave_dispositions", "campaign_uid, wave_id, segment, channel, disposition, slot", t.dispositions,
		func(a, b dispositionCell) int {
			return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
				strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel),
				strings.Compare(a.Disposition, b.Disposition), cmp.Compare(a.Slot, b.Slot))
		},
		func(c dispositionCell) []any {
			return []any{c.CampaignUID, c.WaveID, c.Segment, c.Channel, c.Disposition, c.Slot}
		}); err != nil {
		return err
	}
	if err := upsert(ctx, s, tx, "wave_responded", "campaign_uid, wave_id, segment, channel, slot", t.responded,
		func(a, b respondedCell) int {
			return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
				strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel), cmp.Compare(a.Slot, b.Slot))
		},
		func(c respondedCell) []any { return []any{c.CampaignUID, c.WaveID, c.Segment, c.Channel, c.Slot} }); err != nil {
		return err
	}
	if err := upsert(ctx, s, tx, "wave_answer_counts", "campaign_uid, wave_id, question, segment, channel, not_applicable, value, slot", t.answers,
		func(a, b answerCell) int {
			return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
				strings.Compare(a.Question, b.Question), strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel),
				cmp.Compare(a.NotApplicable, b.NotApplicable), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Slot, b.Slot))
		},
		func(c answerCell) []any {
			return []any{c.CampaignUID, c.WaveID, c.Question, c.Segment, c.Channel, c.NotApplicable, c.Value, c.Slot}
		}); err != nil {
		return err
	}
	return upsert(ctx, s, tx, "wave_answer_pairs", "campaign_uid, wave_id, question, value, primary_value, slot", t.pairs,
		func(a, b pairCell) int {
			return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
				strings.Compare(a.Question, b.Question), cmp.Compare(a.Value, b.Value), cmp.Compare(a.PrimaryValue, b.PrimaryValue),
				cmp.Compare(a.Slot, b.Slot))
		},
		func(c pairCell) []any {
			return []any{c.CampaignUID, c.WaveID, c.Question, c.Value, c.PrimaryValue, c.Slot}
		})
}

// upsert adds each cell's delta to its row, creating it (insertRows); cells whose changes
// cancel out are left alone.
func upsert[K comparable](ctx context.Context, s *sqlStore, tx *sql.Tx, table, key string, deltas map[K]int64,
	order func(a, b K) int, columns func(K) []any) error {
	cells := slices.SortedFunc(maps.Keys(deltas), order)
	cells = slices.DeleteFunc(cells, func(c K) bool { return deltas[c] == 0 })
	if len(cells) == 0 {
		return nil
	}
	onConflict := ` ON CONFLICT (` + key + `) DO UPDATE SET n = ` + table + `.n + excluded.n`
	rows := make([][]any, len(cells))
	for i, c := range cells {
		rows[i] = append(columns(c), deltas[c])
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO `+table+` (`+key+`, n) VALUES `, onConflict, rows); err != nil {
		return fmt.Errorf("maintaining %s: %w", table, err)
	}
	return nil
}

// refreshDispositions recomputes the disposition of a wave's invitations (round 0) to the given
// people, and moves those that changed.
func (s *sqlStore) refreshDispositions(ctx context.Context, tx *sql.Tx, w WaveRef, keys []string, t *tally) error {
	type changed struct{ key, to string }
	var moves []changed
	for start := 0; start < len(keys); start += keyBatch {
		batch := keys[start:min(start+keyBatch, len(keys))]
		marks := make([]string, len(batch))
		args := []any{w.CampaignUID, w.WaveID}
		for i, k := range batch {
			marks[i] = fmt.Sprintf("$%d", len(args)+1)
			args = append(args, k)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT i.recipient_key, i.segment, i.channel, i.disposition, `+dispositionSQL+`
			FROM invitations i `+dispositionJoins+`
			WHERE i.campaign_uid = $1 AND i.wave_id = $2 AND i.round = 0 AND i.recipient_key IN (`+strings.Join(marks, ", ")+`)`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key, segment, channel, from, to string
			if err := rows.Scan(&key, &segment, &channel, &from, &to); err != nil {
				rows.Close()
				return err
			}
			if from != to {
				t.disposition(w, key, segment, channel, from, to)
				moves = append(moves, changed{key, to})
			}
		}
		if err := closeRows(rows); err != nil {
			return err
		}
	}
	for _, m := range moves {
		if err := s.setDisposition(ctx, tx, w, m.key, m.to); err != nil {
			return err
		}
	}
	return nil
}

// setDisposition records an invitation's (round 0) disposition.
func (s *sqlStore) setDisposition(ctx context.Context, tx *sql.Tx, w WaveRef, recipientKey, disposition string) error {
	_, err := s.exec(ctx, tx, `UPDATE invitations SET disposition = $4
		WHERE campaign_uid = $1 AND wave_id = $2 AND recipient_key = $3 AND round = 0`, w.CampaignUID, w.WaveID, recipientKey, disposition)
	return err
}

// summarizeMaintained reads a wave's dispositions, responses, histograms and (with the wave's
// own primary question) pairs from the maintained aggregates.
func (s *sqlStore) summarizeMaintained(ctx context.Context, campaignUID, waveID string, pairs bool, sum *Summary) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT segment, channel, disposition, SUM(n) FROM wave_dispositions
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY segment, channel, disposition`), campaignUID, waveID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g Group
		var disposition string
		var n int
		if err := rows.Scan(&g.Segment, &g.Channel, &disposition, &n); err != nil {
			rows.Close()
			return err
		}
		if n == 0 {
			continue
		}
		d := sum.Dispositions[g]
		switch disposition {
		case dispComplete:
			d.Complete += n
		case dispPartial:
			d.Partial += n
		case dispRefusal:
			d.Refusal += n
		case dispNonContact:
			d.NonContact += n
		default:
			d.NoAnswer += n
		}
		sum.Dispositions[g] = d
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT segment, channel, SUM(n) FROM wave_responded
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY segment, channel`), campaignUID, waveID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g Group
		var n int
		if err := rows.Scan(&g.Segment, &g.Channel, &n); err != nil {
			rows.Close()
			return err
		}
		if n != 0 {
			sum.Responded[g] = n
		}
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT question, segment, channel, not_applicable, value, SUM(n) FROM wave_answer_counts
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY question, segment, channel, not_applicable, value`), campaignUID, waveID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var h HistogramRow
		var na, value int
		if err := rows.Scan(&h.Question, &h.Group.Segment, &h.Group.Channel, &na, &value, &h.Count); err != nil {
			rows.Close()
			return err
		}
		if h.Count == 0 {
			continue
		}
		if h.NotApplicable = na == 1; !h.NotApplicable {
			h.Value = &value
		}
		sum.Histograms = append(sum.Histograms, h)
	}
	if err := closeRows(rows); err != nil || !pairs {
		return err
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT question, value, primary_value, SUM(n) FROM wave_answer_pairs
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY question, value, primary_value`), campaignUID, waveID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var q string
		var x, y, n int64
		if err := rows.Scan(&q, &x, &y, &n); err != nil {
			rows.Close()
			return err
		}
		if n == 0 {
			continue
		}
		ps := sum.Pairs[q]
		ps.N += n
		ps.SumX, ps.SumY = ps.SumX+n*x, ps.SumY+n*y
		ps.SumXX, ps.SumYY, ps.SumXY = ps.SumXX+n*x*x, ps.SumYY+n*y*y, ps.SumXY+n*x*y
		sum.Pairs[q] = ps
	}
	return closeRows(rows)
}
