package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testsmtp"
	"github.com/surveyops/survey-operator/internal/token"
)

const uid = "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f"

type rig struct {
	t       testing.TB
	store   store.Store
	ledger  *responseapi.Client
	keys    *token.KeyRing
	sink    *testsmtp.Sink
	mu      sync.Mutex
	sms     []map[string]string
	smsURL  string
	now     time.Time
	clockMu sync.Mutex
}

func (r *rig) clock() time.Time {
	r.clockMu.Lock()
	defer r.clockMu.Unlock()
	return r.now
}

func newRig(t testing.TB) *rig {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: bytes.Repeat([]byte{3}, 32)})
	r := &rig{t: t, store: st, keys: keys, now: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)}
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys },
		APIToken: []byte("sender-test-api-token"), Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	r.ledger = responseapi.NewClient(ts.URL, "sender-test-api-token", nil)
	r.sink = testsmtp.Start(t, "None", nil)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]string
		b, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(b, &body)
		r.mu.Lock()
		r.sms = append(r.sms, body)
		r.mu.Unlock()
	}))
	t.Cleanup(gw.Close)
	r.smsURL = gw.URL
	r.registerWave(t)
	return r
}

const people = `tenancy_ref,email,mobile,tenure
T-1,one@example.org,+447700900001,general-needs
T-2,two@example.org,,general-needs
T-3,three@example.org,+447700900003,shared-ownership
T-4,four@example.org,,shared-ownership
T-5,,+447700900005,general-needs
T-6,six@example.org,+447700900006,shared-ownership
`

