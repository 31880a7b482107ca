package store_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// An export reads every response of a wave with all its answers, person by person in key
// order, and only that wave's; the pseudonym key is made once per campaign and then kept.
func TestExportResponses(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		for _, w := range []string{"w1", "w2"} {
			if err := s.PutWave(ctx, wave(w)); err != nil {
				t.Fatal(err)
			}
		}
		at := t0.Add(time.Hour)
		save := func(w, key string, complete bool, answers ...store.Answer) {
			t.Helper()
			if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: w, RecipientKey: key, Namespace: "riverside-homes",
				Segment: "general-needs", Channel: "sms", Complete: complete, Answers: answers}, at); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 30 {
			save("w1", fmt.Sprintf("T-%03d", i), true, store.Answer{Question: "tp01", Value: ptr(1 + i%5)},
				store.Answer{Question: "tp02", NotApplicable: true})
		}
		save("w1", "T-007", false, store.Answer{Question: "comments", Text: "The lift has been broken for a month."},
			store.Answer{Question: "tp01", Value: ptr(1)}) // a second submission replaces the first
		save("w1", "T-100", false) // a response with no answers
		save("w2", "T-000", true, store.Answer{Question: "tp01", Value: ptr(5)})

		var got []store.ExportedResponse
		if err := s.ExportResponses(ctx, uid, "w1", func(r store.ExportedResponse) error {
			r.Answers = append([]store.Answer(nil), r.Answers...) // fn must not keep them: copy
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 31 {
			t.Fatalf("%d responses exported, want 31", len(got))
		}
		for i, r := range got {
			if i > 0 && got[i-1].RecipientKey >= r.RecipientKey {
				t.Errorf("not in key order: %s after %s", r.RecipientKey, got[i-1].RecipientKey)
			}
		}
		want := store.ExportedResponse{RecipientKey: "T-007", Segment: "general-needs", Channel: "sms", Complete: false,
			SubmittedAt: at.UTC(), UpdatedAt: at.UTC(), Answers: []store.Answer{
				{Question: "comments", Text: "The lift has been broken for a month."}, {Question: "tp01", Value: ptr(1)}}}
		if !reflect.DeepEqual(got[7], want) {
			t.Errorf("T-007:\n got %+v\nwant %+v", got[7], want)
		}
		if r := got[0]; len(r.Answers) != 2 || *r.Answers[0].Value != 1 || !r.Answers[1].NotApplicable || !r.Complete {
			t.Errorf("T-000 = %+v", r)
		}
		if r := got[30]; r.RecipientKey != "T-100" || len(r.Answers) != 0 {
			t.Errorf("the response without answers = %+v", r)
		}
		// An error from fn stops the export.
		calls := 0
		stop := fmt.Errorf("enough")
		if err := s.ExportResponses(ctx, uid, "w1", func(store.ExportedResponse) error { calls++; return stop }); err != stop || calls != 1 {
			t.Errorf("stopping: %v after %d calls", err, calls)
		}

		key, err := s.ExportKey(ctx, uid)
		if err != nil || len(key) != 32 {
			t.Fatalf("ExportKey = %x, %v", key, err)
		}
		again, err := s.ExportKey(ctx, uid)
		if err != nil || !bytes.Equal(again, key) {
			t.Errorf("the key changed: %x then %x (%v)", key, again, err)
		}
		other, err := s.ExportKey(ctx, "another-campaign")
		if err != nil || bytes.Equal(other, key) {
			t.Errorf("another campaign's key %x (%v) is not its own", other, err)
		}
	})
}
