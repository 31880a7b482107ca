package store

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
)

// On PostgreSQL a batch's first submissions (each person's first response of the batch, when
// the person had not responded before, the response came through no signed request and the
// wave is not anonymous) are written by one statement, committed on its own: the responses,
// their answers and cases, their invitations' dispositions and every aggregate they move. It is
// one round trip for the whole batch, where a transaction written statement by statement would
// take eight. The rest of the batch (second submissions, a person's later responses in the
// batch, responses carried by a gateway's signed request, responses to anonymous waves)
// follows, in the order it arrived, in one transaction written as on SQLite.
//
// The statement computes the aggregates as the tally does (aggregates.go): a response counts
// in its segment and channel; an answer in its histogram cell (not applicable, or its value)
// and, with a value and a primary answer, in its pair; an invitation moves from its
// disposition to complete or partial. TestAggregatesEqualARecount holds both to a recount.

// responseColumns are the columns of a first submission's response row.
var responseColumns = []column{{"campaign_uid", "text"}, {"wave_id", "text"}, {"recipient_key", "text"}, {"namespace", "text"},
	{"segment", "text"}, {"channel", "text"}, {"complete", "int8"}, {"submitted_at", "int8"}, {"updated_at", "int8"}, {"language", "text"}}

// newCaseColumns are the columns of a follow-up case as a response opens it.
var newCaseColumns = []column{{"followup_uid", "text"}, {"campaign_uid", "text"}, {"wave_id", "text"}, {"recipient_key", "text"},
	{"namespace", "text"}, {"segment", "text"}, {"channel", "text"}, {"opened_at", "int8"}, {"contact_due", "int8"},
	{"resolve_due", "int8"}}

// firstSubmissions is the statement; its parameters are the arrays of responseColumns,
// answerColumns and newCaseColumns, then the slot of the aggregates it adds to.
var firstSubmissions = func() string {
	n := 1
	source := func(cols []column) string {
		call := unnest(cols, n)
		n += len(cols)
		return call + ` AS x(` + columnNames(cols) + `)`
	}
	responses, answers, cases := source(responseColumns), source(answerColumns), source(newCaseColumns)
	slot := "$" + strconv.Itoa(n)
	upsert := func(table, key string) string {
		return ` ON CONFLICT (` + key + `, slot) DO UPDATE SET n = ` + table + `.n + excluded.n`
	}
	return `WITH r AS (
		INSERT INTO responses (` + columnNames(responseColumns) + `) SELECT * FROM ` + responses + `
		ON CONFLICT (campaign_uid, wave_id, recipient_key) DO NOTHING
		RETURNING campaign_uid, wave_id, recipient_key, segment, channel, complete, language
	), a AS (
		INSERT INTO answers (` + columnNames(answerColumns) + `)
		SELECT x.* FROM ` + answers + ` JOIN r USING (campaign_uid, wave_id, recipient_key)
		RETURNING campaign_uid, wave_id, question, segment, channel, value_int, not_applicable, primary_value
	), c AS (
		INSERT INTO followup_cases (` + columnNames(newCaseColumns) + `)
		SELECT x.* FROM ` + cases + ` JOIN r USING (campaign_uid, wave_id, recipient_key)
		ON CONFLICT (followup_uid, campaign_uid, wave_id, recipient_key) DO NOTHING
	), i AS (
		SELECT i.campaign_uid, i.wave_id, i.recipient_key, i.segment, i.channel, i.disposition AS was,
			CASE WHEN r.complete = 1 THEN 'complete' ELSE 'partial' END AS now
		FROM invitations i JOIN r USING (campaign_uid, wave_id, recipient_key)
		WHERE i.round = 0
	), u AS (
		UPDATE invitations SET disposition = i.now FROM i
		WHERE invitations.campaign_uid = i.campaign_uid AND invitations.wave_id = i.wave_id
			AND invitations.recipient_key = i.recipient_key AND invitations.round = 0 AND i.was <> i.now
	), d AS (
		INSERT INTO wave_dispositions (campaign_uid, wave_id, segment, channel, disposition, slot, n)
		SELECT campaign_uid, wave_id, segment, channel, disposition, ` + slot + `, SUM(delta) FROM (
			SELECT campaign_uid, wave_id, segment, channel, was AS disposition, -1 AS delta FROM i WHERE was <> now
			UNION ALL
			SELECT campaign_uid, wave_id, segment, channel, now, 1 FROM i WHERE was <> now) m
		GROUP BY campaign_uid, wave_id, segment, channel, disposition
		ORDER BY campaign_uid, wave_id, segment, channel, disposition` +
		upsert("wave_dispositions", "campaign_uid, wave_id, segment, channel, disposition") + `
	), rs AS (
		INSERT INTO wave_responded (campaign_uid, wave_id, segment, channel, slot, n)
		SELECT campaign_uid, wave_id, segment, channel, ` + slot + `, COUNT(*) FROM r
		GROUP BY campaign_uid, wave_id, segment, channel
		ORDER BY campaign_uid, wave_id, segment, channel` +
		upsert("wave_responded", "campaign_uid, wave_id, segment, channel") + `
	), lg AS (
		INSERT INTO wave_languages (campaign_uid, wave_id, language, slot, n)
		SELECT campaign_uid, wave_id, language, ` + slot + `, COUNT(*) FROM r
		GROUP BY campaign_uid, wave_id, language
		ORDER BY campaign_uid, wave_id, language` +
		upsert("wave_languages", "campaign_uid, wave_id, language") + `
	), ac AS (
		INSERT INTO wave_answer_counts (campaign_uid, wave_id, question, segment, channel, not_applicable, value, slot, n)
		SELECT campaign_uid, wave_id, question, segment, channel, not_applicable,
			CASE WHEN not_applicable = 1 THEN 0 ELSE value_int END AS value, ` + slot + `, COUNT(*) FROM a
		WHERE not_applicable = 1 OR value_int IS NOT NULL
		GROUP BY campaign_uid, wave_id, question, segment, channel, not_applicable, value
		ORDER BY campaign_uid, wave_id, question, segment, channel, not_applicable, value` +
		upsert("wave_answer_counts", "campaign_uid, wave_id, question, segment, channel, not_applicable, value") + `
	), ap AS (
		INSERT INTO wave_answer_pairs (campaign_uid, wave_id, question, value, primary_value, slot, n)
		SELECT campaign_uid, wave_id, question, value_int, primary_value, ` + slot + `, COUNT(*) FROM a
		WHERE not_applicable = 0 AND value_int IS NOT NULL AND primary_value IS NOT NULL
		GROUP BY campaign_uid, wave_id, question, value_int, primary_value
		ORDER BY campaign_uid, wave_id, question, value_int, primary_value` +
		upsert("wave_answer_pairs", "campaign_uid, wave_id, question, value, primary_value") + `
	)
	SELECT campaign_uid, wave_id, recipient_key FROM r`
}()

