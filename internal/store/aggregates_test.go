package store_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/scoring"
	"github.com/surveyops/survey-operator/internal/store"
)

// The aggregates a summary reads are maintained by every write. Random sequences of
// reservations, outcomes, submissions, re-submissions and opt-outs, in any order of time, must
// leave them equal to a full recount of the rows, on both databases.
func TestAggregatesEqualARecount(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	contract(t, func(t *testing.T, s store.Store) {
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { randomHistory(t, s, seed, 120) })
		}
	})
}

// A database written before the aggregates existed gets them from its rows when it migrates.
func TestAggregatesMigrateFromTheRows(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		var campaigns []string
		for _, seed := range []uint64{7, 8, 9} {
			campaigns = append(campaigns, randomHistory(t, s, seed, 120))
		}
		if err := store.Remigrate(ctx, s, 5); err != nil {
			t.Fatal(err)
		}
		var all scoring.Dispositions
		for _, campaign := range campaigns {
			compare(t, s, campaign, "after migrating the rows")
			for _, w := range []string{"w1", "w2"} {
				sum, err := s.Summarize(ctx, campaign, w, "q1")
				if err != nil {
					t.Fatal(err)
				}
				if len(sum.Histograms) == 0 || len(sum.Responded) == 0 || len(sum.Pairs) == 0 {
					t.Fatalf("the history left too little to compare: %+v", sum)
				}
				for _, d := range sum.Dispositions {
					all.Complete, all.Partial, all.Refusal = all.Complete+d.Complete, all.Partial+d.Partial, all.Refusal+d.Refusal
					all.NonContact, all.NoAnswer = all.NonContact+d.NonContact, all.NoAnswer+d.NoAnswer
				}
			}
		}
		if all.Complete == 0 || all.Partial == 0 || all.Refusal == 0 || all.NonContact == 0 || all.NoAnswer == 0 {
			t.Fatalf("the histories do not reach every disposition: %+v", all)
		}
	})
}

// randomHistory applies steps random writes to two waves of a fresh campaign and compares the
// summaries with a recount after each.
func randomHistory(t *testing.T, s store.Store, seed uint64, steps int) (campaign string) {
	rng := rand.New(rand.NewPCG(seed, 42))
	campaign = fmt.Sprintf("6f1c2b7e-8d3a-4c5e-9f10-%012d", seed)
	waves := []string{"w1", "w2"}
	primaries := []string{"q1", "q2"}
	for i, id := range waves {
		if err := s.PutWave(ctx, store.Wave{CampaignUID: campaign, WaveID: id, Namespace: "riverside-homes", Campaign: "tenant-satisfaction",
			Definition: []byte(`{}`), PrimaryQuestion: primaries[i], OpensAt: t0, ClosesAt: t0.Add(1000 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	people := func() string { return fmt.Sprintf("P-%02d-%d", seed, rng.IntN(24)) }
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	at := func() time.Time { return t0.Add(time.Duration(rng.IntN(600)) * time.Minute) } // not in order
	states := []store.InvitationState{store.StateSending, store.StateSent, store.StateFailed, store.StateBounced,
		store.StateUnknown, store.StateReserved}
	var log []string
	for step := range steps {
		w := pick(waves...)
		var op string
		switch k := rng.IntN(10); {
		case k < 2:
			var invs []store.Invitation
			for range 1 + rng.IntN(4) {
				invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: campaign, WaveID: w,
					RecipientKey: people(), Round: rng.IntN(3) / 2}, Namespace: pick("riverside-homes", "riverside-homes", "lakeside"),
					Segment: pick("general-needs", "supported-housing", "shared-ownership"), Channel: pick("email", "sms")})
			}
			op = fmt.Sprintf("reserve %v", invs)
			if _, err := s.Reserve(ctx, invs, at()); err != nil {
				t.Fatal(op, err)
			}
		case k < 5:
			var outcomes []store.Outcome
			for range 1 + rng.IntN(3) {
				outcomes = append(outcomes, store.Outcome{Key: store.InvitationKey{CampaignUID: campaign, WaveID: w,
					RecipientKey: people(), Round: rng.IntN(3) / 2}, State: states[rng.IntN(len(states))]})
			}
			op = fmt.Sprintf("mark %v", outcomes)
			if err := s.MarkMany(ctx, outcomes, at()); err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrNotSending) {
				t.Fatal(op, err)
			}
		case k < 8:
			r := store.Response{CampaignUID: campaign, WaveID: w, RecipientKey: people(), Namespace: "riverside-homes",
				Segment: pick("general-needs", "supported-housing", "shared-ownership"), Channel: pick("email", "sms", "web"),
				Complete: rng.IntN(3) > 0, Language: pick("en", "cy", "")}
			for _, q := range []string{"q1", "q2", "q3", "comments"} {
				switch rng.IntN(5) {
				case 0: // unanswered
				case 1:
					r.Answers = append(r.Answers, store.Answer{Question: q, NotApplicable: true})
				default:
					if q == "comments" {
						r.Answers = append(r.Answers, store.Answer{Question: q, Text: "The repair took three visits."})
					} else {
						r.Answers = append(r.Answers, store.Answer{Question: q, Value: ptr(1 + rng.IntN(5))})
					}
				}
			}
			op = fmt.Sprintf("respond %s %s %s complete=%v %d answers", r.WaveID, r.RecipientKey, r.Channel, r.Complete, len(r.Answers))
			if _, err := s.SaveResponse(ctx, r, at()); err != nil {
				t.Fatal(op, err)
			}
		default:
			ns, key, when := pick("riverside-homes", "lakeside"), people(), at()
			op = fmt.Sprintf("opt out %s %s at %s", ns, key, when.Format(time.Kitchen))
			if err := s.OptOut(ctx, ns, key, when); err != nil {
				t.Fatal(op, err)
			}
		}
		log = append(log, op)
		compare(t, s, campaign, fmt.Sprintf("after step %d (%s); history:\n%v", step, op, log))
	}
	return campaign
}

