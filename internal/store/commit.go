package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// Group commit. Responses arriving together share one commit, and one sync of the database: a
// committer takes the first response waiting, every other one waiting by then (up to
// maxBatch), writes them all, applies their aggregates once, and commits; each SaveResponse
// returns only after the commit that holds its response, so nothing acknowledged is ever lost.
// No response waits for others to arrive: a batch is what queued while the previous one
// committed, so a lone response commits at once, and under load a sync serves many.
//
// SQLite has one committer (it has one writer), which writes a batch response by response in
// one transaction: its statements run in process, so what a batch saves is the syncs.
// PostgreSQL has postgresCommitters, each on its own connection, and writes most of a batch in
// one statement, since there each statement is a round trip (commit_postgres.go).
//
// Each committer adds to the aggregates in slots of its own (aggregates.go), so concurrent
// committers never wait for each other's rows.
//
// A response refused before it writes anything (its wave unknown or closed, its signed request
// replayed) gets its own error, and the others of its batch go on. Any other failure fails the
// whole batch, and every caller in it is told: none of them was acknowledged.

// maxBatch bounds the responses of one transaction.
const maxBatch = 128

// batchTimeout bounds one batch's transaction: it runs apart from any one caller's context.
const batchTimeout = 30 * time.Second

type pendingResponse struct {
	r    Response
	now  time.Time
	done chan savedResponse
}

type savedResponse struct {
	created bool
	err     error
}

// postgresCommitters commit batches side by side on PostgreSQL.
const postgresCommitters = 2

// committer runs the batches of responses.
type committer struct {
	group[*pendingResponse]
	// batches and responses count what was committed, for the benchmarks.
	mu                 sync.Mutex
	batches, responses int
}

// errClosed is a write queued after the store was closed.
var errClosed = errors.New("the store is closed")

func (s *sqlStore) SaveResponse(ctx context.Context, r Response, now time.Time) (bool, error) {
	committers := 1
	if !s.sqlite {
		committers = postgresCommitters
	}
	p := &pendingResponse{r: r, now: now, done: make(chan savedResponse, 1)}
	if err := s.commits.submit(ctx, p, committers, maxBatch, func(committer, turn int, batch []*pendingResponse) {
		s.commitBatch(batch, s.committerSlot(committer, turn))
	}); err != nil {
		return false, err
	}
	// Once queued, the response is written or refused whatever happens to the caller: wait for
	// the outcome, so that an acknowledgement always follows the commit.
	res := <-p.done
	return res.created, res.err
}

// commitBatch writes a batch and tells each caller its outcome.
func (s *sqlStore) commitBatch(batch []*pendingResponse, slot int) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]savedResponse, len(batch))
	var err error
	if s.sqlite {
		all := make([]int, len(batch))
		for i := range all {
			all[i] = i
		}
		err = s.saveEach(ctx, batch, all, results, slot)
	} else {
		err = s.commitPostgres(ctx, batch, results, slot)
	}
	c := &s.commits
	c.mu.Lock()
	c.batches++
	c.responses += len(batch)
	c.mu.Unlock()
	for i, p := range batch {
		if err != nil {
			results[i] = savedResponse{err: err}
		}
		p.done <- results[i]
	}
}

// closeCommitter stops the committers once what was queued is committed.
func (s *sqlStore) closeCommitter() {
	s.commits.close()
	s.events.close()
}

// saveEach writes batch[i], for each i in which, one after the other in one transaction, each
// outcome in results, the aggregates in slot.
func (s *sqlStore) saveEach(ctx context.Context, batch []*pendingResponse, which []int, results []savedResponse, slot int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		t := s.tallyIn(slot)
		for _, i := range which {
			p := batch[i]
			created, err := s.saveResponse(ctx, tx, p.r, p.now, t)
			switch {
			case refused(err):
				results[i].err = err // refused before it wrote anything
			case err != nil:
				return err
			default:
				results[i].created = created
			}
		}
		return s.apply(ctx, tx, t)
	})
}

// committerSlot is the slot of a committer's turn-th batch: on PostgreSQL each committer turns
// through slots of its own, so that one row is not updated by every batch (each update leaves a
// version of the row behind until PostgreSQL prunes it).
func (s *sqlStore) committerSlot(committer, turn int) int {
	if s.sqlite {
		return 0
	}
	return committer + postgresCommitters*(turn%(committerSlots/postgresCommitters))
}

// committerSlots are the slots the committers turn through; the other writes take the rest.
const committerSlots = 16
