package store

import (
	"context"
	"sync"
)

// group is a group-commit queue (commit.go says why): callers queue what they write, and
// committers each take the first item waiting and every other one waiting by then (up to a
// bound), and write them in one transaction. Responses and touch-point events each have one.
type group[P any] struct {
	once  sync.Once
	queue chan P
	stop  chan struct{}
	wg    sync.WaitGroup
	// enqueue is held (shared) while an item is queued, and (exclusively) to close: every item
	// queued before the close is committed, none after it is queued.
	enqueue sync.RWMutex
	closed  bool
}

// submit queues p, starting the committers the first time: committers of them, each running
// commit on the batches it takes (at most max items; turn counts a committer's batches). It
// returns errClosed after close, and ctx's error if ctx ends before p is queued; once queued,
// p is committed whatever happens to the caller.
func (g *group[P]) submit(ctx context.Context, p P, committers, max int, commit func(committer, turn int, batch []P)) error {
	g.once.Do(func() {
		g.queue, g.stop = make(chan P, 4*max), make(chan struct{})
		for i := range committers {
			g.wg.Add(1)
			go g.loop(i, max, commit)
		}
	})
	g.enqueue.RLock()
	defer g.enqueue.RUnlock()
	if g.closed {
		return errClosed
	}
	select {
	case g.queue <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop is one committer: a batch is what queued while the previous one committed, so a lone
// item commits at once, and under load one commit serves many.
func (g *group[P]) loop(committer, max int, commit func(committer, turn int, batch []P)) {
	defer g.wg.Done()
	for turn := 0; ; turn++ {
		var first P
		select {
		case first = <-g.queue:
		case <-g.stop:
			// Finish what was queued before the store closed.
			for {
				select {
				case p := <-g.queue:
					commit(committer, turn, []P{p})
				default:
					return
				}
			}
		}
		batch := []P{first}
	more:
		for len(batch) < max {
			select {
			case p := <-g.queue:
				batch = append(batch, p)
			default:
				break more
			}
		}
		commit(committer, turn, batch)
	}
}

// close stops the committers once what was queued is committed.
func (g *group[P]) close() {
	g.enqueue.Lock()
	if g.closed {
		g.enqueue.Unlock()
		return
	}
	g.closed = true
	g.once.Do(func() {}) // never started: nothing to stop, and nothing starts now
	g.enqueue.Unlock()
	if g.stop != nil {
		close(g.stop)
		g.wg.Wait()
	}
}
