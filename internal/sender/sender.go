// Package sender runs one sending Job: it reads the audience, asks the ledger who must be left
// out, records every invitation in the ledger before sending it, sends through the channels
// within their rate limits, and records the outcome. A retried or restarted sender skips what
// the ledger says was sent.
//
// The guarantee, per channel, when a sender dies between recording and sending:
//   - An invitation the ledger marks sent, failed or bounced is never sent again.
//   - Each invitation is marked "sending" just before its channel is called. One left "reserved"
//     by a sender that died was never attempted, or was released because the channel certainly
//     did not take it (a refusal for now, tried again after a backoff): it is simply sent.
//   - One left "sending" may or may not have gone. It is resent only on channels whose gateways
//     recognise a resend (webhooks carry an Idempotency-Key, the same for every attempt at one
//     invitation); on email, which has no such guarantee, it is marked "unknown" and counted as
//     possibly sent, never sent twice. No more than Window invitations are marked "sending"
//     without a recorded outcome (see stream), so a kill makes at most Window ambiguous.
//   - A sender stopped by its context (SIGTERM) or by quiet hours marks nothing more, sends what
//     it has marked and records it: it leaves nothing ambiguous.
//
// So: at most once on email, at most once on webhooks whose gateway honours Idempotency-Key
// (at least once otherwise), and nobody is lost: every invitation ends sent, failed, bounced or
// unknown.
package sender

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
	"github.com/surveyops/survey-operator/internal/token"
)

// Ledger is what the sender needs of the response service (responseapi.Client implements it).
type Ledger interface {
	Reserve(ctx context.Context, invs []responseapi.Invitation) ([]responseapi.Invitation, error)
	Mark(ctx context.Context, m responseapi.Mark) error
	MarkMany(ctx context.Context, marks []responseapi.Mark) error
	Contacted(ctx context.Context, namespace string, keys []string, since time.Time, exceptCampaignUID, exceptWaveID string) (map[string]bool, error)
	OptedOut(ctx context.Context, namespace string, keys []string) (map[string]bool, error)
	Suppressed(ctx context.Context, namespace string, keys []string) (map[string][]string, error)
	Unanswered(ctx context.Context, campaignUID, waveID string, keys []string) (map[string]bool, error)
	PutFrame(ctx context.Context, campaignUID, waveID string, shard int, f responseapi.Frame) error
}

// Job is one wave's (or reminder round's) sending.
type Job struct {
	CampaignUID, WaveID, Namespace, Campaign, Title string
	Round                                           int
	// PublicURL is where respondents reach the response service; links are PublicURL/s/TOKEN.
	PublicURL string
	// Languages are the survey's (its own first): a person whose language (the audience's
	// language column) is one of them gets a link that opens the survey in it (?lang=), and
	// messages in it: the title in Titles (the survey's other languages', by language), the
	// operator's own words, and the email subject of that language.
	Languages []string
	Titles    map[string]string
	// Expiry is when the links expire: the end of the wave's window.
	Expiry time.Time
	Keys   *token.KeyRing

	Plan *audience.Plan
	// Open opens the audience file; it is read twice (validate and sample, then send).
	Open func() (io.ReadCloser, error)
	// Version is the version of the list that Open read, when it is a file on a volume (nil
	// otherwise), for the manager to pin the wave's later rounds to.
	Version func() *jobfile.FilePin
	// Seed makes the sample: the same seed picks the same people.
	Seed string
	// Shard and Shards split the audience between the pods of an indexed Job.
	Shard, Shards int
	// ContactedWithin leaves out people sent anything in the namespace this recently.
	ContactedWithin time.Duration

	Channels map[string]channel.Channel
	// Idempotent names the channels whose gateways recognise a resent invitation.
	Idempotent map[string]bool
	Limits     map[string]*rate.Limiter
	Quiet      schedule.QuietHours
	Ledger     Ledger

	// Now is the clock (time.Now when nil); BatchSize (200) and Concurrency (8) tune the work.
	Now         func() time.Time
	BatchSize   int
	Concurrency int
	// Window (4 x Concurrency) bounds the invitations marked "sending" without a recorded
	// outcome: what a kill can leave ambiguous.
	Window int
	// A message the channel certainly did not take (a relay unreachable or answering 4xx, a
	// gateway's 429 or 503) is released to reserved in the ledger and tried again after
	// RetryBackoff, doubling up to a minute, RetryAttempts times in all (8 and 2 s: about three
	// minutes); then it is recorded failed with the last reason.
	RetryAttempts int
	RetryBackoff  time.Duration
	// Progress, when set, is called after every batch with the summary so far.
	Progress func(jobfile.Summary)
	// FollowUp, when set, makes this a follow-up batch: the FollowUp's cases to contact, not
	// the audience's sample.
	FollowUp *FollowUp
	// Events, when set, makes this a touch-point campaign's Job: the people of the events due,
	// not a list's (touchpoints.go).
	Events *Events
}

