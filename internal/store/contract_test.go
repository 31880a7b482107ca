package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/scoring"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testpg"
)

var pg *testpg.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = testpg.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting PostgreSQL for the store's contract tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// backends open a fresh, empty store of each kind.
var backends = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		return open(t, "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	},
	"postgres": func(t *testing.T) store.Store {
		url, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return open(t, url)
	},
}

func open(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contract runs a test against every backend.
func contract(t *testing.T, test func(t *testing.T, s store.Store)) {
	for name, newStore := range backends {
		t.Run(name, func(t *testing.T) { test(t, newStore(t)) })
	}
}

const uid = "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f"

var (
	ctx    = context.Background()
	t0     = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	closes = t0.Add(21 * 24 * time.Hour)
)

func wave(id string) store.Wave {
	return store.Wave{CampaignUID: uid, WaveID: id, Namespace: "riverside-homes", Campaign: "tenant-satisfaction",
		Definition: []byte(`{"questions":[{"id":"tp01","kind":"CSAT"}]}`), OpensAt: t0, ClosesAt: closes}
}

func ptr(v int) *int { return &v }

func TestWaves(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		w := wave("20260401-0900")
		for range 2 {
			if err := s.PutWave(ctx, w); err != nil {
				t.Fatalf("PutWave (idempotent): %v", err)
			}
		}
		changed := w
		changed.Definition = []byte(`{"questions":[]}`)
		if err := s.PutWave(ctx, changed); !errors.Is(err, store.ErrConflict) {
			t.Errorf("a different snapshot: %v, want ErrConflict", err)
		}
		got, err := s.GetWave(ctx, uid, w.WaveID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Definition) != string(w.Definition) || !got.ClosesAt.Equal(closes) || got.Namespace != w.Namespace {
			t.Errorf("GetWave = %+v", got)
		}
		if _, err := s.GetWave(ctx, uid, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing wave: %v", err)
		}

		// Channel keys rotate: registering the wave again replaces them.
		w.ChannelKeys = map[string][]byte{"sms": []byte("old-key"), "chat": []byte("chat-key")}
		if err := s.PutWave(ctx, w); err != nil {
			t.Fatal(err)
		}
		w.ChannelKeys = map[string][]byte{"sms": []byte("new-key")}
		if err := s.PutWave(ctx, w); err != nil {
			t.Fatal(err)
		}
		if key, err := s.ChannelKey(ctx, uid, w.WaveID, "sms"); err != nil || string(key) != "new-key" {
			t.Errorf("sms key = %q, %v", key, err)
		}
		if _, err := s.ChannelKey(ctx, uid, w.WaveID, "chat"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a dropped channel key is still there: %v", err)
		}
	})
}

func invitation(key, segment, channel string) store.Invitation {
	return store.Invitation{
		InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: key},
		Namespace:     "riverside-homes", Segment: segment, Channel: channel,
	}
}

