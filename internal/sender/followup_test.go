package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

var caseLinkRe = regexp.MustCompile(`https://listen\.example\.org/f/([A-Za-z0-9_-]+)`)

// A follow-up batch contacts each open case once, with the FollowUp's words and a link to say
// the matter is sorted, opens a ticket per case, and records the contact.
func TestFollowUpBatch(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const wave = "20260401-0900"
	r.registerWave(t)
	one := 1
	for _, who := range []string{"T-1", "T-3", "T-9"} { // T-9 has left the audience since
		if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: wave, RecipientKey: who, Namespace: "riverside-homes",
			Segment: "general-needs", Channel: "sms", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: &one}},
			Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: "fu-1"}, ContactDue: r.now.Add(48 * time.Hour)}}}, r.now); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var tickets []map[string]string
	var keys []string
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]string
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		tickets = append(tickets, body)
		keys = append(keys, req.Header.Get("Idempotency-Key"))
		mu.Unlock()
	}))
	t.Cleanup(crm.Close)
	ticket, err := channel.NewWebhook(channel.WebhookConfig{URL: crm.URL, HMACKey: []byte("crm-key"),
		Body: `{"caseId": {{json .CaseID}}, "link": {{json .Link}}}`})
	if err != nil {
		t.Fatal(err)
	}
	body, err := channel.NewTemplate("message", "We are sorry the repair went badly. Someone will call you within two days. Tell us when it is sorted: {{ .Link }}")
	if err != nil {
		t.Fatal(err)
	}
	job := r.job(t, people)
	job.FollowUp = &FollowUp{UID: "fu-1", Channels: []string{"email", "sms"}, Subject: "We are sorry about your repair",
		Body: body, Ticket: ticket, Cases: r.ledger}
	sum, err := Run(ctx, job)
	if err != nil {
		t.Fatalf("%v %s", err, sum.JSON())
	}
	if sum.Audience != 3 || sum.Sent != 2 || sum.Skipped["not-in-audience"] != 1 {
		t.Errorf("summary %s", sum.JSON())
	}
	mails := r.sink.Messages()
	if len(mails) != 2 {
		t.Fatalf("%d emails", len(mails))
	}
	for _, m := range mails {
		data := bytes.ReplaceAll(m.Data, []byte("=\r\n"), nil)
		if !bytes.Contains(data, []byte("Subject: We are sorry about your repair")) || !bytes.Contains(data, []byte("Someone will call you within two days")) {
			t.Errorf("email to %s:\n%s", m.To, data[:min(len(data), 400)])
		}
		match := caseLinkRe.FindSubmatch(data)
		if match == nil {
			t.Fatalf("no case link in the email to %s", m.To)
		}
		claims, err := r.keys.Verify(string(match[1]), r.now)
		if err != nil || claims.Purpose != token.PurposeResolve || claims.Wave != wave || (claims.Recipient != "fu-1/T-1" && claims.Recipient != "fu-1/T-3") {
			t.Errorf("case link %+v, %v", claims, err)
		}
	}
	if len(tickets) != 2 || tickets[0]["caseId"] == "" || keys[0] != "ticket/"+tickets[0]["caseId"] {
		t.Errorf("tickets %v, keys %v", tickets, keys)
	}
	for _, who := range []string{"T-1", "T-3"} {
		c, err := r.store.GetCase(ctx, store.CaseKey{FollowUpUID: "fu-1", CampaignUID: uid, WaveID: wave, RecipientKey: who})
		if err != nil || !c.ContactedAt.Equal(r.now) {
			t.Errorf("%s: %+v, %v", who, c, err)
		}
	}

	// Run again, as the next batch would: only T-9 is still to contact, and cannot be reached.
	again, err := Run(ctx, job)
	if err != nil || again.Sent != 0 || again.Audience != 1 || len(r.sink.Messages()) != 2 || len(tickets) != 2 {
		t.Errorf("second batch %s, %v; %d emails, %d tickets", again.JSON(), err, len(r.sink.Messages()), len(tickets))
	}
}

// A sender killed after a contact went out but before it was recorded: the next batch records
// it without sending again.
func TestFollowUpAfterAKill(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const wave = "20260401-0900"
	r.registerWave(t)
	one := 1
	if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: wave, RecipientKey: "T-3", Namespace: "riverside-homes",
		Segment: "shared-ownership", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: &one}},
		Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: "fu-1"}}}}, r.now); err != nil {
		t.Fatal(err)
	}
	inv := store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: followUpWave("fu-1", wave), RecipientKey: "T-3"},
		Namespace: "riverside-homes", Segment: "shared-ownership", Channel: "email"}
	if _, err := r.store.Reserve(ctx, []store.Invitation{inv}, r.now); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Mark(ctx, inv.InvitationKey, store.StateSent, "", r.now); err != nil {
		t.Fatal(err)
	}
	body, _ := channel.NewTemplate("message", "Sorry: {{ .Link }}")
	job := r.job(t, people)
	job.FollowUp = &FollowUp{UID: "fu-1", Channels: []string{"email"}, Body: body, Cases: r.ledger}
	sum, err := Run(ctx, job)
	if err != nil || sum.Sent != 0 || sum.Skipped["already-sent"] != 1 || len(r.sink.Messages()) != 0 {
		t.Fatalf("%s, %v, %d emails", sum.JSON(), err, len(r.sink.Messages()))
	}
	if c, _ := r.store.GetCase(ctx, store.CaseKey{FollowUpUID: "fu-1", CampaignUID: uid, WaveID: wave, RecipientKey: "T-3"}); c.ContactedAt.IsZero() {
		t.Error("the contact was not recorded")
	}
}