// ErrQuietHours stops a run that reached quiet hours; the rest is left for the next window.
var ErrQuietHours = errors.New("stopped at the start of quiet hours")

type run struct {
	job   Job
	start time.Time
	// mu guards sum's Sent, Failed and Retried, which the stream's coordinator counts while
	// the producer reads the audience and counts the rest.
	mu  sync.Mutex
	sum jobfile.Summary
	// frame is what the scan counted of each segment, and the people of this shard left out
	// of the invitations by segment (an invitation round's; nil otherwise).
	frame map[string]*responseapi.FrameSegment
	// afterSent, when set, is called with sent invitations once they are recorded.
	afterSent func(ctx context.Context, sent []responseapi.Invitation) error
	// stream, when set, takes the reserved invitations of every batch (a wave's run).
	stream *stream
	// closes are the touch-point waves' ends, by id: when their links expire.
	closes map[string]time.Time
	// reserve, when set, reserves a batch's invitations in place of the ledger's Reserve, told
	// why each person left out was (a touch-point run records its decisions with them).
	reserve func(ctx context.Context, want []responseapi.Invitation, left map[string]string) ([]responseapi.Invitation, error)
}

// snapshot is a copy of the summary so far.
func (r *run) snapshot() jobfile.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Failed, s.Skipped = maps.Clone(s.Failed), maps.Clone(s.Skipped)
	return s
}

// Run sends the Job. The audience is validated in full before anything is sent: a bad line
// stops the run with nothing sent.
func Run(ctx context.Context, job Job) (jobfile.Summary, error) {
	if job.Now == nil {
		job.Now = time.Now
	}
	if job.BatchSize <= 0 {
		job.BatchSize = 200
	}
	if job.Concurrency <= 0 {
		job.Concurrency = 8
	}
	if job.Window <= 0 {
		job.Window = 4 * job.Concurrency
	}
	if job.RetryAttempts <= 0 {
		job.RetryAttempts = 8
	}
	if job.RetryBackoff <= 0 {
		job.RetryBackoff = 2 * time.Second
	}
	r := &run{job: job, start: job.Now(), sum: jobfile.Summary{Failed: map[string]int{}, Skipped: map[string]int{}}}
	var err error
	switch {
	case job.FollowUp != nil:
		err = r.followUp(ctx)
	case job.Events != nil && job.Round > 0:
		err = r.touchPointReminders(ctx)
	case job.Events != nil:
		err = r.touchPoints(ctx)
	default:
		err = r.send(ctx)
	}
	r.sum.DurationSeconds = job.Now().Sub(r.start).Seconds()
	if job.Version != nil {
		r.sum.Pin = job.Version()
	}
	switch {
	case errors.Is(err, ErrQuietHours):
		r.sum.Stopped = jobfile.StoppedQuietHours
		return r.sum, err
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		r.sum.Stopped = "terminated"
		r.sum.Error = err.Error()
		return r.sum, err
	case err != nil:
		r.sum.Error = err.Error()
		return r.sum, err
	}
	return r.sum, nil
}

