package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// Follow-up rules registered by the manager open cases as responses are committed, through the
// survey page and through a gateway alike; non-responders are swept after the delay.
func TestFollowUpCases(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	client := responseapi.NewClient(e.srv.URL, apiToken, nil)

	// A rule that does not compile is refused, naming it.
	err := client.PutFollowUp(ctx, "fu-bad", responseapi.FollowUpRegistration{Namespace: "riverside-homes", Name: "bad", CampaignUID: uid,
		Trigger: "Response", When: "response.answers.tp01 <= ", Active: true})
	var se *responseapi.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !bytes.Contains([]byte(se.Message), []byte("when:")) {
		t.Fatalf("a broken rule: %v", err)
	}
	for uidFU, reg := range map[string]responseapi.FollowUpRegistration{
		"fu-dissatisfied": {Namespace: "riverside-homes", Name: "dissatisfied", CampaignUID: uid, Trigger: "Response",
			When: `response.answers.tp01 <= 2 || ("visit" in response.answers && response.answers.visit == "No")`, ContactWithin: "48h", ResolveWithin: "240h", Active: true},
		"fu-other-segment": {Namespace: "riverside-homes", Name: "other", CampaignUID: uid, Trigger: "Response", Segments: []string{"shared-ownership"}, Active: true},
		"fu-silent":        {Namespace: "riverside-homes", Name: "silent", CampaignUID: uid, Trigger: "NonResponse", After: "72h", ContactWithin: "24h", Active: true},
	} {
		if err := client.PutFollowUp(ctx, uidFU, reg); err != nil {
			t.Fatal(err)
		}
	}

	// Invitations for four people, sent after the rules were registered (a NonResponse rule
	// follows up invitations sent since it exists, not a campaign's whole history).
	var invs []store.Invitation
	for _, k := range []string{"T-happy", "T-unhappy", "T-visit", "T-silent"} {
		invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: k},
			Namespace: "riverside-homes", Segment: "general-needs", Channel: "sms"})
	}
	sent := e.clock()
	if _, err := e.store.Reserve(ctx, invs, sent); err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs {
		if err := e.store.Mark(ctx, inv.InvitationKey, store.StateSent, "", sent); err != nil {
			t.Fatal(err)
		}
	}

	// Through the survey page: a satisfied tenant, a dissatisfied one (twice: one case).
	for _, sub := range []struct {
		who  string
		form url.Values
	}{
		{"T-happy", url.Values{"q.tp01": {"5"}, "q.visit": {"0"}}},
		{"T-unhappy", url.Values{"q.tp01": {"1"}}},
		{"T-unhappy", url.Values{"q.tp01": {"2"}, "q.comments": {"Still waiting."}}},
	} {
		if resp, body := e.post("/s/"+e.link(sub.who, closes), sub.form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %s %s", sub.who, resp.Status, body)
		}
	}
	// Through the SMS gateway: the choice's text is what the rule sees.
	smsKey := e.smsWave()
	e.inbound(responseapi.InboundResponse{Token: e.link("T-visit", closes), Channel: "sms", Answers: map[string]string{"tp01": "4", "visit": "1"}}, smsKey, http.StatusOK)

	caseOf := func(fu, who string) (store.Case, error) {
		return e.store.GetCase(ctx, store.CaseKey{FollowUpUID: fu, CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: who})
	}
	for who, want := range map[string]bool{"T-happy": false, "T-unhappy": true, "T-visit": true} {
		c, err := caseOf("fu-dissatisfied", who)
		if (err == nil) != want {
			t.Errorf("%s: a case %v, want %v", who, err == nil, want)
		}
		if want && (!c.ContactDue.Equal(e.clock().Add(48*time.Hour)) || !c.ResolveDue.Equal(e.clock().Add(240*time.Hour)) || c.Segment != "general-needs") {
			t.Errorf("%s: case %+v", who, c)
		}
		if _, err := caseOf("fu-other-segment", who); err == nil {
			t.Errorf("%s: a case of another segment's rule", who)
		}
	}
	stats, err := client.FollowUpStats(ctx, "fu-dissatisfied")
	if err != nil || stats.Matched != 2 || stats.Contacted != 0 || stats.Overdue != 0 {
		t.Fatalf("stats %+v, %v", stats, err)
	}
	// The wave's summary carries its cases by FollowUp, for the wave's report.
	sum, err := client.Summary(ctx, uid, "20260401-0900", "tp01")
	if err != nil || len(sum.Cases) != 1 || sum.Cases[0] != (responseapi.WaveCases{FollowUpUID: "fu-dissatisfied", FollowUp: "dissatisfied", Matched: 2}) {
		t.Errorf("the summary's cases: %+v, %v", sum.Cases, err)
	}

	// Non-responders: none before 72h, T-silent after.
	if st, err := client.SweepFollowUp(ctx, "fu-silent"); err != nil || st.Opened != 0 {
		t.Fatalf("early sweep %+v, %v", st, err)
	}
	e.setNow(sent.Add(73 * time.Hour))
	st, err := client.SweepFollowUp(ctx, "fu-silent")
	if err != nil || st.Opened != 1 || st.Matched != 1 {
		t.Fatalf("sweep %+v, %v", st, err)
	}
	if _, err := caseOf("fu-silent", "T-silent"); err != nil {
		t.Errorf("the non-responder's case: %v", err)
	}
	// Past the contact standard, not contacted: overdue, a breach.
	e.setNow(sent.Add(98 * time.Hour))
	if st, _ := client.FollowUpStats(ctx, "fu-silent"); st.Overdue != 1 || st.Breaches != 1 {
		t.Errorf("overdue %+v", st)
	}
	if _, err := client.SweepFollowUp(ctx, "fu-unknown"); !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Errorf("an unknown rule: %v", err)
	}

	// A deleted FollowUp: its rule opens nothing more, its cases stay.
	if err := client.DeleteFollowUp(ctx, "fu-dissatisfied"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.post("/s/"+e.link("T-late", closes), url.Values{"q.tp01": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("late submission: %s", resp.Status)
	}
	if _, err := caseOf("fu-dissatisfied", "T-late"); err == nil {
		t.Error("a deleted FollowUp opened a case")
	}
	if st, _ := client.FollowUpStats(ctx, "fu-dissatisfied"); st.Matched != 2 {
		t.Errorf("history lost: %+v", st)
	}
	if err := client.DeleteFollowUp(ctx, "fu-never-registered"); err != nil {
		t.Errorf("deleting an unknown rule: %v", err)
	}
}

// A case is resolved by the person's own link, or by the helpdesk's signed callback.
func TestCaseResolution(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		client := responseapi.NewClient(e.srv.URL, apiToken, nil)
		ticketKey := bytes.Repeat([]byte{5}, 32)
		if err := client.PutFollowUp(ctx, "fu-1", responseapi.FollowUpRegistration{Namespace: "riverside-homes", Name: "detractors", CampaignUID: uid,
			Trigger: "Response", When: "response.answers.tp01 <= 2", TicketKey: ticketKey, Active: true}); err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"T-1", "T-2"} {
			if resp, _ := e.post("/s/"+e.link(who, closes), url.Values{"q.tp01": {"1"}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s", who, resp.Status)
			}
		}
		key := func(who string) store.CaseKey {
			return store.CaseKey{FollowUpUID: "fu-1", CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: who}
		}
		link := func(k store.CaseKey) string {
			tok, err := e.keys.SignCase(token.Case(k), closes)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}

		// The person's link: a page that asks, a button that records it.
		tok := link(key("T-1"))
		resp, body := e.get("/f/" + tok)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("resolve page: %s", resp.Status)
		}
		mustContain(t, body, "<h1>Is it sorted?</h1>", `<button type="submit">Yes, it is sorted</button>`)
		if resp, body = e.post("/f/"+tok, url.Values{}); resp.StatusCode != http.StatusOK {
			t.Fatalf("resolve: %s %s", resp.Status, body)
		}
		mustContain(t, body, "We have recorded that the matter is sorted.")
		if c, _ := e.store.GetCase(ctx, key("T-1")); !c.ResolvedAt.Equal(e.clock()) {
			t.Errorf("resolved at %v", c.ResolvedAt)
		}
		_, body = e.get("/f/" + tok)
		mustContain(t, body, "This matter is resolved")

		// Refused: a survey link used as a case link, a case that does not exist, an expired link.
		for name, path := range map[string]string{
			"survey link":  "/f/" + e.link("T-1", closes),
			"no such case": "/f/" + link(key("T-9")),
		} {
			if resp, _ := e.get(path); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s", name, resp.Status)
			}
		}
		old, _ := e.keys.SignCase(token.Case(key("T-2")), opens)
		if resp, _ := e.get("/f/" + old); resp.StatusCode != http.StatusGone {
			t.Errorf("expired link: %s", resp.Status)
		}

		// The helpdesk's callback, signed with the ticket key, even after the link expired.
		callback := func(body responseapi.CaseCallback, key []byte) int {
			resp := e.signedPost("/api/v1/cases/resolve", body, key)
			resp.Body.Close()
			return resp.StatusCode
		}
		for name, c := range map[string]struct {
			body responseapi.CaseCallback
			key  []byte
		}{
			"unsigned":       {responseapi.CaseCallback{CaseID: old, TicketRef: "CRM-77"}, nil},
			"wrong key":      {responseapi.CaseCallback{CaseID: old, TicketRef: "CRM-77"}, bytes.Repeat([]byte{6}, 32)},
			"forged case id": {responseapi.CaseCallback{CaseID: old[:len(old)-2] + "AA", TicketRef: "CRM-77"}, ticketKey},
		} {
			if got := callback(c.body, c.key); got != http.StatusUnauthorized {
				t.Errorf("%s: %d", name, got)
			}
		}
		// A reference no store can keep (PostgreSQL refuses a NUL: the helpdesk would retry for ever).
		if got := callback(responseapi.CaseCallback{CaseID: old, TicketRef: "CRM-\x0077"}, ticketKey); got != http.StatusBadRequest {
			t.Errorf("a ticket reference with a NUL: %d, want 400", got)
		}
		if c, _ := e.store.GetCase(ctx, key("T-2")); !c.ResolvedAt.IsZero() {
			t.Fatal("a refused callback resolved the case")
		}
		raw, _ := json.Marshal(responseapi.CaseCallback{CaseID: old, TicketRef: "CRM-77"})
		signed := http.Header{}
		responseapi.SignRequest(signed, ticketKey, e.clock(), raw)
		send := func() int {
			code, _ := e.send(http.MethodPost, "/api/v1/cases/resolve", raw, signed)
			return code
		}
		if got := send(); got != http.StatusOK {
			t.Fatalf("callback: %d", got)
		}
		if got := send(); got != http.StatusConflict {
			t.Errorf("the same signed callback again: %d, want 409", got)
		}
		if c, _ := e.store.GetCase(ctx, key("T-2")); c.ResolvedAt.IsZero() || c.TicketRef != "CRM-77" {
			t.Errorf("after the callback: %+v", c)
		}
	})
}
