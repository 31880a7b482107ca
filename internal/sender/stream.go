package sender

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// sendGrace is how long the sends in progress may go on once the run is stopped (SIGTERM): a
// Job's pod has 30 s before it is killed, and what went must still be recorded.
const sendGrace = 20 * time.Second

// item is one reserved invitation to send, with the person it goes to.
type item struct {
	row responseapi.Invitation
	inv audience.Invitee
	// tries is the sends already tried that the channel certainly did not take; due is when the
	// next may be.
	tries int
	due   time.Time
}

// result is a send's outcome. A release is a retryable failure, recorded as reserved again.
type result struct {
	it      item
	err     error
	release bool
}

// maxRetryBackoff caps the wait before a message is tried again.
const maxRetryBackoff = time.Minute

// retryBackoff is the wait before the next try of a message tried `tries` times.
func (r *run) retryBackoff(tries int) time.Duration {
	d := r.job.RetryBackoff
	for i := 1; i < tries && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

// stream sends reserved invitations. Concurrency workers send; one coordinator marks the
// invitations "sending" in the ledger ahead of them and records their outcomes. There is one
// ledger call at a time, and never more than Window invitations marked "sending" without a
// recorded outcome, which bounds what a kill leaves ambiguous. Within that bound the coordinator
// keeps the workers supplied: when no more than half the window is left unsent, it makes the
// next call, which records every outcome come back since the last and marks as many more as the
// window allows. Each call so carries as much as
// has accumulated (a slow ledger gets fewer, larger calls), and no worker waits for a call
// while marked invitations remain. The producer (who reserves) feeds the stream as it goes, so
// the next batch is looked up and reserved while this one is being sent.
//
// A message the channel certainly did not take is released (recorded reserved again, outside the
// window) and tried again after a backoff, RetryAttempts times in all.
//
// Stopped (the run's context ends, or quiet hours begin), the stream marks nothing more, sends
// what it has marked (sends in progress, and those begun, may take sendGrace), records the
// outcomes and ends: the invitations it had not marked stay reserved, for the next run.
type stream struct {
	r      *run
	ctx    context.Context
	in     chan []item
	done   chan struct{}
	err    error // the coordinator's, once done is closed
	closed bool
}

// startStream starts a stream's coordinator and workers.
func (r *run) startStream(ctx context.Context) *stream {
	s := &stream{r: r, ctx: ctx, in: make(chan []item), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = s.coordinate()
	}()
	return s
}

// add hands reserved invitations to the stream, waiting while it holds two batches unmarked.
func (s *stream) add(items []item) error {
	for _, it := range items {
		if s.r.job.Channels[it.row.Channel] == nil {
			return fmt.Errorf("no channel %q configured", it.row.Channel)
		}
	}
	if len(items) == 0 {
		return nil
	}
	select {
	case s.in <- items:
		return nil
	case <-s.done:
		return s.err
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// close says nothing more comes, and waits for the stream to send and record all it has.
func (s *stream) close() error {
	if !s.closed {
		s.closed = true
		close(s.in)
	}
	<-s.done
	return s.err
}

func (s *stream) coordinate() error {
	r, ctx := s.r, s.ctx
	conc := r.job.Concurrency
	window := max(r.job.Window, conc)
	low := window / 2                    // marked invitations left unsent when the next call is made
	hold := max(r.job.BatchSize, window) // unmarked invitations held before add waits

	// The sends outlive a stop by sendGrace: a message half-sent is finished and recorded.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stopSends := context.AfterFunc(ctx, func() { time.AfterFunc(sendGrace, cancelSends) })
	defer stopSends()

	work := make(chan item)
	results := make(chan result, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for it := range work {
				results <- result{it: it, err: r.sendOne(sendCtx, it)}
			}
		})
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	type call struct {
		recorded []result
		marked   []item
		err      error
	}
	var (
		queue    []item   // reserved, not yet marked
		retry    []item   // released after a retryable failure, to try again when due
		marked   []item   // marked "sending", not yet given to a worker
		busy     int      // with a worker
		pending  []result // sent or failed, not yet recorded
		calling  chan call
		inOpen   = true
		stopping bool // the run's context ended, or quiet hours began: nothing more is marked
		quiet    bool
		failed   error
	)
	stopped := ctx.Done()
	for {
		unsent := len(marked) + busy
		ending := stopping || failed != nil || (!inOpen && len(queue) == 0 && len(retry) == 0)
		var wait time.Duration // until the next invitation's channel may send again
		if calling == nil && failed == nil && (unsent <= low || ending) {
			if !stopping && len(queue)+len(retry) > 0 && r.job.Quiet.Quiet(r.job.Now()) {
				stopping, quiet, ending = true, true, true
			}
			var take []item
			if !stopping {
				take, retry, queue, wait = s.takeDue(retry, queue, window-unsent)
			}
			if len(take) > 0 || len(pending) > 0 {
				c := call{recorded: pending, marked: take}
				pending = nil
				calling = make(chan call, 1)
				go func(done chan<- call) {
					marks := make([]responseapi.Mark, 0, len(c.recorded)+len(c.marked))
					for _, res := range c.recorded {
						marks = append(marks, r.outcome(res))
					}
					for _, it := range c.marked {
						marks = append(marks, markOf(it.row, "sending", ""))
					}
					c.err = r.record(ctx, marks)
					done <- c
				}(calling)
			}
		}
		if calling == nil && unsent == 0 && ending {
			break
		}

		var (
			giveTo chan<- item
			next   item
			feed   <-chan []item
			timer  <-chan time.Time
		)
		if len(marked) > 0 {
			giveTo, next = work, marked[0]
		}
		if inOpen && !stopping && failed == nil && len(queue) < hold {
			feed = s.in
		}
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case giveTo <- next:
			marked = marked[1:]
			busy++
		case res := <-results:
			busy--
			if channel.IsRetryable(res.err) && res.it.tries+1 < r.job.RetryAttempts {
				res.release = true
			}
			r.count(res)
			pending = append(pending, res)
		case c := <-calling:
			calling = nil
			switch {
			case c.err != nil:
				// Unknown whether the call was recorded: what it marked is not sent (a rerun
				// finds it "sending" or reserved), what it recorded is recorded again below.
				failed = c.err
				pending = append(c.recorded, pending...)
			default:
				marked = append(marked, c.marked...)
				for _, res := range c.recorded {
					if res.release && !stopping {
						it := res.it
						it.tries++
						it.due = time.Now().Add(r.retryBackoff(it.tries))
						retry = append(retry, it)
					}
				}
				failed = s.afterRecorded(ctx, c.recorded)
			}
		case items, ok := <-feed:
			if ok {
				queue = append(queue, items...)
			} else {
				inOpen = false
			}
		case <-timer:
		case <-stopped:
			stopping, stopped = true, nil
		}
		if t != nil {
			t.Stop()
		}
	}
	if failed != nil {
		marks := make([]responseapi.Mark, len(pending))
		for i, res := range pending {
			marks[i] = r.outcome(res)
		}
		return errors.Join(failed, r.record(ctx, marks))
	}
	switch {
	case quiet:
		return ErrQuietHours
	case stopping:
		return ctx.Err()
	}
	return nil
}

// takeDue takes up to n invitations: first the retries that are due, then from the queue. It
// returns what is left of both, and how long until one may go when none can now.
func (s *stream) takeDue(retry, queue []item, n int) (take, retryLeft, queueLeft []item, wait time.Duration) {
	now := time.Now()
	var due []item
	for _, it := range retry {
		if !it.due.After(now) {
			due = append(due, it)
			continue
		}
		retryLeft = append(retryLeft, it)
		if d := it.due.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	take, due, dueWait := s.take(due, n)
	retryLeft = append(due, retryLeft...)
	more, queueLeft, queueWait := s.take(queue, n-len(take))
	take = append(take, more...)
	if len(take) > 0 {
		return take, retryLeft, queueLeft, 0
	}
	for _, d := range []time.Duration{dueWait, queueWait} {
		if d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	return nil, retryLeft, queueLeft, wait
}

// take picks up to n invitations, in order, whose channels' rate limits let them go now, and
// returns them and the rest of the queue. An invitation whose channel must wait does not hold up
// those of other channels behind it (SMS at a gateway's pace, email at the relay's). When nothing
// can go, it says how long until the first channel that must wait may send again.
func (s *stream) take(queue []item, n int) (take, rest []item, wait time.Duration) {
	var skipped []item
	var waiting map[string]bool // channels found out of tokens in this pass
	i := 0
	for ; i < len(queue) && len(take) < n; i++ {
		it := queue[i]
		name := it.row.Channel
		lim := s.r.job.Limits[name]
		if lim == nil || !waiting[name] && lim.Allow() {
			take = append(take, it)
			continue
		}
		skipped = append(skipped, it)
		if waiting[name] {
			continue
		}
		if waiting == nil {
			waiting = map[string]bool{}
		}
		waiting[name] = true
		d := time.Millisecond
		if l := float64(lim.Limit()); l > 0 {
			d = max(d, time.Duration((1-lim.Tokens())/l*float64(time.Second)))
		}
		if wait == 0 || d < wait {
			wait = d
		}
	}
	if skipped == nil {
		return take, queue[i:], 0
	}
	if len(take) > 0 {
		wait = 0
	}
	return take, append(skipped, queue[i:]...), wait
}

// afterRecorded runs what follows recorded sends (a follow-up's tickets), once they are in the
// ledger.
func (s *stream) afterRecorded(ctx context.Context, recorded []result) error {
	if s.r.afterSent == nil {
		return nil
	}
	var ok []responseapi.Invitation
	for _, res := range recorded {
		if res.err == nil {
			ok = append(ok, res.it.row)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	return s.r.afterSent(ctx, ok)
}

// sendOne sends one invitation.
func (r *run) sendOne(ctx context.Context, it item) error {
	msg, err := r.message(it.inv, it.row)
	if err != nil {
		return err
	}
	return r.job.Channels[it.row.Channel].Send(ctx, msg, fmt.Sprintf("%s/%s/%s/%d", it.row.CampaignUID, it.row.WaveID, it.row.RecipientKey, it.row.Round))
}

// count adds a send's outcome to the summary.
func (r *run) count(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.release {
		r.sum.Retried++
		return
	}
	if res.err == nil {
		r.sum.Sent++
		return
	}
	r.sum.Failed[channel.ReasonOf(res.err)]++
}

// outcome is the ledger's mark for a send's result.
func (r *run) outcome(res result) responseapi.Mark {
	switch {
	case res.err == nil:
		return markOf(res.it.row, "sent", "")
	case res.release:
		return markOf(res.it.row, "reserved", channel.ReasonOf(res.err))
	}
	return markOf(res.it.row, "failed", channel.ReasonOf(res.err))
}
