package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Event is one touch-point event as the response service received it (internal/touchpoint).
type Event struct {
	// Source and ID identify it in its namespace: the same pair again is the same event.
	Source, ID string `gate:"key"`
	Type       string `gate:"key"`
	Subject    string
	// Time is when it happened, as its producer says (zero when it does not).
	Time time.Time
	// Fields are its data's fields: the person and the touch point's attributes, as text.
	Fields map[string]string
	// ReceivedAt is when it was first stored (set by the store).
	ReceivedAt time.Time
}

// EventRetention is how long a touch-point event is kept after it was received: the longest
// an event may wait to invite (a campaign's maxAge, docs/touchpoints.md) with room to spare.
// Store.Expire deletes older ones, their person's fields with them.
const EventRetention = 30 * 24 * time.Hour

// pendingEvents is one PutEvents call waiting for its group commit.
type pendingEvents struct {
	namespace string
	events    []Event
	now       time.Time
	done      chan eventsResult
}

type eventsResult struct {
	created int
	err     error
}

// maxEventCalls bounds the PutEvents calls one transaction holds (each of up to a batch of
// events, 1,000 from the response service).
const maxEventCalls = 32

// PutEvents stores a namespace's events, each once: an event whose source and id the namespace
// already holds is left as it is (a repeated delivery). It returns how many were new. Calls
// arriving together share one transaction and one commit (group commit, as responses do:
// commit.go); each returns only once the commit that holds its events is done, so when it
// returns without an error every event is stored.
func (s *sqlStore) PutEvents(ctx context.Context, namespace string, events []Event, now time.Time) (int, error) {
	committers := 1
	if !s.sqlite {
		committers = postgresCommitters
	}
	p := &pendingEvents{namespace: namespace, events: events, now: now, done: make(chan eventsResult, 1)}
	if err := s.events.submit(ctx, p, committers, maxEventCalls, func(_, _ int, batch []*pendingEvents) { s.commitEvents(batch) }); err != nil {
		return 0, err
	}
	res := <-p.done
	return res.created, res.err
}

// eventColumns are the columns of a touch-point event's row.
var eventColumns = []column{{"namespace", "text"}, {"source", "text"}, {"event_id", "text"}, {"type", "text"}, {"subject", "text"},
	{"event_time", "int8"}, {"received_at", "int8"}, {"fields", "text"}}

// insertEvents is PostgreSQL's statement for a batch: one round trip, committed on its own,
// whatever the number of events (the rows as one array per column), naming those it stored.
var insertEvents = `INSERT INTO touch_events (` + columnNames(eventColumns) + `) SELECT * FROM ` + unnest(eventColumns, 1) + `
	ON CONFLICT (namespace, source, event_id) DO NOTHING RETURNING namespace, source, event_id`

// commitEvents writes a batch of calls in one transaction (on PostgreSQL one statement) and
// tells each its outcome: all stored, or (any failure) none.
func (s *sqlStore) commitEvents(batch []*pendingEvents) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var rows [][]any
	for _, p := range batch {
		for _, e := range p.events {
			fields, err := json.Marshal(e.Fields)
			if err != nil {
				for _, p := range batch {
					p.done <- eventsResult{err: err}
				}
				return
			}
			var at int64
			if !e.Time.IsZero() {
				at = micros(e.Time)
			}
			rows = append(rows, []any{p.namespace, e.Source, e.ID, e.Type, e.Subject, at, micros(p.now), string(fields)})
		}
	}
	stored, err := s.writeEvents(ctx, rows)
	for _, p := range batch {
		created := 0
		for _, e := range p.events {
			k := [3]string{p.namespace, e.Source, e.ID}
			if stored[k] { // the first call of the batch to hold a repeated event is the one that stored it
				created++
				delete(stored, k)
			}
		}
		p.done <- eventsResult{created: created, err: err}
	}
}

