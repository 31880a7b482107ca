package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

const fuDetractors, fuSilent = "fu-detractors", "fu-silent"

func TestFollowUpCases(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		detractors := store.FollowUpRule{UID: fuDetractors, Namespace: "riverside-homes", Name: "detractors", CampaignUID: uid,
			Trigger: "Response", When: "response.answers.tp01 <= 2", ContactWithin: 48 * time.Hour, ResolveWithin: 240 * time.Hour, Active: true}
		silent := store.FollowUpRule{UID: fuSilent, Namespace: "riverside-homes", Name: "silent", CampaignUID: uid,
			Trigger: "NonResponse", After: 72 * time.Hour, Segments: []string{"general-needs"}, ContactWithin: 24 * time.Hour, Active: true}
		for _, r := range []store.FollowUpRule{detractors, silent, detractors} { // registering again is an update
			if err := s.PutFollowUp(ctx, r, t0.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		rules, err := s.FollowUpRules(ctx, uid)
		if err != nil || len(rules) != 2 || rules[0].When != detractors.When || rules[1].After != 72*time.Hour ||
			len(rules[1].Segments) != 1 || !rules[1].Created.Equal(t0.Add(-time.Hour)) {
			t.Fatalf("FollowUpRules = %+v, %v", rules, err)
		}

		// Invitations sent at t0: T-1..T-4 general needs, T-5 shared ownership.
		var invs []store.Invitation
		for _, k := range []string{"T-1", "T-2", "T-3", "T-4", "T-5"} {
			seg := "general-needs"
			if k == "T-5" {
				seg = "shared-ownership"
			}
			invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "w1", RecipientKey: k},
				Namespace: "riverside-homes", Segment: seg, Channel: "email"})
		}
		if _, err := s.Reserve(ctx, invs, t0); err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if err := s.Mark(ctx, inv.InvitationKey, store.StateSent, "", t0); err != nil {
				t.Fatal(err)
			}
		}
		// T-1 is dissatisfied: the response opens a case in its transaction, once however often
		// it is submitted.
		for i := range 2 {
			if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: "T-1", Namespace: "riverside-homes",
				Segment: "general-needs", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: ptr(1)}},
				Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: fuDetractors}, ContactDue: t0.Add(time.Hour + 48*time.Hour),
					ResolveDue: t0.Add(time.Hour + 240*time.Hour)}}}, t0.Add(time.Hour+time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// T-2 answered, satisfied; T-4 opted out.
		if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: "T-2", Namespace: "riverside-homes",
			Segment: "general-needs", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: ptr(5)}}}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.OptOut(ctx, "riverside-homes", "T-4", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c1, err := s.GetCase(ctx, store.CaseKey{FollowUpUID: fuDetractors, CampaignUID: uid, WaveID: "w1", RecipientKey: "T-1"})
		if err != nil || !c1.OpenedAt.Equal(t0.Add(time.Hour)) || c1.Segment != "general-needs" || !c1.ContactDue.Equal(t0.Add(49*time.Hour)) {
			t.Fatalf("the detractor's case: %+v, %v", c1, err)
		}

		// Non-responders: nothing before 72h; then T-3 only (T-1, T-2 answered, T-4 opted out,
		// T-5 is in another segment). A second sweep opens nothing more.
		if n, err := s.OpenNonResponseCases(ctx, rules[1], t0.Add(71*time.Hour)); err != nil || n != 0 {
			t.Fatalf("early sweep opened %d, %v", n, err)
		}
		for want := range []int{1, 0} {
			n, err := s.OpenNonResponseCases(ctx, rules[1], t0.Add(73*time.Hour))
			if err != nil || n != 1-want {
				t.Fatalf("sweep %d opened %d, %v", want, n, err)
			}
		}
		toContact, err := s.CasesToContact(ctx, fuSilent, 10)
		if err != nil || len(toContact) != 1 || toContact[0].RecipientKey != "T-3" || !toContact[0].ContactDue.Equal(t0.Add(97*time.Hour)) {
			t.Fatalf("CasesToContact = %+v, %v", toContact, err)
		}

		// The detractor is contacted within the standard at +10h and resolved at +300h (late).
		k1 := c1.CaseKey
		if err := s.MarkContacted(ctx, []store.CaseKey{k1}, t0.Add(11*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkContacted(ctx, []store.CaseKey{k1}, t0.Add(20*time.Hour)); err != nil { // the first time counts
			t.Fatal(err)
		}
		if c, _ := s.CasesToContact(ctx, fuDetractors, 10); len(c) != 0 {
			t.Errorf("a contacted case is still to contact: %+v", c)
		}
		st, err := s.CaseStats(ctx, fuDetractors, t0.Add(100*time.Hour))
		if err != nil || st.Matched != 1 || st.Contacted != 1 || st.Resolved != 0 || st.ToContact != 0 || st.Overdue != 0 || st.Breaches != 0 ||
			st.TimeToContact.N != 1 || st.TimeToContact.Median != 10*time.Hour {
			t.Fatalf("stats at +100h: %+v, %v", st, err)
		}
		if st, _ := s.CaseStats(ctx, fuDetractors, t0.Add(260*time.Hour)); st.Overdue != 1 || st.Breaches != 1 {
			t.Errorf("unresolved past resolveWithin: %+v", st)
		}
		if err := s.ResolveCase(ctx, k1, "CRM-1234", store.Once{}, t0.Add(300*time.Hour)); err != nil {
			t.Fatal(err)
		}
		st, _ = s.CaseStats(ctx, fuDetractors, t0.Add(400*time.Hour))
		if st.Resolved != 1 || st.Overdue != 0 || st.Breaches != 1 || st.TimeToResolve.Median != 299*time.Hour {
			t.Errorf("resolved late: %+v", st)
		}
		if c, _ := s.GetCase(ctx, k1); c.TicketRef != "CRM-1234" {
			t.Errorf("ticket ref %q", c.TicketRef)
		}
		if err := s.ResolveCase(ctx, store.CaseKey{FollowUpUID: fuDetractors, CampaignUID: uid, WaveID: "w1", RecipientKey: "nobody"}, "", store.Once{}, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("resolving a missing case: %v", err)
		}

		// The non-responder is not contacted within 24h: overdue and breached.
		if st, _ := s.CaseStats(ctx, fuSilent, t0.Add(98*time.Hour)); st.Matched != 1 || st.ToContact != 1 || st.Overdue != 1 || st.Breaches != 1 {
			t.Errorf("silent stats: %+v", st)
		}

		// The wave's cases by FollowUp, for its report: the detractor's, resolved late; the
		// non-responder's, overdue; none in another wave.
		waveCases, err := s.WaveCases(ctx, uid, "w1", t0.Add(400*time.Hour))
		if err != nil || len(waveCases) != 2 ||
			waveCases[0] != (store.WaveCases{FollowUpUID: fuDetractors, FollowUp: "detractors", Matched: 1, Contacted: 1, Resolved: 1, Breaches: 1}) ||
			waveCases[1] != (store.WaveCases{FollowUpUID: fuSilent, FollowUp: "silent", Matched: 1, Overdue: 1, Breaches: 1}) {
			t.Errorf("WaveCases = %+v, %v", waveCases, err)
		}
		if other, err := s.WaveCases(ctx, uid, "w2", t0); err != nil || len(other) != 0 {
			t.Errorf("another wave's cases: %+v, %v", other, err)
		}

		// A deleted FollowUp (inactive) opens nothing more and keeps its cases.
		silent.Active = false
		if err := s.PutFollowUp(ctx, silent, t0.Add(100*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if rules, _ := s.FollowUpRules(ctx, uid); len(rules) != 1 {
			t.Errorf("rules after deactivation: %+v", rules)
		}
		if st, _ := s.CaseStats(ctx, fuSilent, t0.Add(100*time.Hour)); st.Matched != 1 {
			t.Errorf("history lost: %+v", st)
		}
	})
}

// Percentiles by nearest rank over many cases.
func TestCasePercentiles(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutWave(ctx, wave("w1")); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 10; i++ {
			key := store.CaseKey{FollowUpUID: fuDetractors}
			if _, err := s.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "w1", RecipientKey: string(rune('A' + i)),
				Namespace: "riverside-homes", Segment: "general-needs", Channel: "email", Complete: true,
				Answers: []store.Answer{{Question: "tp01", Value: ptr(1)}}, Cases: []store.Case{{CaseKey: key}}}, t0); err != nil {
				t.Fatal(err)
			}
			key.CampaignUID, key.WaveID, key.RecipientKey = uid, "w1", string(rune('A'+i))
			if err := s.MarkContacted(ctx, []store.CaseKey{key}, t0.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		st, err := s.CaseStats(ctx, fuDetractors, t0.Add(24*time.Hour))
		if err != nil || st.TimeToContact.N != 10 || st.TimeToContact.Median != 5*time.Hour || st.TimeToContact.P90 != 9*time.Hour {
			t.Errorf("percentiles %+v, %v", st.TimeToContact, err)
		}
		if st.Overdue != 0 || st.Breaches != 0 {
			t.Errorf("cases without a standard breached: %+v", st)
		}
	})
}