func TestLedger(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		invs := []store.Invitation{invitation("T-1", "general-needs", "sms"), invitation("T-2", "general-needs", "email")}
		got, err := s.Reserve(ctx, invs, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].State != store.StateReserved || !got[0].ReservedAt.Equal(t0) {
			t.Fatalf("Reserve = %+v", got)
		}
		if err := s.Mark(ctx, invs[0].InvitationKey, store.StateSent, "", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, invs[1].InvitationKey, store.StateFailed, "smtp-550", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A retried sender reserves again and sees what already happened.
		again, err := s.Reserve(ctx, invs, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].State != store.StateSent || !again[0].SentAt.Equal(t0.Add(time.Minute)) || !again[0].ReservedAt.Equal(t0) {
			t.Errorf("re-reserved a sent invitation: %+v", again[0])
		}
		if again[1].State != store.StateFailed || again[1].Reason != "smtp-550" || again[1].Attempts != 1 {
			t.Errorf("failed invitation: %+v", again[1])
		}
		missing := invitation("T-9", "x", "y").InvitationKey
		if err := s.Mark(ctx, missing, store.StateSent, "", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("marking a missing invitation: %v", err)
		}
		if err := s.Mark(ctx, invs[0].InvitationKey, store.StateReserved, "", t0); !errors.Is(err, store.ErrNotSending) {
			t.Errorf("released a sent invitation back to reserved: %v", err)
		}
		// Several at once, in one transaction: all or nothing.
		more := []store.Invitation{invitation("T-4", "g", "sms"), invitation("T-5", "g", "sms")}
		if _, err := s.Reserve(ctx, more, t0); err != nil {
			t.Fatal(err)
		}
		outcomes := []store.Outcome{{Key: more[0].InvitationKey, State: store.StateSending}, {Key: more[1].InvitationKey, State: store.StateSending}}
		if err := s.MarkMany(ctx, append(outcomes, store.Outcome{Key: missing, State: store.StateSending}), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a batch with a missing invitation: %v", err)
		}
		if rows, _ := s.Reserve(ctx, more, t0); rows[0].State != store.StateReserved {
			t.Errorf("a failed batch changed a row: %+v", rows[0])
		}
		if err := s.MarkMany(ctx, outcomes, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMany(ctx, []store.Outcome{{Key: more[0].InvitationKey, State: store.StateSent}}, t0); err != nil {
			t.Fatal(err)
		}
		if rows, _ := s.Reserve(ctx, more, t0); rows[0].State != store.StateSent || rows[0].Attempts != 1 || rows[1].State != store.StateSending {
			t.Errorf("after the batches: %+v", rows)
		}

		// Marks apply in order, one person twice in a batch included, each with its own state
		// and reason.
		mixed := []store.Invitation{invitation("M-1", "g", "email"), invitation("M-2", "g", "email"), invitation("M-3", "g", "email")}
		if _, err := s.Reserve(ctx, mixed, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMany(ctx, []store.Outcome{
			{Key: mixed[0].InvitationKey, State: store.StateSending}, {Key: mixed[1].InvitationKey, State: store.StateSending},
			{Key: mixed[0].InvitationKey, State: store.StateSent}, {Key: mixed[1].InvitationKey, State: store.StateFailed, Reason: "smtp-550"},
			{Key: mixed[2].InvitationKey, State: store.StateSending},
		}, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Reserve(ctx, mixed, t0)
		if err != nil {
			t.Fatal(err)
		}
		if r := rows[0]; r.State != store.StateSent || r.Attempts != 1 || !r.SentAt.Equal(t0.Add(time.Minute)) || r.Reason != "" {
			t.Errorf("sending then sent in one batch: %+v", r)
		}
		if r := rows[1]; r.State != store.StateFailed || r.Attempts != 1 || r.Reason != "smtp-550" || !r.SentAt.IsZero() {
			t.Errorf("sending then failed in one batch: %+v", r)
		}
		if r := rows[2]; r.State != store.StateSending || r.Attempts != 1 {
			t.Errorf("sending: %+v", r)
		}
		// One the channel certainly did not take is released to reserved, and tried again.
		if err := s.MarkMany(ctx, []store.Outcome{{Key: mixed[2].InvitationKey, State: store.StateReserved, Reason: "network"}}, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, mixed[2].InvitationKey, store.StateReserved, "network", t0); !errors.Is(err, store.ErrNotSending) {
			t.Errorf("released twice: %v", err)
		}
		if err := s.MarkMany(ctx, []store.Outcome{{Key: mixed[2].InvitationKey, State: store.StateSending}, {Key: mixed[2].InvitationKey, State: store.StateSent}}, t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if rows, _ := s.Reserve(ctx, mixed, t0); rows[2].State != store.StateSent || rows[2].Attempts != 2 || !rows[2].ReservedAt.Equal(t0) {
			t.Errorf("released, then sent: %+v", rows[2])
		}
		if c, _ := s.Contacted(ctx, "riverside-homes", []string{"M-2"}, t0, store.WaveRef{}); c["M-2"] {
			t.Error("a failed invitation counts as a contact")
		}

		// A large batch (more rows than one INSERT takes) mixing rows already in the ledger with
		// new ones, and one person twice: each comes back in the order asked, as stored.
		var big []store.Invitation
		for i := range 1100 {
			switch i {
			case 7:
				big = append(big, invs[0]) // sent above
			case 600:
				big = append(big, more[1]) // sending above
			case 900:
				big = append(big, big[10]) // the same person again
			default:
				big = append(big, invitation(fmt.Sprintf("B-%04d", i), "general-needs", "email"))
			}
		}
		rows, err = s.Reserve(ctx, big, t0.Add(2*time.Hour))
		if err != nil || len(rows) != len(big) {
			t.Fatalf("Reserve of %d: %d rows, %v", len(big), len(rows), err)
		}
		for i, row := range rows {
			if row.InvitationKey != big[i].InvitationKey {
				t.Fatalf("row %d is %s, asked %s", i, row.RecipientKey, big[i].RecipientKey)
			}
			want := store.StateReserved
			switch i {
			case 7:
				want = store.StateSent
			case 600:
				want = store.StateSending
			}
			if row.State != want || row.Channel != big[i].Channel {
				t.Errorf("row %d (%s): %+v, want %s", i, row.RecipientKey, row, want)
			}
		}
		if !rows[900].ReservedAt.Equal(t0.Add(2*time.Hour)) || !rows[7].ReservedAt.Equal(t0) {
			t.Errorf("reserved at: new %v, old %v", rows[900].ReservedAt, rows[7].ReservedAt)
		}

		// Contacted: only messages actually sent, in the namespace, since the time asked.
		keys := []string{"T-1", "T-2", "T-3"}
		for i := range 1200 { // more keys than one IN list holds
			keys = append(keys, fmt.Sprintf("X-%d", i))
		}
		contacted, err := s.Contacted(ctx, "riverside-homes", keys, t0, store.WaveRef{})
		if err != nil {
			t.Fatal(err)
		}
		if !contacted["T-1"] || contacted["T-2"] || contacted["T-3"] || len(contacted) != 1 {
			t.Errorf("Contacted = %v, want only T-1", contacted)
		}
		if c, _ := s.Contacted(ctx, "riverside-homes", keys, t0.Add(time.Hour), store.WaveRef{}); len(c) != 0 {
			t.Errorf("Contacted since later = %v", c)
		}
		if c, _ := s.Contacted(ctx, "other-landlord", keys, t0, store.WaveRef{}); len(c) != 0 {
			t.Errorf("another namespace sees contacts: %v", c)
		}
		if c, _ := s.Contacted(ctx, "riverside-homes", keys, t0, store.WaveRef{CampaignUID: uid, WaveID: "w1"}); len(c) != 0 {
			t.Errorf("the wave's own invitations count as recent contacts of that wave: %v", c)
		}
		if c, _ := s.Contacted(ctx, "riverside-homes", keys, t0, store.WaveRef{CampaignUID: uid, WaveID: "20260701-0900"}); !c["T-1"] {
			t.Errorf("excluding another wave hides this one's contacts: %v", c)
		}
	})
}

func TestUnanswered(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		var invs []store.Invitation
		for _, k := range []string{"sent-silent", "sent-answered", "unknown-silent", "failed", "reserved", "reminded"} {
			invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: k},
				Namespace: "riverside-homes", Segment: "general-needs", Channel: "email"})
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		state := map[string]store.InvitationState{"sent-silent": store.StateSent, "sent-answered": store.StateSent,
			"unknown-silent": store.StateUnknown, "failed": store.StateFailed, "reminded": store.StateSent}
		for k, st := range state {
			if err := s.Mark(ctx, store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: k}, st, "", t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: "sent-answered",
			Namespace: "riverside-homes", Segment: "general-needs", Channel: "email", Complete: true,
			Answers: []store.Answer{{Question: "tp01", Value: ptr(2)}}}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// A reminder already recorded (round 1) does not make its person answered.
		if _, err := s.Reserve(ctx, []store.Invitation{{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w1",
			RecipientKey: "reminded", Round: 1}, Namespace: "riverside-homes", Segment: "general-needs", Channel: "email"}}, t0); err != nil {
			t.Fatal(err)
		}
		keys := []string{"sent-silent", "sent-answered", "unknown-silent", "failed", "reserved", "reminded", "never-invited"}
		got, err := s.Unanswered(ctx, uid, "w1", keys)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"sent-silent": true, "unknown-silent": true, "reminded": true}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Unanswered = %v, want %v", got, want)
		}
		if other, _ := s.Unanswered(ctx, uid, "w2", keys); len(other) != 0 {
			t.Errorf("another wave: %v", other)
		}
	})
}