// registerWave registers the rig's wave with the response service, as the manager does, so
// that responses to it can be stored.
func (r *rig) registerWave(t testing.TB) {
	t.Helper()
	if err := r.store.PutWave(context.Background(), store.Wave{CampaignUID: uid, WaveID: "20260401-0900", Namespace: "riverside-homes",
		Campaign: "tenant-satisfaction", Definition: []byte(`{"questions":[{"id":"tp01","kind":"CSAT"},{"id":"q1","kind":"CSAT"}]}`),
		OpensAt: r.now, ClosesAt: r.now.Add(21 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) job(t testing.TB, data string) Job {
	plan, err := audience.Compile(audience.Spec{Format: audience.CSV, IDField: "tenancy_ref",
		Segments: []audience.Segment{
			{Name: "general-needs", Match: `attrs.tenure == "general-needs"`, Channels: []string{"sms", "email"}},
			{Name: "shared-ownership", Channels: []string{"email"}},
		},
		ContactColumns: map[string]string{"email": "email", "sms": "mobile"}}, []string{"tenancy_ref", "email", "mobile", "tenure"})
	if err != nil {
		t.Fatal(err)
	}
	email, err := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", Port: r.sink.Port, TLS: channel.NoTLS,
		From: "listening@riverside.example", Connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	sms, err := channel.NewWebhook(channel.WebhookConfig{URL: r.smsURL, HMACKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { email.Close() })
	return Job{
		CampaignUID: uid, WaveID: "20260401-0900", Namespace: "riverside-homes", Campaign: "tenant-satisfaction",
		Title: "Riverside Homes tenant survey", PublicURL: "https://listen.example.org", Expiry: r.now.Add(21 * 24 * time.Hour),
		Keys: r.keys, Plan: plan, Seed: uid + "/20260401-0900", Shards: 1,
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil },
		Channels: map[string]channel.Channel{"email": email, "sms": sms}, Idempotent: map[string]bool{"sms": true},
		Ledger: r.ledger, Now: r.clock, BatchSize: 2,
	}
}

// bouncedEarlier records that an invitation to a person through a channel bounced in a wave
// three months ago.
func (r *rig) bouncedEarlier(t *testing.T, person, channel string) {
	t.Helper()
	earlier := store.InvitationKey{CampaignUID: uid, WaveID: "20260101-0900", RecipientKey: person}
	at := r.now.Add(-90 * 24 * time.Hour)
	if _, err := r.store.Reserve(context.Background(), []store.Invitation{{InvitationKey: earlier, Namespace: "riverside-homes",
		Segment: "general-needs", Channel: channel}}, at); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Mark(context.Background(), earlier, store.StateBounced, "bounced", at); err != nil {
		t.Fatal(err)
	}
}

// A person whose address bounced in an earlier wave is not sent to through it again.
func TestSkipsAddressesThatBounced(t *testing.T) {
	r := newRig(t)
	r.bouncedEarlier(t, "T-3", "email")
	sum, err := Run(context.Background(), r.job(t, people))
	if err != nil {
		t.Fatalf("%v (%s)", err, sum.JSON())
	}
	if sum.Skipped["bounced-before"] != 1 || sum.Sent != 5 {
		t.Errorf("summary %s; want T-3's email address left out", sum.JSON())
	}
	for _, m := range r.sink.Messages() {
		if strings.Contains(m.To, "three@example.org") {
			t.Errorf("an email went to the address that bounced")
		}
	}
}

// A person whose first channel bounced before is reached through the segment's next one.
func TestReroutesAfterABounce(t *testing.T) {
	r := newRig(t)
	r.bouncedEarlier(t, "T-1", "sms")
	sum, err := Run(context.Background(), r.job(t, people))
	if err != nil {
		t.Fatalf("%v (%s)", err, sum.JSON())
	}
	if sum.Skipped["rerouted-after-bounce"] != 1 || sum.Skipped["bounced-before"] != 0 || sum.Sent != 6 || len(r.sms) != 1 {
		t.Errorf("summary %s, %d SMS; want T-1 emailed instead of texted", sum.JSON(), len(r.sms))
	}
	emailed := false
	for _, m := range r.sink.Messages() {
		emailed = emailed || strings.Contains(m.To, "one@example.org")
	}
	if !emailed {
		t.Error("T-1 was not emailed")
	}
}

// An invitation reserved by an earlier run through another channel (its first channel has
// bounced since) goes to that channel's contact, never to the new channel's.
func TestMessageFollowsTheReservedChannel(t *testing.T) {
	r := newRig(t)
	run := &run{job: r.job(t, people)}
	inv := audience.Invitee{Key: "T-1", Segment: "general-needs", Channel: "email", Contact: "one@example.org",
		Contacts: audience.ContactsOf(map[string]string{"email": "one@example.org", "sms": "+447700900001"})}
	m, err := run.message(inv, responseapi.Invitation{RecipientKey: "T-1", Channel: "sms"})
	if err != nil || m.To != "+447700900001" {
		t.Errorf("to %q, %v; want the mobile the reserved channel uses", m.To, err)
	}
}

var linkRe = regexp.MustCompile(`https://listen\.example\.org/s/([A-Za-z0-9_-]+)`)

func TestSendsOnceAndSkipsWhatTheLedgerKnows(t *testing.T) {
	r := newRig(t)
	if err := r.store.OptOut(context.Background(), "riverside-homes", "T-6", r.now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), r.job(t, people))
	if err != nil {
		t.Fatalf("%v (%s)", err, sum.JSON())
	}
	// T-1 and T-5 by SMS; T-2 (no mobile) by email; T-3 and T-4 by email; T-6 opted out.
	if sum.Audience != 6 || sum.Invited != 5 || sum.Sent != 5 || sum.Skipped["opted-out"] != 1 {
		t.Errorf("summary %s", sum.JSON())
	}
	mails := r.sink.Messages()
	if len(mails) != 3 || len(r.sms) != 2 {
		t.Fatalf("%d emails and %d SMS arrived", len(mails), len(r.sms))
	}
	to := map[string]bool{}
	for _, m := range mails {
		to[m.To] = true
		// The link in the message verifies, and names the person it was sent to.
		match := linkRe.FindSubmatch(bytes.ReplaceAll(m.Data, []byte("=\r\n"), nil))
		if match == nil {
			t.Fatalf("no link in the email to %s", m.To)
		}
		claims, err := r.keys.Verify(string(match[1]), r.now)
		if err != nil || claims.Channel != "email" || claims.Wave != "20260401-0900" {
			t.Errorf("link to %s: %+v, %v", m.To, claims, err)
		}
	}
	if !to["two@example.org"] || !to["three@example.org"] || !to["four@example.org"] {
		t.Errorf("emails went to %v", to)
	}
	for _, s := range r.sms {
		if !strings.HasPrefix(s["to"], "+4477009000") || !strings.Contains(s["text"], "https://listen.example.org/s/") {
			t.Errorf("SMS body %v", s)
		}
	}

	// Run again, as a retried pod would: nothing is sent twice.
	again, err := Run(context.Background(), r.job(t, people))
	if err != nil {
		t.Fatal(err)
	}
	if again.Sent != 0 || again.Skipped["already-sent"] != 5 || len(r.sink.Messages()) != 3 || len(r.sms) != 2 {
		t.Errorf("second run %s, %d emails, %d SMS", again.JSON(), len(r.sink.Messages()), len(r.sms))
	}
}

// A reminder round goes to those invited who have not answered, says it is a reminder, and is
// itself sent once.
func TestReminderRoundGoesToNonResponders(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := Run(ctx, r.job(t, people)); err != nil {
		t.Fatal(err)
	}
	r.registerWave(t)
	one := 4
	for _, who := range []string{"T-1", "T-3"} {
		if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: who,
			Namespace: "riverside-homes", Segment: "general-needs", Channel: "email", Complete: true,
			Answers: []store.Answer{{Question: "q1", Value: &one}}}, r.now); err != nil {
			t.Fatal(err)
		}
	}
	// T-4 opts out after the invitation.
	if err := r.store.OptOut(ctx, "riverside-homes", "T-4", r.now); err != nil {
		t.Fatal(err)
	}
	mailsBefore, smsBefore := len(r.sink.Messages()), len(r.sms)
	job := r.job(t, people)
	job.Round = 1
	job.ContactedWithin = 24 * time.Hour // applies to invitations, not to reminders
	sum, err := Run(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	// T-2 and T-6 by email and T-5 by SMS; T-1, T-3 answered; T-4 opted out.
	if sum.Sent != 3 || sum.Skipped["answered-or-not-invited"] != 2 || sum.Skipped["opted-out"] != 1 {
		t.Errorf("reminder summary %s", sum.JSON())
	}
	mails := r.sink.Messages()[mailsBefore:]
	if len(mails) != 2 {
		t.Fatalf("%d reminder emails", len(mails))
	}
	for _, m := range mails {
		if m.To != "two@example.org" && m.To != "six@example.org" || !bytes.Contains(m.Data, []byte("Subject: Reminder: Riverside Homes")) {
			t.Errorf("reminder email to %s:\n%s", m.To, m.Data[:min(len(m.Data), 300)])
		}
	}
	if sms := r.sms[smsBefore:]; len(sms) != 1 || sms[0]["to"] != "+447700900005" || !strings.HasPrefix(sms[0]["text"], "Reminder: ") {
		t.Errorf("reminder SMS: %v", sms)
	}
	// The round is recorded separately: run again, nothing more goes.
	again, err := Run(ctx, job)
	if err != nil || again.Sent != 0 || len(r.sink.Messages()) != mailsBefore+2 {
		t.Errorf("second reminder run: %s, %v", again.JSON(), err)
	}
}

// What a sender that died leaves: an invitation it was sending is resent by SMS (the gateway
// recognises the Idempotency-Key) and marked unknown on email (possibly sent, never sent twice);
// one it had only reserved is simply sent.
func TestStaleReservations(t *testing.T) {
	r := newRig(t)
	_, err := r.ledger.Reserve(context.Background(), []responseapi.Invitation{
		{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", Namespace: "riverside-homes", Segment: "general-needs", Channel: "sms"},
		{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-3", Namespace: "riverside-homes", Segment: "shared-ownership", Channel: "email"},
		{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-4", Namespace: "riverside-homes", Segment: "shared-ownership", Channel: "email"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"T-1", "T-3"} {
		if err := r.ledger.Mark(context.Background(), responseapi.Mark{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: key, State: "sending"}); err != nil {
			t.Fatal(err)
		}
	}
	r.clockMu.Lock()
	r.now = r.now.Add(10 * time.Minute) // the restarted pod
	r.clockMu.Unlock()
	sum, err := Run(context.Background(), r.job(t, people))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped["possibly-sent"] != 1 || sum.Skipped["resent-idempotent"] != 1 || sum.Skipped["resumed"] != 1 || sum.Sent != 5 {
		t.Errorf("summary %s", sum.JSON())
	}
	got := map[string]bool{}
	for _, m := range r.sink.Messages() {
		got[m.To] = true
	}
	if got["three@example.org"] || !got["four@example.org"] {
		t.Errorf("emails went to %v: want none to three (it may have gone), one to four (never tried)", got)
	}
}

func TestNothingIsSentForABadAudience(t *testing.T) {
	r := newRig(t)
	bad := people + "T-7,seven@example.org,+447700900007\n" // a field missing
	sum, err := Run(context.Background(), r.job(t, bad))
	if err == nil || !strings.Contains(sum.Error, "line 8: wrong number of fields") || !strings.Contains(sum.Error, "nothing was sent") {
		t.Fatalf("%v: %s", err, sum.JSON())
	}
	if len(r.sink.Messages()) != 0 || len(r.sms) != 0 || strings.Contains(sum.JSON(), "seven") {
		t.Errorf("sent %d emails and %d SMS; summary %s", len(r.sink.Messages()), len(r.sms), sum.JSON())
	}
}

func TestQuietHoursStopCleanly(t *testing.T) {
	r := newRig(t)
	job := r.job(t, people)
	london, _ := schedule.LoadLocation("Europe/London")
	job.Quiet, _ = schedule.ParseQuietHours("10:30", "09:00", london) // it is 11:00 BST
	sum, err := Run(context.Background(), job)
	if !errors.Is(err, ErrQuietHours) || sum.Stopped != "quiet-hours" || sum.Invited != 0 {
		t.Fatalf("%v: %s", err, sum.JSON())
	}
	res, err := r.ledger.Reserve(context.Background(), []responseapi.Invitation{
		{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", Namespace: "riverside-homes", Segment: "general-needs", Channel: "sms"},
	})
	if err != nil || res[0].Attempts != 0 || !res[0].ReservedAt.Equal(r.now) {
		t.Errorf("quiet hours left something reserved: %+v %v", res, err)
	}
}

// watchedLedger counts the invitations marked "sending" without an outcome yet (the most at
// any time), and all the "sending" marks made.
type watchedLedger struct {
	Ledger
	mu      sync.Mutex
	open    map[string]bool
	maxOpen int
	marked  atomic.Int32
}

func (l *watchedLedger) MarkMany(ctx context.Context, marks []responseapi.Mark) error {
	if err := l.Ledger.MarkMany(ctx, marks); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range marks {
		if m.State == "sending" {
			l.open[m.RecipientKey] = true
			l.marked.Add(1)
		} else {
			delete(l.open, m.RecipientKey)
		}
	}
	l.maxOpen = max(l.maxOpen, len(l.open))
	return nil
}

// gatedChannel holds each send until the ledger has marked "sending" `ahead` invitations beyond
// it, which only a sender that marks while it sends ever does; a send that waits in vain for a
// few seconds is counted as held up, and nothing waits after that.
type gatedChannel struct {
	ledger             *watchedLedger
	ahead, total       int
	calls, sent, stuck atomic.Int32
}

func (c *gatedChannel) Send(ctx context.Context, _ channel.Message, _ string) error {
	n := int(c.calls.Add(1)) - 1
	if c.stuck.Load() == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for int(c.ledger.marked.Load()) < min(n+1+c.ahead, c.total) {
			if time.Now().After(deadline) {
				c.stuck.Add(1)
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	c.sent.Add(1)
	return nil
}

func (c *gatedChannel) Close() error { return nil }

// Invitations are marked "sending" while earlier ones are going out (the ledger call does not
// hold up the sending), across the batches too (the next batch is reserved and marked while the
// last of this one is sent), and never more than Window are open at once: the bound on what a
// kill can leave ambiguous.
func TestLedgerCallsOverlapSending(t *testing.T) {
	r := newRig(t)
	var data strings.Builder
	data.WriteString("tenancy_ref,email,mobile,tenure\n")
	for i := range 60 {
		fmt.Fprintf(&data, "T-%03d,r%d@example.org,,shared-ownership\n", i, i)
	}
	job := r.job(t, data.String())
	ledger := &watchedLedger{Ledger: job.Ledger, open: map[string]bool{}}
	job.Ledger = ledger
	job.Concurrency, job.Window, job.BatchSize = 4, 8, 20
	gate := &gatedChannel{ledger: ledger, ahead: job.Concurrency, total: 60}
	job.Channels = map[string]channel.Channel{"email": gate, "sms": gate}
	sum, err := Run(context.Background(), job)
	if err != nil || sum.Sent != 60 || gate.sent.Load() != 60 {
		t.Fatalf("%v %s", err, sum.JSON())
	}
	if gate.stuck.Load() > 0 {
		t.Error("a send waited in vain for later invitations to be marked: the ledger call holds up the sending")
	}
	if ledger.maxOpen > job.Window {
		t.Errorf("%d invitations were sending at once in the ledger, more than the window of %d", ledger.maxOpen, job.Window)
	}
	if len(ledger.open) != 0 {
		t.Errorf("%d invitations left sending", len(ledger.open))
	}
}

// A sender stopped while it waits for a rate limit leaves nothing of the waiting chunk marked
// "sending" (which would make a resend impossible on email): the chunk is marked after the waits.
func TestStoppedDuringRateLimitLeavesNothingSending(t *testing.T) {
	r := newRig(t)
	job := r.job(t, "tenancy_ref,email,mobile,tenure\nT-1,a@example.org,,shared-ownership\nT-2,b@example.org,,shared-ownership\n")
	ledger := &watchedLedger{Ledger: job.Ledger, open: map[string]bool{}}
	job.Ledger = ledger
	job.Concurrency = 4
	// One message may go at once; the second waits an hour, and the run is stopped meanwhile.
	job.Limits = map[string]*rate.Limiter{"email": rate.NewLimiter(rate.Every(time.Hour), 1)}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if _, err := Run(ctx, job); err == nil {
		t.Fatal("the run was stopped but reports no error")
	}
	if len(ledger.open) != 0 {
		t.Errorf("%d invitations left sending, never sent", len(ledger.open))
	}
}

// countingChannel takes `each` to send a message (honouring its context, as a webhook's request
// does) and counts the messages per invitation; before each send it calls `before` with how many
// sends came before.
type countingChannel struct {
	each   time.Duration
	before func(n int)
	mu     sync.Mutex
	n      int
	got    map[string]int
}

func (c *countingChannel) Send(ctx context.Context, _ channel.Message, id string) error {
	c.mu.Lock()
	n := c.n
	c.n++
	c.mu.Unlock()
	if c.before != nil {
		c.before(n)
	}
	select {
	case <-ctx.Done():
		return &channel.Error{Reason: "network", Err: ctx.Err()}
	case <-time.After(c.each):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[string]int{}
	}
	c.got[id]++
	return nil
}

func (c *countingChannel) Close() error { return nil }

func bigAudience(n int) string {
	var data strings.Builder
	data.WriteString("tenancy_ref,email,mobile,tenure\n")
	for i := range n {
		fmt.Fprintf(&data, "T-%03d,r%d@example.org,,shared-ownership\n", i, i)
	}
	return data.String()
}

// everyoneOnce checks that each of n people got one message over the runs.
func everyoneOnce(t *testing.T, c *countingChannel, n int) {
	t.Helper()
	if len(c.got) != n {
		t.Errorf("%d of %d people got a message", len(c.got), n)
	}
	for id, k := range c.got {
		if k != 1 {
			t.Errorf("%s got %d messages", id, k)
		}
	}
}

// A sender stopped mid-wave (SIGTERM: the pod is deleted or evicted) marks nothing more, lets
// the sends it began and those it had marked go out, records them all, and leaves the rest
// reserved: nobody's invitation fails for the stop, nothing is left "sending" (which would make
// it "possibly sent" on email), and the next pod sends the rest.
func TestStoppedMidWaveFinishesWhatItMarked(t *testing.T) {
	r := newRig(t)
	data := bigAudience(60)
	job := r.job(t, data)
	ledger := &watchedLedger{Ledger: job.Ledger, open: map[string]bool{}}
	job.Ledger = ledger
	job.Concurrency, job.Window, job.BatchSize = 4, 16, 20
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	slow := &countingChannel{each: 20 * time.Millisecond, before: func(n int) {
		if n == 10 {
			stop()
		}
	}}
	job.Channels = map[string]channel.Channel{"email": slow, "sms": slow}
	sum, err := Run(ctx, job)
	if !errors.Is(err, context.Canceled) || sum.Stopped != "terminated" {
		t.Fatalf("stopped run: %v, %s", err, sum.JSON())
	}
	if len(sum.Failed) != 0 || sum.Sent != len(slow.got) || sum.Sent < 11 || sum.Sent > 11+job.Window {
		t.Errorf("stopped after the 11th send began: %s, %d delivered", sum.JSON(), len(slow.got))
	}
	if len(ledger.open) != 0 {
		t.Errorf("%d invitations left sending by a clean stop", len(ledger.open))
	}

	r.clockMu.Lock()
	r.now = r.now.Add(time.Minute) // the next pod
	r.clockMu.Unlock()
	job.Ledger = r.ledger
	again, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped["possibly-sent"] != 0 || again.Skipped["already-sent"] != sum.Sent || again.Sent != 60-sum.Sent {
		t.Errorf("the next pod: %s", again.JSON())
	}
	everyoneOnce(t, slow, 60)
}

// Quiet hours that begin while a sender is at work stop it cleanly: what it had marked goes out
// (no more than the window), the rest stays reserved and goes in the next permitted window.
func TestQuietHoursBeginMidRun(t *testing.T) {
	r := newRig(t)
	job := r.job(t, bigAudience(60))
	london, _ := schedule.LoadLocation("Europe/London")
	job.Quiet, _ = schedule.ParseQuietHours("11:30", "09:00", london) // it is 11:00 BST
	job.Concurrency, job.Window, job.BatchSize = 4, 8, 20
	quietFrom := -1
	clock := &countingChannel{before: func(n int) {
		r.clockMu.Lock()
		defer r.clockMu.Unlock()
		r.now = r.now.Add(time.Minute) // each send takes a minute: 11:30 comes at the 30th
		if quietFrom < 0 && job.Quiet.Quiet(r.now) {
			quietFrom = n
		}
	}}
	job.Channels = map[string]channel.Channel{"email": clock, "sms": clock}
	sum, err := Run(context.Background(), job)
	if !errors.Is(err, ErrQuietHours) || sum.Stopped != "quiet-hours" {
		t.Fatalf("%v: %s", err, sum.JSON())
	}
	if quietFrom < 0 || sum.Sent >= 60 || sum.Sent-quietFrom > job.Window || len(sum.Failed) != 0 {
		t.Errorf("quiet hours began at send %d; the run: %s", quietFrom, sum.JSON())
	}

	r.clockMu.Lock()
	r.now = time.Date(2026, 4, 2, 8, 30, 0, 0, time.UTC) // 09:30 BST the next day
	r.clockMu.Unlock()
	again, err := Run(context.Background(), job)
	if err != nil && !errors.Is(err, ErrQuietHours) {
		t.Fatal(err)
	}
	if again.Skipped["already-sent"] != sum.Sent || again.Skipped["resumed"] == 0 || again.Sent != 60-sum.Sent {
		t.Errorf("the next window: %s", again.JSON())
	}
	everyoneOnce(t, clock, 60)
}

// failingLedger fails every MarkMany from the n-th on.
type failingLedger struct {
	Ledger
	calls, from atomic.Int32
}

func (l *failingLedger) MarkMany(ctx context.Context, marks []responseapi.Mark) error {
	if l.calls.Add(1) >= l.from.Load() {
		return errors.New("collector unavailable")
	}
	return l.Ledger.MarkMany(ctx, marks)
}

// A ledger that fails mid-wave stops the run with its error; the next run sends each invitation
// the first did not, and nobody gets two: what the first may have sent is "possibly sent".
func TestLedgerFailureMidWave(t *testing.T) {
	r := newRig(t)
	job := r.job(t, bigAudience(60))
	ledger := &failingLedger{Ledger: job.Ledger}
	ledger.from.Store(4)
	job.Ledger = ledger
	job.Concurrency, job.Window, job.BatchSize = 4, 8, 20
	ch := &countingChannel{each: time.Millisecond}
	job.Channels = map[string]channel.Channel{"email": ch, "sms": ch}
	sum, err := Run(context.Background(), job)
	if err == nil || !strings.Contains(err.Error(), "recording in the ledger") || !strings.Contains(err.Error(), "collector unavailable") {
		t.Fatalf("run on a failing ledger: %v, %s", err, sum.JSON())
	}
	first := len(ch.got)
	if first == 0 || first == 60 {
		t.Fatalf("the ledger failed after %d of 60 sends: want some, not all", first)
	}

	job.Ledger = r.ledger
	again, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped["possibly-sent"] > job.Window || again.Sent+again.Skipped["possibly-sent"]+again.Skipped["already-sent"] != 60 {
		t.Errorf("after the failure (%d delivered): %s", first, again.JSON())
	}
	// What the first run marked went out before it stopped, so here everyone got exactly one.
	everyoneOnce(t, ch, 60)
}

// An invitation whose channel must wait for its rate limit does not hold up those of other
// channels behind it: here SMS may send one message an hour, and the emails between the SMS
// invitations all go at once.
func TestRateLimitedChannelDoesNotHoldUpOthers(t *testing.T) {
	r := newRig(t)
	var data strings.Builder
	data.WriteString("tenancy_ref,email,mobile,tenure\n")
	for i := range 10 {
		if i%2 == 0 {
			fmt.Fprintf(&data, "T-%02d,,+4477009%05d,general-needs\n", i, i) // SMS
		} else {
			fmt.Fprintf(&data, "T-%02d,r%d@example.org,,shared-ownership\n", i, i) // email
		}
	}
	job := r.job(t, data.String())
	ledger := &watchedLedger{Ledger: job.Ledger, open: map[string]bool{}}
	job.Ledger = ledger
	job.Concurrency = 2
	job.Limits = map[string]*rate.Limiter{"sms": rate.NewLimiter(rate.Every(time.Hour), 1)}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	sms := &countingChannel{}
	email := &countingChannel{before: func(n int) {
		if n == 4 { // the last email: stop the run once it is recorded
			stop()
		}
	}}
	job.Channels = map[string]channel.Channel{"email": email, "sms": sms}
	sum, err := Run(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v (the emails did not all go before the deadline?): %s", err, sum.JSON())
	}
	if len(email.got) != 5 || len(sms.got) != 1 || sum.Sent != 6 || len(ledger.open) != 0 {
		t.Errorf("%d emails and %d SMS went, %d left sending: %s", len(email.got), len(sms.got), len(ledger.open), sum.JSON())
	}
}

// flakyChannel refuses each message's first `refusals` tries with err, then takes it.
type flakyChannel struct {
	err      error
	refusals int
	mu       sync.Mutex
	tries    map[string]int
	got      map[string]int
}

func (c *flakyChannel) Send(_ context.Context, _ channel.Message, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tries == nil {
		c.tries, c.got = map[string]int{}, map[string]int{}
	}
	c.tries[id]++
	if c.tries[id] <= c.refusals {
		return c.err
	}
	c.got[id]++
	return nil
}

func (c *flakyChannel) Close() error { return nil }

// A message the channel certainly did not take (a relay unreachable, a 4xx reply) is released in
// the ledger and tried again after a backoff, up to RetryAttempts tries, then recorded failed; a
// failure that may have been taken (the connection lost awaiting the relay's acceptance) is
// never tried again.
func TestRetryableFailuresAreTriedAgain(t *testing.T) {
	for _, c := range []struct {
		name               string
		err                error
		refusals           int
		sent, failed, reTr int
		attempts           int
	}{
		{"relay back after three refusals", &channel.Error{Reason: "smtp-451", NotSent: true, Err: errors.New("try later")}, 3, 20, 0, 60, 4},
		{"relay never back", &channel.Error{Reason: "network", NotSent: true, Err: errors.New("refused")}, 100, 0, 20, 80, 5},
		{"lost awaiting acceptance", &channel.Error{Reason: "network", Err: errors.New("EOF")}, 1, 0, 20, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			job := r.job(t, bigAudience(20))
			ledger := &watchedLedger{Ledger: job.Ledger, open: map[string]bool{}}
			job.Ledger = ledger
			job.Concurrency, job.BatchSize = 4, 5
			job.RetryAttempts, job.RetryBackoff = 5, time.Millisecond
			relay := &flakyChannel{err: c.err, refusals: c.refusals}
			job.Channels = map[string]channel.Channel{"email": relay, "sms": relay}
			sum, err := Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Sent != c.sent || sum.Failed[channel.ReasonOf(c.err)] != c.failed || sum.Retried != c.reTr || len(relay.got) != c.sent {
				t.Errorf("summary %s; %d delivered", sum.JSON(), len(relay.got))
			}
			for id, n := range relay.tries {
				if n != c.attempts {
					t.Errorf("%s tried %d times, want %d", id, n, c.attempts)
				}
			}
			rows, err := r.ledger.Reserve(context.Background(), []responseapi.Invitation{{CampaignUID: uid, WaveID: job.WaveID,
				RecipientKey: "T-007", Namespace: "riverside-homes", Segment: "shared-ownership", Channel: "email"}})
			if err != nil {
				t.Fatal(err)
			}
			want := "sent"
			if c.sent == 0 {
				want = "failed"
			}
			if rows[0].State != want || rows[0].Attempts != c.attempts {
				t.Errorf("ledger: %+v, want %s after %d attempts", rows[0], want, c.attempts)
			}
			if len(ledger.open) != 0 {
				t.Errorf("%d left sending", len(ledger.open))
			}
		})
	}
}

// A sender stopped while messages wait to be tried again leaves them reserved: the next run
// sends them.
func TestStoppedWhileRetryingLeavesThemReserved(t *testing.T) {
	r := newRig(t)
	job := r.job(t, bigAudience(8))
	job.Concurrency = 4
	job.RetryAttempts, job.RetryBackoff = 5, time.Hour
	relay := &flakyChannel{err: &channel.Error{Reason: "network", NotSent: true, Err: errors.New("refused")}, refusals: 1}
	job.Channels = map[string]channel.Channel{"email": relay, "sms": relay}
	ctx, stop := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer stop()
	sum, err := Run(ctx, job)
	if !errors.Is(err, context.DeadlineExceeded) || sum.Retried != 8 || sum.Sent != 0 || len(sum.Failed) != 0 {
		t.Fatalf("%v: %s", err, sum.JSON())
	}
	r.clockMu.Lock()
	r.now = r.now.Add(time.Minute)
	r.clockMu.Unlock()
	again, err := Run(context.Background(), job)
	if err != nil || again.Sent != 8 || again.Skipped["resumed"] != 8 {
		t.Fatalf("%v: %s", err, again.JSON())
	}
}

// A person whose language (the audience's language column) the survey has gets links that
// open it in that language; anyone else, plain links (their browser decides).
func TestLinksOpenThePersonsLanguage(t *testing.T) {
	r := newRig(t)
	run := &run{job: r.job(t, people)}
	run.job.Languages, run.job.Titles = []string{"en", "cy"}, map[string]string{"cy": "Arolwg tenantiaid"}
	for lang, want := range map[string]string{"cy-GB": "?lang=cy", "cy": "?lang=cy", "en": "?lang=en", "fr": "", "": ""} {
		inv := audience.Invitee{Key: "T-1", Segment: "general-needs", Channel: "email", Contact: "one@example.org", Language: lang}
		m, err := run.message(inv, responseapi.Invitation{RecipientKey: "T-1", Channel: "email"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(m.Link, want) || strings.Contains(strings.TrimSuffix(m.Link, want), "?") || !strings.HasSuffix(m.OptOutLink, want) {
			t.Errorf("language %q: link %s, opt-out %s; want them to end %q", lang, m.Link, m.OptOutLink, want)
		}
		// The message itself is in the person's language: the title, and the operator's words.
		wantLang, wantTitle := "en", run.job.Title
		if want == "?lang=cy" {
			wantLang, wantTitle = "cy", "Arolwg tenantiaid"
		}
		if m.Lang != wantLang || m.Title != wantTitle || m.Words["start"] != i18n.Mail(wantLang)["start"] {
			t.Errorf("language %q: message in %q, title %q, words %v", lang, m.Lang, m.Title, m.Words)
		}
	}
}

// A follow-up to a person whose language the campaign has is in that language: the FollowUp's
// translation (its subject and body), the translated title, the operator's words; anyone else
// gets the FollowUp's own.
func TestFollowUpInThePersonsLanguage(t *testing.T) {
	r := newRig(t)
	run := &run{job: r.job(t, people)}
	run.job.Languages, run.job.Titles = []string{"en", "cy"}, map[string]string{"cy": "Arolwg tenantiaid"}
	body, err := channel.NewTemplate("body", "Sorry it went wrong: {{ .Link }}")
	if err != nil {
		t.Fatal(err)
	}
	cyBody, err := channel.NewTemplate("body", "Mae'n ddrwg gennym: {{ .Link }}")
	if err != nil {
		t.Fatal(err)
	}
	run.job.FollowUp = &FollowUp{UID: "fu-1", Body: body, Subject: tmpl(t, "We are sorry"),
		Translations: map[string]FollowUpText{"cy": {Subject: tmpl(t, "Mae'n ddrwg gennym"), Body: cyBody}}}
	row := responseapi.Invitation{WaveID: followUpWave("fu-1", "w1"), RecipientKey: "T-1", Segment: "general-needs", Channel: "email"}
	for lang, want := range map[string]string{"cy": "Mae'n ddrwg gennym: ", "": "Sorry it went wrong: ", "fr": "Sorry it went wrong: "} {
		m, err := run.followUpMessage(audience.Invitee{Key: "T-1", Contact: "one@example.org", Language: lang}, row)
		if err != nil {
			t.Fatal(err)
		}
		wantSubject, wantTitle := "We are sorry", run.job.Title
		if lang == "cy" {
			wantSubject, wantTitle = "Mae'n ddrwg gennym", "Arolwg tenantiaid"
		}
		if !strings.HasPrefix(m.Text, want) || m.Subject != wantSubject || m.Title != wantTitle || (lang == "cy") != (m.Lang == "cy") {
			t.Errorf("language %q: %q, subject %q, title %q, in %q", lang, m.Text, m.Subject, m.Title, m.Lang)
		}
	}
}