// compare holds the summaries of a random history's waves, with each primary question, to a
// recount.
func compare(t *testing.T, s store.Store, campaign, when string) {
	t.Helper()
	for _, id := range []string{"w1", "w2"} {
		for _, primary := range []string{"", "q1", "q2"} {
			got, err := s.Summarize(ctx, campaign, id, primary)
			if err != nil {
				t.Fatal(err)
			}
			want, err := store.SummarizeByScan(ctx, s, campaign, id, primary)
			if err != nil {
				t.Fatal(err)
			}
			normalize(&got)
			normalize(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("wave %s, primary %q:\nmaintained %+v\nrecount    %+v\n%s", id, primary, got, want, when)
			}
		}
	}
}

// normalize orders a summary's histogram rows, merging rows with the same key.
func normalize(sum *store.Summary) {
	key := func(h store.HistogramRow) string {
		v := "na"
		if h.Value != nil {
			v = fmt.Sprint(*h.Value)
		}
		return fmt.Sprint(h.Question, "/", h.Group.Segment, "/", h.Group.Channel, "/", v, "/", h.NotApplicable)
	}
	slices.SortFunc(sum.Histograms, func(a, b store.HistogramRow) int { return cmp.Compare(key(a), key(b)) })
	var merged []store.HistogramRow
	for _, h := range sum.Histograms {
		if n := len(merged); n > 0 && key(merged[n-1]) == key(h) {
			merged[n-1].Count += h.Count
			continue
		}
		merged = append(merged, h)
	}
	sum.Histograms = merged
}