// commitPostgres writes a batch on PostgreSQL, each response's outcome in results, its
// aggregates in slot. An error is the whole batch's; when only the transaction of the rest
// fails, its responses get the error and the first submissions, already committed, their
// outcome.
func (s *sqlStore) commitPostgres(ctx context.Context, batch []*pendingResponse, results []savedResponse, slot int) error {
	first, rest := partition(batch)
	var admitted []int
	primary := make([]string, len(batch))
	for _, i := range first {
		p := batch[i]
		if p.r.Once.Signature != "" { // its signature is recorded in the transaction that writes it
			rest = append(rest, i)
			continue
		}
		wave, err := s.getWave(ctx, nil, p.r.CampaignUID, p.r.WaveID)
		if err == nil && !p.now.Before(wave.ClosesAt) {
			err = ErrWaveClosed
		}
		switch {
		case refused(err):
			results[i].err = err
			continue
		case err != nil:
			return err
		case wave.Anonymous: // its answers are not rows of answers (anonymous.go)
			rest = append(rest, i)
			continue
		}
		primary[i] = wave.PrimaryQuestion
		admitted = append(admitted, i)
	}
	if len(admitted) > 0 {
		created, err := s.writeFirstSubmissions(ctx, batch, admitted, primary, slot)
		if err != nil {
			return err
		}
		for j, i := range admitted {
			if created[j] {
				results[i].created = true
			} else {
				rest = append(rest, i) // the person had responded before: a second submission
			}
		}
	}
	if len(rest) == 0 {
		return nil
	}
	slices.Sort(rest)
	if err := s.saveEach(ctx, batch, rest, results, slot); err != nil {
		// The first submissions are committed: only the rest failed.
		for _, i := range rest {
			results[i] = savedResponse{err: err}
		}
	}
	return nil
}

// writeFirstSubmissions runs the statement for batch[i], i in which (one per person, in key
// order), reporting for each whether it was written: false where the person had responded.
func (s *sqlStore) writeFirstSubmissions(ctx context.Context, batch []*pendingResponse, which []int, primary []string, slot int) ([]bool, error) {
	var responses, answers, cases [][]any
	index := make(map[[3]string]int, len(which))
	for j, i := range which {
		p := batch[i]
		responses = append(responses, []any{p.r.CampaignUID, p.r.WaveID, p.r.RecipientKey, p.r.Namespace, p.r.Segment,
			p.r.Channel, boolInt(p.r.Complete), micros(p.now), micros(p.now), p.r.Language})
		rows, cs := responseRows(p.r, p.r.Segment, p.now, primary[i], nil)
		answers = append(answers, rows...)
		for _, c := range cs {
			cases = append(cases, []any{c.FollowUpUID, c.CampaignUID, c.WaveID, c.RecipientKey, c.Namespace, c.Segment,
				c.Channel, micros(c.OpenedAt), optionalMicros(c.ContactDue), optionalMicros(c.ResolveDue)})
		}
		index[[3]string{p.r.CampaignUID, p.r.WaveID, p.r.RecipientKey}] = j
	}
	args := append(arrays(responseColumns, responses), arrays(answerColumns, answers)...)
	args = append(append(args, arrays(newCaseColumns, cases)...), slot)
	rows, err := s.db.QueryContext(ctx, firstSubmissions, args...)
	if err != nil {
		return nil, err
	}
	created := make([]bool, len(which))
	for rows.Next() {
		var k [3]string
		if err := rows.Scan(&k[0], &k[1], &k[2]); err != nil {
			rows.Close()
			return nil, err
		}
		created[index[k]] = true
	}
	return created, closeRows(rows)
}

// partition orders a batch: each person's first response of the batch, in key order (two
// batches lock the rows they share in the same order), and the later ones, in the order they
// arrived.
func partition(batch []*pendingResponse) (first, later []int) {
	type personKey struct{ campaignUID, waveID, recipientKey string }
	keyOf := func(i int) personKey {
		r := &batch[i].r
		return personKey{r.CampaignUID, r.WaveID, r.RecipientKey}
	}
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := keyOf(a), keyOf(b)
		return cmp.Or(strings.Compare(ka.campaignUID, kb.campaignUID), strings.Compare(ka.waveID, kb.waveID),
			strings.Compare(ka.recipientKey, kb.recipientKey))
	})
	for j, i := range order {
		if j > 0 && keyOf(order[j-1]) == keyOf(i) {
			later = append(later, i)
		} else {
			first = append(first, i)
		}
	}
	slices.Sort(later)
	return first, later
}
