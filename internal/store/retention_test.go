package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

const day = 24 * time.Hour

// seedWave registers a wave of campaign, invites n people (P-000...) on email, sends them, and
// has the first three respond, the first dissatisfied (which opens a case).
func seedWave(t *testing.T, s store.Store, campaign, waveID string, closesAt time.Time, n int) {
	t.Helper()
	w := wave(waveID)
	w.CampaignUID, w.ClosesAt = campaign, closesAt
	if err := s.PutWave(ctx, w); err != nil {
		t.Fatal(err)
	}
	invs := make([]store.Invitation, n)
	outcomes := make([]store.Outcome, n)
	for i := range invs {
		k := store.InvitationKey{CampaignUID: campaign, WaveID: waveID, RecipientKey: fmt.Sprintf("P-%03d", i)}
		invs[i] = store.Invitation{InvitationKey: k, Namespace: "riverside-homes", Segment: "general-needs", Channel: "email"}
		outcomes[i] = store.Outcome{Key: k, State: store.StateSent}
	}
	if _, err := s.Reserve(ctx, invs, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMany(ctx, outcomes, t0); err != nil {
		t.Fatal(err)
	}
	for i, v := range []int{1, 4, 5} {
		r := store.Response{CampaignUID: campaign, WaveID: waveID, RecipientKey: fmt.Sprintf("P-%03d", i), Namespace: "riverside-homes",
			Segment: "general-needs", Channel: "email", Complete: true,
			Answers: []store.Answer{{Question: "tp01", Value: ptr(v)}, {Question: "comments", Text: "The lift is broken."}}}
		if v == 1 {
			r.Cases = []store.Case{{CaseKey: store.CaseKey{FollowUpUID: fuDetractors}, ContactDue: t0.Add(48 * time.Hour)}}
		}
		if _, err := s.SaveResponse(ctx, r, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

func summary(t *testing.T, s store.Store, campaign, waveID string) store.Summary {
	t.Helper()
	sum, err := s.Summarize(ctx, campaign, waveID, "")
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestRetention(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		const other = "0a0b0c0d-0000-4000-8000-000000000002" // a campaign that drops its aggregates too
		later := closes.Add(30 * day)
		seedWave(t, s, uid, "w1", closes, 520) // more people than one expiry transaction takes
		seedWave(t, s, uid, "w2", later, 4)
		seedWave(t, s, other, "w1", closes, 4)
		keep := store.Retention{Namespace: "riverside-homes", Responses: 30 * day, Invitations: 90 * day}
		if err := s.PutRetention(ctx, uid, store.Retention{Namespace: "riverside-homes", Responses: day}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRetention(ctx, uid, keep, t0); err != nil { // registering again replaces
			t.Fatal(err)
		}
		if got, err := s.GetRetention(ctx, uid); err != nil || got != keep {
			t.Fatalf("GetRetention = %+v, %v", got, err)
		}
		if err := s.PutRetention(ctx, other, store.Retention{Namespace: "riverside-homes", Responses: day, DropAggregates: true}, t0); err != nil {
			t.Fatal(err)
		}
		before := summary(t, s, uid, "w1")
		if before.Dispositions[store.Group{Segment: "general-needs", Channel: "email"}].Complete != 3 {
			t.Fatalf("seeded summary = %+v", before.Dispositions)
		}

		expire := func(at time.Time) store.Expired {
			t.Helper()
			got, err := s.Expire(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Nothing has outlived its time a moment before it does.
		if got := expire(closes.Add(day - time.Second)); got != (store.Expired{}) {
			t.Errorf("expired early: %+v", got)
		}
		// The other campaign's wave goes entirely, aggregates included.
		if got := expire(closes.Add(day)); got != (store.Expired{Waves: 1, Responses: 3, Answers: 6, Cases: 1}) {
			t.Errorf("after a day: %+v", got)
		}
		if sum := summary(t, s, other, "w1"); len(sum.Dispositions) != 0 || len(sum.Histograms) != 0 || len(sum.Responded) != 0 {
			t.Errorf("dropped aggregates are still summarised: %+v", sum)
		}

		// 30 days after w1 closed, its responses, answers and case go; its figures stay.
		if got := expire(closes.Add(30 * day)); got != (store.Expired{Waves: 1, Responses: 3, Answers: 6, Cases: 1}) {
			t.Errorf("after 30 days: %+v", got)
		}
		if _, err := s.GetResponse(ctx, uid, "w1", "P-000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired response is still there: %v", err)
		}
		if _, err := s.GetCase(ctx, store.CaseKey{FollowUpUID: fuDetractors, CampaignUID: uid, WaveID: "w1", RecipientKey: "P-000"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired case is still there: %v", err)
		}
		if after := summary(t, s, uid, "w1"); !reflect.DeepEqual(after, before) {
			t.Errorf("the summary changed when responses expired:\n%+v\n%+v", after, before)
		}
		// A bounce reported late does not recount an expired response as a non-contact.
		if err := s.MarkMany(ctx, []store.Outcome{{Key: store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: "P-001"},
			State: store.StateBounced, Reason: "dsn-5.1.1"}}, closes.Add(31*day)); err != nil {
			t.Fatal(err)
		}
		if after := summary(t, s, uid, "w1"); !reflect.DeepEqual(after.Dispositions, before.Dispositions) {
			t.Errorf("a late bounce moved an expired wave's dispositions: %+v, want %+v", after.Dispositions, before.Dispositions)
		}
		// w2, which closed 30 days later, keeps its responses.
		if _, err := s.GetResponse(ctx, uid, "w2", "P-000"); err != nil {
			t.Errorf("w2's response: %v", err)
		}
		if got := expire(closes.Add(30 * day)); got != (store.Expired{}) {
			t.Errorf("expiring again: %+v", got)
		}

		// 90 days after, w1's ledger goes: nobody counts as contacted by it any more.
		contacted, err := s.Contacted(ctx, "riverside-homes", []string{"P-100", "P-519"}, t0, store.WaveRef{CampaignUID: uid, WaveID: "w2"})
		if err != nil || len(contacted) != 2 {
			t.Fatalf("contacted before the ledger expires = %v, %v", contacted, err)
		}
		if got := expire(closes.Add(90 * day)); got != (store.Expired{Waves: 2, Responses: 3, Answers: 6, Cases: 1, Invitations: 520}) {
			t.Errorf("after 90 days (w1's ledger, w2's responses): %+v", got)
		}
		contacted, err = s.Contacted(ctx, "riverside-homes", []string{"P-100", "P-519"}, t0, store.WaveRef{CampaignUID: uid, WaveID: "w2"})
		if err != nil || len(contacted) != 0 {
			t.Errorf("contacted after the ledger expired = %v, %v", contacted, err)
		}
		if after := summary(t, s, uid, "w1"); !reflect.DeepEqual(after, before) {
			t.Errorf("the summary changed when the ledger expired:\n%+v\n%+v", after, before)
		}

		// A campaign that keeps for ever (zero durations) loses nothing.
		if err := s.PutRetention(ctx, uid, store.Retention{Namespace: "riverside-homes"}, t0); err != nil {
			t.Fatal(err)
		}
		if got := expire(later.Add(1000 * day)); got != (store.Expired{}) {
			t.Errorf("a campaign keeping for ever lost %+v", got)
		}
	})
}