func TestOptOut(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		for range 2 {
			if err := s.OptOut(ctx, "riverside-homes", "T-1", t0); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.OptedOut(ctx, "riverside-homes", []string{"T-1", "T-2"})
		if err != nil {
			t.Fatal(err)
		}
		if !got["T-1"] || got["T-2"] {
			t.Errorf("OptedOut = %v", got)
		}
		if other, _ := s.OptedOut(ctx, "other-landlord", []string{"T-1"}); len(other) != 0 {
			t.Errorf("an opt-out leaked to another namespace: %v", other)
		}
	})
}

func TestResponses(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		r := store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: "T-1", Namespace: "riverside-homes",
			Segment: "general-needs", Channel: "sms", Complete: false,
			Answers: []store.Answer{{Question: "tp01", Value: ptr(4)}, {Question: "tp02", NotApplicable: true}}}
		created, err := s.SaveResponse(ctx, r, t0.Add(time.Hour))
		if err != nil || !created {
			t.Fatalf("first submission: created %v, %v", created, err)
		}
		r.Complete = true
		r.Segment = "forged-segment" // the segment stays the one first recorded
		r.Answers = []store.Answer{{Question: "tp01", Value: ptr(5)}, {Question: "comments", Text: "Repairs are slow."}}
		created, err = s.SaveResponse(ctx, r, t0.Add(2*time.Hour))
		if err != nil || created {
			t.Fatalf("second submission: created %v, %v", created, err)
		}
		got, err := s.GetResponse(ctx, uid, "w1", "T-1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Complete || got.Segment != "general-needs" || !got.SubmittedAt.Equal(t0.Add(time.Hour)) || !got.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("updated response = %+v", got)
		}
		if len(got.Answers) != 2 || got.Answers[0].Question != "comments" || got.Answers[0].Text != "Repairs are slow." ||
			got.Answers[1].Value == nil || *got.Answers[1].Value != 5 {
			t.Errorf("answers = %+v", got.Answers)
		}

		// After the window: refused, and nothing changes.
		late := r
		late.Answers = []store.Answer{{Question: "tp01", Value: ptr(1)}}
		if _, err := s.SaveResponse(ctx, late, closes); !errors.Is(err, store.ErrWaveClosed) {
			t.Errorf("after close: %v, want ErrWaveClosed", err)
		}
		if after, _ := s.GetResponse(ctx, uid, "w1", "T-1"); *after.Answers[1].Value != 5 {
			t.Errorf("a refused submission changed the answers: %+v", after.Answers)
		}
		unknown := r
		unknown.WaveID = "never-registered"
		if _, err := s.SaveResponse(ctx, unknown, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown wave: %v", err)
		}
		if _, err := s.GetResponse(ctx, uid, "w1", "T-404"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing response: %v", err)
		}
	})
}

