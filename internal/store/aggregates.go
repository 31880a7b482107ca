package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
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
	languageCell struct {
		WaveRef
		Language string
		Slot     int
	}
)

// tally is the change a transaction makes to the aggregates, all of it in one slot: on
// PostgreSQL concurrent transactions add to different rows of a cell (so they seldom wait for
// each other's commit), and the responses of one batch add to the same rows (so a batch
// updates few). A cell's count is the sum over its slots; a re-submission may take back, in its
// own slot, what its first submission added in another, leaving a slot's row negative, which
// the sum does not mind.
type tally struct {
	slot         int
	dispositions map[dispositionCell]int64
	responded    map[respondedCell]int64
	answers      map[answerCell]int64
	pairs        map[pairCell]int64
	languages    map[languageCell]int64
}

// newTally is a tally in the next slot, in turn, of those the response committers do not use
// (they turn through slots of their own: on PostgreSQL no other writer takes their rows' locks).
func (s *sqlStore) newTally() *tally {
	if s.slots <= committerSlots {
		return s.tallyIn(0)
	}
	return s.tallyIn(committerSlots + int(s.nextSlot.Add(1)%uint32(s.slots-committerSlots)))
}

// tallyIn is a tally in the given slot.
func (s *sqlStore) tallyIn(slot int) *tally {
	return &tally{slot: slot, dispositions: map[dispositionCell]int64{}, responded: map[respondedCell]int64{},
		answers: map[answerCell]int64{}, pairs: map[pairCell]int64{}, languages: map[languageCell]int64{}}
}

// disposition moves an invitation from one disposition to another ("" for none).
func (t *tally) disposition(w WaveRef, segment, channel, from, to string) {
	if from == to {
		return
	}
	slot := t.slot
	if from != "" {
		t.dispositions[dispositionCell{w, segment, channel, from, slot}]--
	}
	if to != "" {
		t.dispositions[dispositionCell{w, segment, channel, to, slot}]++
	}
}

// response counts a response in (delta 1) or out (delta -1) of its segment and channel, and
// of its language.
func (t *tally) response(w WaveRef, segment, channel, language string, delta int64) {
	t.responded[respondedCell{w, segment, channel, t.slot}] += delta
	t.languages[languageCell{w, language, t.slot}] += delta
}

// answer counts one stored answer row in or out: its histogram cell, and its pair with the
// primary answer.
func (t *tally) answer(w WaveRef, question, segment, channel string, value, primary sql.NullInt64, notApplicable bool, delta int64) {
	slot := t.slot
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

// The aggregate tables' keys.
var (
	dispositionKey = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"segment", "text"}, {"channel", "text"},
		{"disposition", "text"}, {"slot", "int8"}}
	respondedKey = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"segment", "text"}, {"channel", "text"}, {"slot", "int8"}}
	answerKey    = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"question", "text"}, {"segment", "text"},
		{"channel", "text"}, {"not_applicable", "int8"}, {"value", "int8"}, {"slot", "int8"}}
	pairKey = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"question", "text"}, {"value", "int8"},
		{"primary_value", "int8"}, {"slot", "int8"}}
	languageKey = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"language", "text"}, {"slot", "int8"}}
)

// apply writes the tally: one multi-row upsert per table, its rows in key order. On PostgreSQL
// the four go together in one statement of fixed text (one round trip, prepared once).
func (s *sqlStore) apply(ctx context.Context, tx *sql.Tx, t *tally) error {
	parts := []upsertPart{
		upsert("wave_dispositions", dispositionKey, t.dispositions,
			func(a, b dispositionCell) int {
				return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
					strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel),
					strings.Compare(a.Disposition, b.Disposition), cmp.Compare(a.Slot, b.Slot))
			},
			func(c dispositionCell) []any {
				return []any{c.CampaignUID, c.WaveID, c.Segment, c.Channel, c.Disposition, c.Slot}
			}),
		upsert("wave_responded", respondedKey, t.responded,
			func(a, b respondedCell) int {
				return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
					strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel), cmp.Compare(a.Slot, b.Slot))
			},
			func(c respondedCell) []any { return []any{c.CampaignUID, c.WaveID, c.Segment, c.Channel, c.Slot} }),
		upsert("wave_answer_counts", answerKey, t.answers,
			func(a, b answerCell) int {
				return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
					strings.Compare(a.Question, b.Question), strings.Compare(a.Segment, b.Segment), strings.Compare(a.Channel, b.Channel),
					cmp.Compare(a.NotApplicable, b.NotApplicable), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Slot, b.Slot))
			},
			func(c answerCell) []any {
				return []any{c.CampaignUID, c.WaveID, c.Question, c.Segment, c.Channel, c.NotApplicable, c.Value, c.Slot}
			}),
		upsert("wave_answer_pairs", pairKey, t.pairs,
			func(a, b pairCell) int {
				return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
					strings.Compare(a.Question, b.Question), cmp.Compare(a.Value, b.Value), cmp.Compare(a.PrimaryValue, b.PrimaryValue),
					cmp.Compare(a.Slot, b.Slot))
			},
			func(c pairCell) []any {
				return []any{c.CampaignUID, c.WaveID, c.Question, c.Value, c.PrimaryValue, c.Slot}
			}),
		upsert("wave_languages", languageKey, t.languages,
			func(a, b languageCell) int {
				return cmp.Or(strings.Compare(a.CampaignUID, b.CampaignUID), strings.Compare(a.WaveID, b.WaveID),
					strings.Compare(a.Language, b.Language), cmp.Compare(a.Slot, b.Slot))
			},
			func(c languageCell) []any { return []any{c.CampaignUID, c.WaveID, c.Language, c.Slot} }),
	}
	empty := true
	for _, p := range parts {
		empty = empty && len(p.rows) == 0
	}
	if empty {
		return nil
	}
	if s.sqlite {
		for _, p := range parts {
			if err := s.insertRows(ctx, tx, p.table, p.columns(), p.onConflict(), p.rows); err != nil {
				return fmt.Errorf("maintaining %s: %w", p.table, err)
			}
		}
		return nil
	}
	var args []any
	for _, p := range parts {
		args = append(args, arrays(p.columns(), p.rows)...)
	}
	if _, err := tx.ExecContext(ctx, applyAll(), args...); err != nil {
		return fmt.Errorf("maintaining the aggregates: %w", err)
	}
	return nil
}