// writeEvents inserts the rows, each unless its event is stored already, and returns the keys
// (namespace, source, id) of those it stored.
func (s *sqlStore) writeEvents(ctx context.Context, rows [][]any) (map[[3]string]bool, error) {
	stored := map[[3]string]bool{}
	if !s.sqlite {
		// In key order: two committers' statements holding the same events then take their
		// keys in the same order, and cannot deadlock (as responses' are, commit_postgres.go).
		slices.SortFunc(rows, func(a, b []any) int {
			return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(string), b[1].(string)), cmp.Compare(a[2].(string), b[2].(string)))
		})
		res, err := s.db.QueryContext(ctx, insertEvents, arrays(eventColumns, rows)...)
		if err != nil {
			return nil, err
		}
		for res.Next() {
			var k [3]string
			if err := res.Scan(&k[0], &k[1], &k[2]); err != nil {
				res.Close()
				return nil, err
			}
			stored[k] = true
		}
		return stored, closeRows(res)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(stored)
		st, err := s.prepare(ctx, tx, `INSERT INTO touch_events (`+columnNames(eventColumns)+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (namespace, source, event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		for _, row := range rows {
			res, err := st.ExecContext(ctx, row...)
			var n int64
			if err := count(res, err, &n); err != nil {
				return err
			}
			if n > 0 {
				stored[[3]string{row[0].(string), row[1].(string), row[2].(string)}] = true
			}
		}
		return nil
	})
	return stored, err
}

// Events lists a namespace's events received since a time, oldest first, at most limit.
func (s *sqlStore) Events(ctx context.Context, namespace string, since time.Time, limit int) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT source, event_id, type, subject, event_time, received_at, fields FROM touch_events
		WHERE namespace = $1 AND received_at >= $2 ORDER BY received_at, source, event_id LIMIT $3`), namespace, micros(since), limit)
	if err != nil {
		return nil, err
	}
	var out []Event
	for rows.Next() {
		var e Event
		var at, received int64
		var fields string
		if err := rows.Scan(&e.Source, &e.ID, &e.Type, &e.Subject, &at, &received, &fields); err != nil {
			rows.Close()
			return nil, err
		}
		if at != 0 {
			e.Time = fromMicros(at)
		}
		e.ReceivedAt = fromMicros(received)
		if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, closeRows(rows)
}

// eraseEvents deletes, in an erasure's transaction, a namespace's events any of whose fields is
// the person's key (which field holds the id is each campaign's choice, so every field is
// read): counted in n.
func (s *sqlStore) eraseEvents(ctx context.Context, tx *sql.Tx, namespace, recipientKey string, n *int64) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT source, event_id, fields FROM touch_events WHERE namespace = $1`), namespace)
	if err != nil {
		return err
	}
	type key struct{ source, id string }
	var theirs []key
	for rows.Next() {
		var k key
		var raw string
		if err := rows.Scan(&k.source, &k.id, &raw); err != nil {
			rows.Close()
			return err
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			rows.Close()
			return err
		}
		for _, v := range fields {
			if strings.TrimSpace(v) == recipientKey {
				theirs = append(theirs, k)
				break
			}
		}
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	for _, k := range theirs {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM touch_events WHERE namespace = $1 AND source = $2 AND event_id = $3`), namespace, k.source, k.id)
		if err := count(res, err, n); err != nil {
			return err
		}
	}
	return nil
}

// expireEvents deletes the events received more than EventRetention before now, expireBatch
// at a time, each batch a transaction of its own, so that other writers wait little.
func (s *sqlStore) expireEvents(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM touch_events WHERE (namespace, source, event_id) IN (
				SELECT namespace, source, event_id FROM touch_events WHERE received_at < $1 LIMIT $2)`),
				micros(now.Add(-EventRetention)), expireBatch)
			return count(res, err, &n)
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < expireBatch {
			return total, s.expireDecisions(ctx, now)
		}
	}
}

// expireDecisions deletes the decisions about events that invited nobody (they hold no
// person) once EventRetention has passed since they were made: their events are gone by then,
// and could not be decided again. An invited event's decision goes with its wave's
// invitations (expireInvitations).
func (s *sqlStore) expireDecisions(ctx context.Context, now time.Time) error {
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM touch_decisions WHERE (campaign_uid, source, event_id) IN (
				SELECT campaign_uid, source, event_id FROM touch_decisions WHERE wave_id = '' AND decided_at < $1 LIMIT $2)`),
				micros(now.Add(-EventRetention)), expireBatch)
			return count(res, err, &n)
		})
		if err != nil || n < expireBatch {
			return err
		}
	}
}