// Concurrent submissions: every one is stored, none counts twice.
func TestConcurrentSubmissions(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					key := fmt.Sprintf("T-%d", (g*25+i)%100) // each person submits twice
					_, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: key,
						Namespace: "ns", Segment: "all", Channel: "email", Complete: true,
						Answers: []store.Answer{{Question: "tp01", Value: ptr(1 + i%5)}}}, t0.Add(time.Hour))
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		sum, err := s.Summarize(ctx, uid, "w1", "tp01")
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, h := range sum.Histograms {
			total += h.Count
		}
		if sum.Responded[store.Group{Segment: "all", Channel: "email"}] != 100 || total != 100 {
			t.Errorf("responded %v, %d answers; want 100 of each", sum.Responded, total)
		}
	})
}

func TestSummarize(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		w := wave("w1")
		w.PrimaryQuestion = "tp01"
		if err := s.PutWave(ctx, w); err != nil {
			t.Fatal(err)
		}
		// Eight invitations: general-needs by SMS (4), shared-ownership by email (4).
		var invs []store.Invitation
		for i := range 4 {
			invs = append(invs, invitation(fmt.Sprintf("G-%d", i), "general-needs", "sms"))
			invs = append(invs, invitation(fmt.Sprintf("S-%d", i), "shared-ownership", "email"))
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			state := store.StateSent
			switch inv.RecipientKey {
			case "G-3":
				state = store.StateFailed
			case "S-3":
				state = store.StateBounced
			}
			if err := s.Mark(ctx, inv.InvitationKey, state, "", t0); err != nil {
				t.Fatal(err)
			}
		}
		// G-2 opts out after the invitation; an older opt-out of someone else does not count.
		if err := s.OptOut(ctx, "riverside-homes", "G-2", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		respond := func(key, segment, channel string, complete bool, answers ...store.Answer) {
			t.Helper()
			if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: key, Namespace: "riverside-homes",
				Segment: segment, Channel: channel, Complete: complete, Answers: answers}, t0.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		respond("G-0", "general-needs", "sms", true, store.Answer{Question: "tp01", Value: ptr(5)}, store.Answer{Question: "tp02", Value: ptr(4)})
		respond("G-1", "general-needs", "sms", false, store.Answer{Question: "tp01", Value: ptr(2)}, store.Answer{Question: "tp02", NotApplicable: true})
		respond("S-0", "shared-ownership", "email", true, store.Answer{Question: "tp01", Value: ptr(4)}, store.Answer{Question: "tp02", Value: ptr(4)})
		respond("S-1", "shared-ownership", "email", true, store.Answer{Question: "tp01", Value: ptr(3)}, store.Answer{Question: "tp02", Value: ptr(2)},
			store.Answer{Question: "comments", Text: "fine"})

		sum, err := s.Summarize(ctx, uid, "w1", "tp01")
		if err != nil {
			t.Fatal(err)
		}
		gn := store.Group{Segment: "general-needs", Channel: "sms"}
		so := store.Group{Segment: "shared-ownership", Channel: "email"}
		wantD := map[store.Group]scoring.Dispositions{
			gn: {Complete: 1, Partial: 1, Refusal: 1, NonContact: 1},
			so: {Complete: 2, NoAnswer: 1, NonContact: 1},
		}
		if len(sum.Dispositions) != 2 || sum.Dispositions[gn] != wantD[gn] || sum.Dispositions[so] != wantD[so] {
			t.Errorf("dispositions = %+v, want %+v", sum.Dispositions, wantD)
		}
		if sum.Responded[gn] != 2 || sum.Responded[so] != 2 {
			t.Errorf("responded = %v", sum.Responded)
		}
		counts := map[string]int{}
		for _, h := range sum.Histograms {
			v := "n/a"
			if h.Value != nil {
				v = fmt.Sprint(*h.Value)
			}
			counts[h.Question+" "+h.Group.Segment+" "+v] += h.Count
		}
		wantH := map[string]int{
			"tp01 general-needs 5": 1, "tp01 general-needs 2": 1, "tp01 shared-ownership 4": 1, "tp01 shared-ownership 3": 1,
			"tp02 general-needs 4": 1, "tp02 general-needs n/a": 1, "tp02 shared-ownership 4": 1, "tp02 shared-ownership 2": 1,
		}
		if fmt.Sprint(counts) != fmt.Sprint(wantH) {
			t.Errorf("histograms = %v\nwant %v", counts, wantH)
		}
		// tp02 against tp01 over the three who answered both on the scale: (4,5), (4,4), (2,3).
		want := scoring.PairStats{N: 3, SumX: 10, SumY: 12, SumXX: 36, SumYY: 50, SumXY: 42}
		if sum.Pairs["tp02"] != want {
			t.Errorf("pairs[tp02] = %+v, want %+v", sum.Pairs["tp02"], want)
		}
		if self := sum.Pairs["tp01"]; self.N != 4 {
			t.Errorf("pairs[tp01] = %+v", self)
		}
		// Another question as primary takes the join; the same pairs, seen from the other side.
		other, err := s.Summarize(ctx, uid, "w1", "tp02")
		if err != nil {
			t.Fatal(err)
		}
		mirror := scoring.PairStats{N: 3, SumX: 12, SumY: 10, SumXX: 50, SumYY: 36, SumXY: 42}
		if other.Pairs["tp01"] != mirror {
			t.Errorf("pairs[tp01] against tp02 = %+v, want %+v", other.Pairs["tp01"], mirror)
		}
		if _, ok := sum.Pairs["comments"]; ok {
			t.Error("a text question has pair statistics")
		}
		empty, err := s.Summarize(ctx, uid, "no-such-wave", "tp01")
		if err != nil || len(empty.Dispositions) != 0 || len(empty.Histograms) != 0 {
			t.Errorf("empty wave: %+v, %v", empty, err)
		}
	})
}