// applyAll is the one PostgreSQL statement of apply: WITH u0 AS (INSERT ... ON CONFLICT ...),
// u1 AS (...), u2 AS (...) INSERT ... ON CONFLICT ..., the parts in apply's order.
var applyAll = sync.OnceValue(func() string {
	parts := []upsertPart{{table: "wave_dispositions", key: dispositionKey}, {table: "wave_responded", key: respondedKey},
		{table: "wave_answer_counts", key: answerKey}, {table: "wave_answer_pairs", key: pairKey}, {table: "wave_languages", key: languageKey}}
	var b strings.Builder
	n := 1
	for i, p := range parts {
		switch {
		case i == 0:
			fmt.Fprintf(&b, "WITH u%d AS (", i)
		case i < len(parts)-1:
			fmt.Fprintf(&b, "), u%d AS (", i)
		default:
			b.WriteString(") ")
		}
		b.WriteString(`INSERT INTO ` + p.table + ` (` + columnNames(p.columns()) + `) SELECT * FROM ` + unnest(p.columns(), n) + p.onConflict())
		n += len(p.columns())
	}
	return b.String()
})

// upsertPart adds each row's delta (its last column, n) to the row of table with the same key,
// creating it.
type upsertPart struct {
	table string
	key   []column
	rows  [][]any
}

func (p upsertPart) columns() []column { return append(slices.Clip(p.key), column{"n", "int8"}) }

func (p upsertPart) onConflict() string {
	return ` ON CONFLICT (` + columnNames(p.key) + `) DO UPDATE SET n = ` + p.table + `.n + excluded.n`
}

// upsert is the part that adds the deltas to their cells' rows, in key order; cells whose
// changes cancel out are left alone.
func upsert[K comparable](table string, key []column, deltas map[K]int64, order func(a, b K) int, columns func(K) []any) upsertPart {
	cells := slices.SortedFunc(maps.Keys(deltas), order)
	cells = slices.DeleteFunc(cells, func(c K) bool { return deltas[c] == 0 })
	rows := make([][]any, len(cells))
	for i, c := range cells {
		rows[i] = append(columns(c), deltas[c])
	}
	return upsertPart{table, key, rows}
}

// refreshDispositions recomputes the disposition of a wave's invitations (round 0) to the given
// people, and moves those that changed.
func (s *sqlStore) refreshDispositions(ctx context.Context, tx *sql.Tx, w WaveRef, keys []string, t *tally) error {
	type changed struct{ key, to string }
	var moves []changed
	const query = `SELECT i.recipient_key, i.segment, i.channel, i.disposition, ` + dispositionSQL + `
		FROM invitations i ` + dispositionJoins + `
		WHERE i.campaign_uid = $1 AND i.wave_id = $2 AND i.round = 0 AND i.recipient_key `
	size := keyBatch // SQLite: IN lists of at most keyBatch people
	if !s.sqlite {
		size = max(len(keys), 1) // PostgreSQL: one statement of fixed text, however many people
	}
	for start := 0; start < len(keys); start += size {
		batch := keys[start:min(start+size, len(keys))]
		var rows *sql.Rows
		var err error
		if s.sqlite {
			marks := make([]string, len(batch))
			args := []any{w.CampaignUID, w.WaveID}
			for i, k := range batch {
				marks[i] = fmt.Sprintf("$%d", len(args)+1)
				args = append(args, k)
			}
			rows, err = tx.QueryContext(ctx, s.q(query+`IN (`+strings.Join(marks, ", ")+`)`), args...)
		} else {
			rows, err = tx.QueryContext(ctx, query+`= ANY($3)`, w.CampaignUID, w.WaveID, batch)
		}
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
				t.disposition(w, segment, channel, from, to)
				moves = append(moves, changed{key, to})
			}
		}
		if err := closeRows(rows); err != nil {
			return err
		}
	}
	if s.sqlite { // in process: a prepared statement per invitation costs less than parsing one
		for _, m := range moves {
			if err := s.setDisposition(ctx, tx, w, m.key, m.to); err != nil {
				return err
			}
		}
		return nil
	}
	// On PostgreSQL one statement per disposition reached: each is a round trip.
	byTo := map[string][]string{}
	for _, m := range moves {
		byTo[m.to] = append(byTo[m.to], m.key)
	}
	for _, to := range slices.Sorted(maps.Keys(byTo)) {
		if _, err := tx.ExecContext(ctx, `UPDATE invitations SET disposition = $3
			WHERE campaign_uid = $1 AND wave_id = $2 AND round = 0 AND recipient_key = ANY($4)`, w.CampaignUID, w.WaveID, to, byTo[to]); err != nil {
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

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT language, SUM(n) FROM wave_languages
		WHERE campaign_uid = $1 AND wave_id = $2 GROUP BY language`), campaignUID, waveID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var language string
		var n int
		if err := rows.Scan(&language, &n); err != nil {
			rows.Close()
			return err
		}
		if n != 0 {
			sum.Languages[language] = n
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
