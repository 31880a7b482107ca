package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// An anonymous wave: the ledger knows who responded, the figures count every answer, and no
// query can join an answer to a person: no row holding an answer holds a person's key, their
// segment or channel, or a time, and on SQLite the written answers are not even stored in the
// order they came.
func TestAnonymousSurvey(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		w := wave("anon")
		w.Anonymous = true
		w.PrimaryQuestion = "tp01"
		if err := s.PutWave(ctx, w); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetWave(ctx, uid, "anon"); err != nil || !got.Anonymous {
			t.Fatalf("GetWave = %+v, %v", got, err)
		}
		notAnonymous := w
		notAnonymous.Anonymous = false
		if err := s.PutWave(ctx, notAnonymous); !errors.Is(err, store.ErrConflict) {
			t.Errorf("registering the wave as not anonymous: %v, want ErrConflict", err)
		}
		const people = 20
		var invs []store.Invitation
		var sent []store.Outcome
		for i := range people {
			k := store.InvitationKey{CampaignUID: uid, WaveID: "anon", RecipientKey: fmt.Sprintf("S-%03d", i)}
			invs = append(invs, store.Invitation{InvitationKey: k, Namespace: "riverside-homes", Segment: "front-line", Channel: "email"})
			sent = append(sent, store.Outcome{Key: k, State: store.StateSent})
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMany(ctx, sent, t0); err != nil {
			t.Fatal(err)
		}
		var written []string
		for i := range people - 1 { // S-019 does not answer
			comment := fmt.Sprintf("comment %02d", i)
			written = append(written, comment)
			r := store.Response{CampaignUID: uid, WaveID: "anon", RecipientKey: fmt.Sprintf("S-%03d", i), Namespace: "riverside-homes",
				Segment: "front-line", Channel: "email", Complete: true,
				Answers: []store.Answer{{Question: "tp01", Value: ptr(1 + i%5)}, {Question: "q2", Value: ptr(3)}, {Question: "comments", Text: comment}},
				// A case is never opened for an anonymous answer, whatever the caller asks.
				Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: fuDetractors}}}}
			if created, err := s.SaveResponse(ctx, r, t0.Add(time.Duration(i+1)*time.Minute)); err != nil || !created {
				t.Fatalf("response %d: %v, %v", i, created, err)
			}
		}
		before, err := s.Summarize(ctx, uid, "anon", "tp01")
		if err != nil {
			t.Fatal(err)
		}
		again := store.Response{CampaignUID: uid, WaveID: "anon", RecipientKey: "S-000", Namespace: "riverside-homes",
			Segment: "front-line", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: ptr(5)}}}
		if _, err := s.SaveResponse(ctx, again, t0.Add(time.Hour)); !errors.Is(err, store.ErrAnswered) {
			t.Errorf("a second answer: %v, want ErrAnswered", err)
		}

		// The figures count every answer; the ledger knows who responded.
		g := store.Group{Segment: "front-line", Channel: "email"}
		if before.Responded[g] != 19 || before.Dispositions[g].Complete != 19 || before.Pairs["q2"].N != 19 {
			t.Errorf("summary: responded %v, dispositions %+v, pairs %+v", before.Responded, before.Dispositions, before.Pairs)
		}
		if after, _ := s.Summarize(ctx, uid, "anon", "tp01"); !reflect.DeepEqual(after, before) {
			t.Errorf("the refused second answer changed the figures")
		}
		if due, err := s.Unanswered(ctx, uid, "anon", []string{"S-000", "S-019"}); err != nil || !reflect.DeepEqual(due, map[string]bool{"S-019": true}) {
			t.Errorf("due a reminder: %v, %v", due, err)
		}
		if got, err := s.GetResponse(ctx, uid, "anon", "S-000"); err != nil || len(got.Answers) != 0 || !got.Complete {
			t.Errorf("GetResponse = %+v, %v: the ledger's row, with no answer", got, err)
		}

		// Where each person and each answer is stored.
		for i := range people - 1 {
			if held, err := store.RowsHolding(ctx, s, fmt.Sprintf("S-%03d", i)); err != nil || !reflect.DeepEqual(held, map[string]int{"invitations": 1, "responses": 1}) {
				t.Fatalf("S-%03d is held in %v (%v): the ledger only", i, held, err)
			}
			if held, err := store.RowsHolding(ctx, s, written[i]); err != nil || !reflect.DeepEqual(held, map[string]int{"anonymous_comments": 1}) {
				t.Fatalf("%q is held in %v (%v)", written[i], held, err)
			}
		}
		if held, _ := store.RowsHolding(ctx, s, "anon"); held["answers"] != 0 || held["followup_cases"] != 0 {
			t.Errorf("answer rows or cases for the anonymous wave: %v", held)
		}
		// The tables that hold answers have no column that could name a person or a time.
		for table, want := range map[string][]string{
			"anonymous_comments": {"campaign_uid", "comment", "id", "question", "wave_id"},
			"wave_answer_counts": {"campaign_uid", "channel", "n", "not_applicable", "question", "segment", "slot", "value", "wave_id"},
			"wave_answer_pairs":  {"campaign_uid", "n", "primary_value", "question", "slot", "value", "wave_id"},
		} {
			query := `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
			if store.IsSQLite(s) {
				query = `SELECT name FROM pragma_table_info($1)`
			}
			got, err := store.QueryStrings(ctx, s, query, table)
			slices.Sort(got)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s has columns %v (%v), want %v", table, got, err, want)
			}
		}
		var exported []string
		if err := s.ExportComments(ctx, uid, "anon", func(c store.Comment) error {
			exported = append(exported, c.Text)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(exported, written) || !slices.Equal(slices.Sorted(slices.Values(exported)), written) {
			t.Errorf("exported comments %v: want all of them, not in the order written", exported)
		}
		if store.IsSQLite(s) { // the rows themselves are stored in random order (PostgreSQL: see docs/privacy.md)
			stored, err := store.QueryStrings(ctx, s, `SELECT comment FROM anonymous_comments`)
			if err != nil || slices.Equal(stored, written) {
				t.Errorf("comments stored in the order written: %v, %v", stored, err)
			}
		}

		// Erasing a respondent takes them out of the ledger; their answers, which nothing
		// links to them, stay in the figures.
		erased, err := s.Erase(ctx, "riverside-homes", "S-000", t0.Add(2*time.Hour))
		if err != nil || erased.Responses != 1 || erased.Invitations != 1 || erased.Answers != 0 {
			t.Errorf("Erase = %+v, %v", erased, err)
		}
		if after := summary(t, s, uid, "anon"); after.Responded[g] != 19 || after.Dispositions[g].Complete != 18 || !reflect.DeepEqual(after.Histograms, before.Histograms) {
			t.Errorf("after erasing S-000: responded %v, dispositions %+v", after.Responded, after.Dispositions)
		}

		// Retention deletes the written answers with the responses.
		if err := s.PutRetention(ctx, uid, store.Retention{Namespace: "riverside-homes", Responses: day}, t0); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Expire(ctx, closes.Add(day)); err != nil || got.Responses != 18 || got.Answers != 19 {
			t.Errorf("Expire = %+v, %v", got, err)
		}
		if held, _ := store.RowsHolding(ctx, s, written[1]); len(held) != 0 {
			t.Errorf("an expired comment is still held in %v", held)
		}
	})
}