// Responses arriving together share commits, and each keeps its own outcome: a response to a
// closed wave or a replayed signed request is refused on its own, the others of its batch are
// stored, each person is created once, and the aggregates equal a recount.
func TestGroupCommitKeepsEachResponseItsOwn(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		now := t0.Add(time.Hour)
		for id, closesAt := range map[string]time.Time{"w1": t0.Add(1000 * time.Hour), "w2": now} {
			if err := s.PutWave(ctx, store.Wave{CampaignUID: uid, WaveID: id, Namespace: "riverside-homes", Campaign: "tenant-satisfaction",
				Definition: []byte(`{}`), PrimaryQuestion: "q1", OpensAt: t0, ClosesAt: closesAt}); err != nil {
				t.Fatal(err)
			}
		}
		// Thirty of the people were invited (by SMS: a response may come through another
		// channel), and one invitation failed: their dispositions move as they answer.
		var invs []store.Invitation
		for i := range 30 {
			invs = append(invs, invitation(fmt.Sprintf("P-%02d", i), "general-needs", "sms"))
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		var sent []store.Outcome
		for _, inv := range invs {
			state := store.StateSent
			if inv.RecipientKey == "P-07" {
				state = store.StateFailed
			}
			sent = append(sent, store.Outcome{Key: inv.InvitationKey, State: state})
		}
		if err := s.MarkMany(ctx, sent, t0); err != nil {
			t.Fatal(err)
		}
		type submission struct {
			r    store.Response
			want error
		}
		var subs []submission
		response := func(wave, key string, value int) store.Response {
			return store.Response{CampaignUID: uid, WaveID: wave, RecipientKey: key, Namespace: "riverside-homes", Segment: "general-needs",
				Channel: "email", Complete: true, Answers: []store.Answer{{Question: "q1", Value: ptr(value)}, {Question: "q2", Value: ptr(6 - value)}}}
		}
		for i := range 50 {
			r := response("w1", fmt.Sprintf("P-%02d", i), 1+i%5)
			switch i % 4 {
			case 1: // a partial, "not applicable" to the second question
				r.Complete, r.Answers[1] = false, store.Answer{Question: "q2", NotApplicable: true}
			case 2: // through the other channel, with a comment
				r.Channel = "sms"
				r.Answers = append(r.Answers, store.Answer{Question: "comments", Text: "The repair took three visits."})
			}
			subs = append(subs, submission{r, nil})
		}
		for i := range 6 { // a second submission of six of them
			subs = append(subs, submission{response("w1", fmt.Sprintf("P-%02d", i), 5), nil})
		}
		for i := range 4 {
			subs = append(subs, submission{response("w2", fmt.Sprintf("Q-%d", i), 3), store.ErrWaveClosed})
		}
		signed := store.Once{Signature: "5d41402abc4b2a76b9719d911017c592", Until: now.Add(5 * time.Minute)}
		for i := range 4 { // one signed request, sent four times: one is taken
			r := response("w1", "S-1", 2+i)
			r.Once = signed
			subs = append(subs, submission{r, nil})
		}
		type outcome struct {
			created bool
			err     error
		}
		outcomes := make([]outcome, len(subs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, sub := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				created, err := s.SaveResponse(ctx, sub.r, now)
				outcomes[i] = outcome{created, err}
			}()
		}
		close(start)
		wg.Wait()

		created := map[string]int{}
		replays := 0
		for i, o := range outcomes {
			key := subs[i].r.RecipientKey
			switch {
			case key == "S-1" && errors.Is(o.err, store.ErrReplay):
				replays++
			case !errors.Is(o.err, subs[i].want) || (subs[i].want == nil) != (o.err == nil):
				t.Errorf("%s to %s: %v, want %v", key, subs[i].r.WaveID, o.err, subs[i].want)
			case o.created:
				created[key]++
			}
		}
		if replays != 3 || created["S-1"] != 1 {
			t.Errorf("one signed request sent four times: %d replays refused, created %d times; want 3 and 1", replays, created["S-1"])
		}
		for i := range 50 {
			if key := fmt.Sprintf("P-%02d", i); created[key] != 1 {
				t.Errorf("%s created %d times", key, created[key])
			}
		}
		got, err := s.Summarize(ctx, uid, "w1", "q1")
		if err != nil {
			t.Fatal(err)
		}
		want, err := store.SummarizeByScan(ctx, s, uid, "w1", "q1")
		if err != nil {
			t.Fatal(err)
		}
		normalize(&got)
		normalize(&want)
		responded := 0
		for _, n := range got.Responded {
			responded += n
		}
		if !reflect.DeepEqual(got, want) || responded != 51 {
			t.Errorf("after concurrent submissions:\nmaintained %+v\nrecount    %+v", got, want)
		}
		batches, responses := store.CommitStats(s)
		t.Logf("%d responses in %d commits", responses, batches)
	})
}
