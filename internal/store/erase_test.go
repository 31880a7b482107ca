package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// Erasing a person deletes every record of them in the namespace, and nothing of anyone else;
// the aggregates equal a recount of what is left; an opt-out and a bounce are still honoured;
// the log says an erasure happened, not whom it erased.
func TestErase(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		seedWave(t, s, uid, "w1", closes, 4) // P-000 (dissatisfied: a case), P-001 and P-002 respond
		seedWave(t, s, uid, "w2", closes.Add(30*day), 4)
		// P-000 also got a reminder in w1, opted out, and an address of theirs bounced.
		reminder := store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: "P-003", Round: 1},
			Namespace: "riverside-homes", Segment: "general-needs", Channel: "email"}
		reminder0 := reminder
		reminder0.RecipientKey = "P-000"
		if _, err := s.Reserve(ctx, []store.Invitation{reminder, reminder0}, t0.Add(day)); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, store.InvitationKey{CampaignUID: uid, WaveID: "w2", RecipientKey: "P-000"}, store.StateBounced, "dsn-5.1.1", t0.Add(day)); err != nil {
			t.Fatal(err)
		}
		if err := s.OptOut(ctx, "riverside-homes", "P-000", t0.Add(2*day)); err != nil {
			t.Fatal(err)
		}
		// Another namespace's P-000 is someone else.
		lakeside := wave("lake")
		lakeside.CampaignUID, lakeside.Namespace = "0a0b0c0d-0000-4000-8000-00000000000a", "lakeside"
		if err := s.PutWave(ctx, lakeside); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, []store.Invitation{{InvitationKey: store.InvitationKey{CampaignUID: lakeside.CampaignUID, WaveID: "lake",
			RecipientKey: "P-000"}, Namespace: "lakeside", Segment: "all", Channel: "sms"}}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: lakeside.CampaignUID, WaveID: "lake", RecipientKey: "P-000",
			Namespace: "lakeside", Segment: "all", Channel: "sms", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: ptr(3)}}}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		before := summary(t, s, uid, "w1")

		got, err := s.Erase(ctx, "riverside-homes", "P-000", t0.Add(3*day))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.ID) != 32 || got.Invitations != 3 || got.Responses != 2 || got.Answers != 4 || got.Cases != 2 || got.OptOuts != 1 || got.Suppressions != 1 {
			t.Errorf("Erase = %+v", got)
		}
		if held, err := store.RowsHolding(ctx, s, "P-000"); err != nil || !reflect.DeepEqual(held, map[string]int{"invitations": 1, "responses": 1, "answers": 1}) {
			t.Errorf("rows still holding P-000 (lakeside's only, expected): %v, %v", held, err)
		}
		// The aggregates lost exactly what P-000 counted.
		for _, w := range []string{"w1", "w2"} {
			maintained := summary(t, s, uid, w)
			recount, err := store.SummarizeByScan(ctx, s, uid, w, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(maintained, recount) {
				t.Errorf("%s: aggregates after the erasure\n%+v\nrecount\n%+v", w, maintained, recount)
			}
		}
		after := summary(t, s, uid, "w1")
		g := store.Group{Segment: "general-needs", Channel: "email"}
		if b, a := before.Dispositions[g], after.Dispositions[g]; a.Complete != b.Complete-1 || a.NoAnswer != b.NoAnswer || after.Responded[g] != before.Responded[g]-1 {
			t.Errorf("dispositions %+v -> %+v, responded %d -> %d", b, a, before.Responded[g], after.Responded[g])
		}
		if _, err := s.GetResponse(ctx, uid, "w1", "P-000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the erased response: %v", err)
		}
		// The opt-out and the bounce still hold: the organisation's list may name them again.
		if out, err := s.OptedOut(ctx, "riverside-homes", []string{"P-000", "P-001"}); err != nil || !reflect.DeepEqual(out, map[string]bool{"P-000": true}) {
			t.Errorf("OptedOut after the erasure = %v, %v", out, err)
		}
		if sup, err := s.Suppressed(ctx, "riverside-homes", []string{"P-000", "P-001"}); err != nil || !reflect.DeepEqual(sup, map[string][]string{"P-000": {"email"}}) {
			t.Errorf("Suppressed after the erasure = %v, %v", sup, err)
		}
		if out, err := s.OptedOut(ctx, "lakeside", []string{"P-000"}); err != nil || len(out) != 0 {
			t.Errorf("the erased person's opt-out reached another namespace: %v, %v", out, err)
		}
		if c, err := s.Contacted(ctx, "riverside-homes", []string{"P-000"}, t0, store.WaveRef{}); err != nil || len(c) != 0 {
			t.Errorf("the erased person still counts as contacted: %v, %v", c, err)
		}

		// Erasing again, or someone never known, erases nothing and is logged all the same.
		again, err := s.Erase(ctx, "riverside-homes", "P-000", t0.Add(4*day))
		if err != nil || again.Invitations+again.Responses+again.Answers+again.Cases+again.OptOuts+again.Suppressions != 0 || again.ID == got.ID {
			t.Errorf("erasing again = %+v, %v", again, err)
		}
		log, err := s.Erasures(ctx, "riverside-homes")
		if err != nil || len(log) != 2 || log[0].ID != got.ID || !log[0].ErasedAt.Equal(t0.Add(3*day)) {
			t.Errorf("erasure log = %+v, %v", log, err)
		}
		if other, _ := s.Erasures(ctx, "lakeside"); len(other) != 0 {
			t.Errorf("lakeside's log = %+v", other)
		}
		if held, _ := store.RowsHolding(ctx, s, "P-000"); held["erasures"] != 0 || held["erased_suppressions"] != 0 {
			t.Errorf("the log or the suppressions name the person: %v", held)
		}
		for _, e := range log {
			if strings.Contains(e.ID, "P-000") {
				t.Errorf("log entry %+v", e)
			}
		}
	})
}