// Data outlives the process: SQLite reopened from its file, migrations applied once.
func TestSQLiteReopens(t *testing.T) {
	path := "sqlite://" + filepath.Join(t.TempDir(), "nested", "survey.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutWave(ctx, wave("w1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	if _, err := s.GetWave(ctx, uid, "w1"); err != nil {
		t.Errorf("after reopening: %v", err)
	}
}

func TestOpenRefusesUnknownURLs(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://", "postgres://user:secret@127.0.0.1:1/db?connect_timeout=1"} {
		_, err := store.Open(ctx, u)
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) leaked the password: %v", u, err)
		}
	}
}

// Several collectors starting together on one fresh PostgreSQL database (config/postgres runs
// two replicas) all open it: one migrates under the advisory lock, the others wait for it.
func TestPostgresConcurrentMigrations(t *testing.T) {
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := store.Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("a collector could not open the database: %v", err)
		}
	}
}

// A write carrying a signed request's signature is taken once while the signature is fresh; a
// replay is refused and writes nothing.
func TestSignedRequestsOnce(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		once := store.Once{Signature: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Until: t0.Add(5 * time.Minute)}
		answer := func(v int) store.Response {
			return store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: "T-1", Namespace: "riverside-homes", Segment: "general-needs",
				Channel: "sms", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: ptr(v)}}, Once: once}
		}
		if _, err := s.SaveResponse(ctx, answer(3), t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveResponse(ctx, answer(1), t0.Add(time.Minute)); !errors.Is(err, store.ErrReplay) {
			t.Fatalf("the same signature again: %v, want ErrReplay", err)
		}
		if r, _ := s.GetResponse(ctx, uid, "w1", "T-1"); *r.Answers[0].Value != 3 {
			t.Errorf("a replay wrote %v", *r.Answers[0].Value)
		}
		sum, err := s.Summarize(ctx, uid, "w1", "")
		if err != nil || len(sum.Histograms) != 1 || sum.Histograms[0].Count != 1 || *sum.Histograms[0].Value != 3 {
			t.Errorf("a replay moved the aggregates: %+v, %v", sum.Histograms, err)
		}
		// Another write's signature is its own; a case's resolution is refused alike.
		key := store.CaseKey{FollowUpUID: "fu", CampaignUID: uid, WaveID: "w1", RecipientKey: "T-1"}
		if err := s.ResolveCase(ctx, key, "CRM-1", once, t0.Add(time.Minute)); !errors.Is(err, store.ErrReplay) {
			t.Errorf("a case resolved with a used signature: %v, want ErrReplay", err)
		}
		// Past its time the signature is forgotten (the timestamp refuses the request by then).
		if _, err := s.SaveResponse(ctx, answer(4), t0.Add(6*time.Minute)); err != nil {
			t.Errorf("the signature after its time: %v", err)
		}
	})
}