func (r *run) send(ctx context.Context) error {
	f, err := r.job.Open()
	if err != nil {
		return fmt.Errorf("opening the audience: %w", err)
	}
	sel, stats, err := r.job.Plan.Scan(f, r.job.Seed)
	f.Close()
	var bad *audience.LineError
	switch {
	case errors.As(err, &bad):
		return fmt.Errorf("the audience is invalid, nothing was sent: %w", err)
	case err != nil:
		return fmt.Errorf("reading the audience, nothing was sent: %w", err)
	}
	defer sel.Close()
	r.sum.Audience = stats.Records
	r.sum.Skipped["unsegmented"] = stats.Unsegmented
	r.sum.Skipped["unreachable"] = stats.Unreachable
	if r.job.Round == 0 {
		// The frame is recorded before anything is sent, so that the wave's figures have their
		// populations from the start, and again at the end with the people left out.
		r.frame = map[string]*responseapi.FrameSegment{}
		for _, seg := range r.job.Plan.Segments() {
			r.frame[seg] = &responseapi.FrameSegment{Segment: seg, Population: stats.BySegment[seg],
				Unreachable: stats.UnreachableBySegment[seg], Sampled: stats.Selected[seg]}
		}
		if err := r.putFrame(ctx); err != nil {
			return err
		}
	}

	f, err = r.job.Open()
	if err != nil {
		return fmt.Errorf("opening the audience: %w", err)
	}
	defer f.Close()
	// Each batch is looked up and reserved while the one before is being sent.
	r.stream = r.startStream(ctx)
	var batch []audience.Invitee
	err = r.job.Plan.Select(f, sel, func(inv audience.Invitee) error {
		if audience.Shard(inv.Key, r.job.Shards) != r.job.Shard {
			return nil
		}
		batch = append(batch, inv)
		if len(batch) < r.job.BatchSize {
			return nil
		}
		err := r.batch(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = r.batch(ctx, batch)
	}
	if serr := (*sourceError)(nil); errors.As(err, &serr) {
		err = fmt.Errorf("reading the audience, sending stopped part way (a rerun sends only the rest): %w", err)
	}
	cerr := r.stream.close()
	if r.frame != nil && (err == nil || errors.Is(err, ErrQuietHours)) && cerr == nil {
		// Every person of this shard was looked at (or, stopped for quiet hours, will be again
		// by the part that continues, which records its own count in place of this one).
		if ferr := r.putFrame(ctx); ferr != nil {
			err = errors.Join(err, ferr) // still a stop for quiet hours, if it was one
		}
	}
	return joinStop(err, cerr)
}

// joinStop is a run's error and its stream's: one of them, or both when they differ.
func joinStop(err, cerr error) error {
	switch {
	case err == nil:
		return cerr
	case cerr == nil || errors.Is(err, cerr):
		return err
	}
	return errors.Join(err, cerr)
}

// putFrame records the frame with the response service.
func (r *run) putFrame(ctx context.Context) error {
	f := responseapi.Frame{Shards: max(1, r.job.Shards), Segments: make([]responseapi.FrameSegment, 0, len(r.frame))}
	for _, seg := range r.job.Plan.Segments() {
		f.Segments = append(f.Segments, *r.frame[seg])
	}
	if err := r.job.Ledger.PutFrame(ctx, r.job.CampaignUID, r.job.WaveID, r.job.Shard, f); err != nil {
		return fmt.Errorf("recording the audience's frame: %w", err)
	}
	return nil
}

func (r *run) batch(ctx context.Context, batch []audience.Invitee) error {
	defer func() {
		if r.job.Progress != nil {
			r.job.Progress(r.snapshot())
		}
	}()
	// Quiet hours are checked before reserving (a run that starts in them reserves nothing), and
	// by the stream before it marks.
	if r.job.Quiet.Quiet(r.job.Now()) {
		return ErrQuietHours
	}
	keys := make([]string, len(batch))
	for i, inv := range batch {
		keys[i] = inv.Key
	}
	optedOut, err := r.job.Ledger.OptedOut(ctx, r.job.Namespace, keys)
	if err != nil {
		return fmt.Errorf("asking the ledger for opt-outs: %w", err)
	}
	// An address that bounced before is not tried again.
	suppressed, err := r.job.Ledger.Suppressed(ctx, r.job.Namespace, keys)
	if err != nil {
		return fmt.Errorf("asking the ledger for addresses that bounced: %w", err)
	}
	// A reminder round goes only to people whose invitation went and who have not answered; the
	// invitation itself is a recent contact, so contactedWithin applies to invitations only.
	var due map[string]bool
	if r.job.Round > 0 {
		if due, err = r.job.Ledger.Unanswered(ctx, r.job.CampaignUID, r.job.WaveID, keys); err != nil {
			return fmt.Errorf("asking the ledger who has not answered: %w", err)
		}
	}
	contacted := map[string]bool{}
	if r.job.ContactedWithin > 0 && r.job.Round == 0 {
		since := r.job.Now().Add(-r.job.ContactedWithin)
		if contacted, err = r.job.Ledger.Contacted(ctx, r.job.Namespace, keys, since, r.job.CampaignUID, r.job.WaveID); err != nil {
			return fmt.Errorf("asking the ledger for recent contacts: %w", err)
		}
	}
	var want []responseapi.Invitation
	var wanted []audience.Invitee // want's people
	left := map[string]string{}   // why each person left out was, by key
	for _, inv := range batch {
		// An address that bounced before: the next of the segment's channels that reaches the
		// person, if any.
		bounced := slices.Contains(suppressed[inv.Key], inv.Channel)
		if bounced {
			if alt, ok := r.job.Plan.Reroute(inv, func(ch string) bool { return slices.Contains(suppressed[inv.Key], ch) }); ok {
				inv, bounced = alt, false
				r.sum.Skipped["rerouted-after-bounce"]++
			}
		}
		switch {
		case optedOut[inv.Key]:
			r.sum.Skipped["opted-out"]++
			left[inv.Key] = "opted-out"
			if r.frame != nil {
				r.frame[inv.Segment].OptedOut++
			}
		case bounced:
			r.sum.Skipped["bounced-before"]++
			left[inv.Key] = "bounced-before"
		case contacted[inv.Key]:
			r.sum.Skipped["contacted-recently"]++
			left[inv.Key] = "contacted-recently"
			if r.frame != nil {
				r.frame[inv.Segment].ContactedRecently++
			}
		case due != nil && !due[inv.Key]:
			r.sum.Skipped["answered-or-not-invited"]++
		default:
			wanted = append(wanted, inv)
			want = append(want, responseapi.Invitation{CampaignUID: r.job.CampaignUID, WaveID: r.job.WaveID, RecipientKey: inv.Key,
				Round: r.job.Round, Namespace: r.job.Namespace, Segment: inv.Segment, Channel: inv.Channel})
		}
	}
	var stored []responseapi.Invitation
	switch {
	case r.reserve != nil:
		stored, err = r.reserve(ctx, want, left)
	case len(want) == 0:
		return nil
	default:
		stored, err = r.job.Ledger.Reserve(ctx, want)
	}
	if err != nil {
		return fmt.Errorf("reserving invitations: %w", err)
	}
	byKey := make(map[string]audience.Invitee, len(want))
	for i, w := range want { // by the wave reserve put each in
		byKey[inviteeKey(w.WaveID, w.RecipientKey)] = wanted[i]
	}
	return r.queue(ctx, stored, byKey)
}

// queue hands reserved invitations to the stream, by the state the ledger holds them in: one
// being sent when a sender died is sent again only on a channel that recognises a resend (and
// is marked unknown otherwise); one sent, failed or bounced already is not sent again.
func (r *run) queue(ctx context.Context, stored []responseapi.Invitation, byKey map[string]audience.Invitee) error {
	var todo []responseapi.Invitation
	for _, row := range stored {
		stale := row.ReservedAt != nil && row.ReservedAt.Before(r.start)
		switch {
		case row.State == "sending" && !r.job.Idempotent[row.Channel]:
			// A sender died while sending it: it may have gone. Never send twice here.
			if err := r.mark(ctx, row, "unknown", "interrupted"); err != nil {
				return err
			}
			r.sum.Skipped["possibly-sent"]++
		case row.State == "sending":
			r.sum.Skipped["resent-idempotent"]++
			todo = append(todo, row)
		case row.State != "reserved":
			r.sum.Skipped["already-"+row.State]++
		case stale:
			r.sum.Skipped["resumed"]++ // reserved by a sender that died before trying it
			todo = append(todo, row)
		default:
			r.sum.Invited++
			todo = append(todo, row)
		}
	}
	return r.stream.add(items(todo, byKey))
}

// items pairs reserved invitations with their people.
func items(rows []responseapi.Invitation, byKey map[string]audience.Invitee) []item {
	out := make([]item, len(rows))
	for i, row := range rows {
		out[i] = item{row: row, inv: byKey[inviteeKey(row.WaveID, row.RecipientKey)]}
	}
	return out
}

func (r *run) mark(ctx context.Context, row responseapi.Invitation, state, reason string) error {
	if err := r.job.Ledger.Mark(ctx, markOf(row, state, reason)); err != nil {
		return fmt.Errorf("recording an outcome in the ledger: %w", err)
	}
	return nil
}

// deliver sends reserved invitations, and returns once all are sent and recorded.
func (r *run) deliver(ctx context.Context, todo []responseapi.Invitation, byKey map[string]audience.Invitee) error {
	st := r.startStream(ctx)
	return errors.Join(st.add(items(todo, byKey)), st.close())
}

// inviteeKey indexes the people of a batch by wave and key: a follow-up batch may hold the
// same person for two waves.
func inviteeKey(wave, key string) string { return wave + "\x00" + key }

// record writes marks to the ledger in one transaction. What happened is recorded even when
// the run is being stopped (SIGTERM): the call outlives the run's context, for a while.
func (r *run) record(ctx context.Context, marks []responseapi.Mark) error {
	if len(marks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.job.Ledger.MarkMany(ctx, marks); err != nil {
		return fmt.Errorf("recording in the ledger: %w", err)
	}
	return nil
}

func markOf(row responseapi.Invitation, state, reason string) responseapi.Mark {
	return responseapi.Mark{CampaignUID: row.CampaignUID, WaveID: row.WaveID, RecipientKey: row.RecipientKey,
		Round: row.Round, State: state, Reason: reason}
}

// message builds the person's message with their signed links.
func (r *run) message(inv audience.Invitee, row responseapi.Invitation) (channel.Message, error) {
	if r.job.FollowUp != nil {
		return r.followUpMessage(inv, row)
	}
	expiry := r.job.Expiry
	if r.job.Events != nil && r.job.WaveID == "" { // each invitation's wave is the day its event fell due
		expiry = r.closes[row.WaveID]
	}
	tok, err := r.job.Keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: r.job.CampaignUID, Wave: row.WaveID,
		Recipient: inv.Key, Segment: inv.Segment, Channel: row.Channel, Expiry: expiry})
	if err != nil {
		return channel.Message{}, &channel.Error{Permanent: true, Reason: "token", Err: err}
	}
	to := inv.Contact
	if row.Channel != inv.Channel { // reserved by an earlier run through another channel
		to = inv.Contacts.Of(row.Channel)
	}
	query, lang, title := "", "en", r.job.Title
	if len(r.job.Languages) > 0 {
		lang = r.job.Languages[0]
	}
	if matched, ok := i18n.Match(r.job.Languages, inv.Language); ok {
		query, lang = "?lang="+url.QueryEscape(matched), matched
		title = cmp.Or(r.job.Titles[matched], title)
	}
	return channel.Message{To: to, Title: title, Campaign: r.job.Campaign, Segment: inv.Segment,
		Link: r.job.PublicURL + "/s/" + tok + query, OptOutLink: r.job.PublicURL + "/o/" + tok + query, Reminder: r.job.Round > 0,
		Lang: lang, Dir: i18n.Dir(lang), Words: i18n.Mail(lang)}, nil
}