// A bounce suppresses the person's channel in the namespace, whichever wave or round bounced;
// other failures, other channels and other namespaces are not suppressed.
func TestSuppressions(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		var invs []store.Invitation
		for _, c := range []struct{ ns, key, channel string }{
			{"riverside-homes", "T-1", "email"}, {"riverside-homes", "T-2", "email"}, {"riverside-homes", "T-3", "sms"}, {"lakeside", "T-1", "email"},
		} {
			invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w-" + c.ns, RecipientKey: c.key},
				Namespace: c.ns, Segment: "general-needs", Channel: c.channel})
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMany(ctx, []store.Outcome{
			{Key: invs[0].InvitationKey, State: store.StateBounced, Reason: "dsn-5.1.1"},
			{Key: invs[1].InvitationKey, State: store.StateFailed, Reason: "smtp-451"},
			{Key: invs[2].InvitationKey, State: store.StateBounced, Reason: "bounced"},
		}, t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.Suppressed(ctx, "riverside-homes", []string{"T-1", "T-2", "T-3", "T-4"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string][]string{"T-1": {"email"}, "T-3": {"sms"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("suppressed %v, want %v", got, want)
		}
		if got, err := s.Suppressed(ctx, "lakeside", []string{"T-1"}); err != nil || len(got) != 0 {
			t.Errorf("another namespace: %v, %v", got, err)
		}
	})
}
