package sender

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/i18n"
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
	job.FollowUp = &FollowUp{UID: "fu-1", Channels: []string{"email", "sms"}, Subject: tmpl(t, "We are sorry about your repair"),
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

func tmpl(t testing.TB, text string) *channel.Template {
	t.Helper()
	tm, err := channel.NewTemplate("test", text)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// A follow-up email, as the relay receives it: the FollowUp's subject (its translation for a
// person in another of the campaign's languages), never the campaign's invitation subject; the
// FollowUp's message with its "is it sorted?" link once, in each part; the opt-out line; and no
// survey button, survey link or survey footer.
func TestFollowUpEmail(t *testing.T) {
	const (
		campaignSubject = "How are we doing? Your views on Riverside Homes"
		sorry           = "Thank you for telling us - we will call you"
		sorryCy         = "Diolch am ddweud wrthym - byddwn yn eich ffonio"
		withLink        = "We are sorry the repair went badly. Tell us when it is sorted: {{ .Link }}\n\nRiverside Homes"
		withLinkCy      = "Mae'n ddrwg gennym. Dywedwch wrthym pan fydd wedi'i ddatrys: {{ .Link }}"
		withoutLink     = "We are sorry the repair went badly. Someone will call you within two days."
	)
	for name, c := range map[string]struct {
		lang, body, subject string
		wantSubject         string
		wantText            string // the text part starts with it
	}{
		"the message carries the link": {body: withLink, subject: sorry, wantSubject: sorry,
			wantText: "We are sorry the repair went badly. Tell us when it is sorted: https://listen.example.org/f/"},
		"the message does not carry the link": {body: withoutLink, subject: sorry, wantSubject: sorry,
			wantText: withoutLink + "\r\n\r\nhttps://listen.example.org/f/"},
		"a person in the campaign's other language": {lang: "cy", body: withLink, subject: sorry, wantSubject: sorryCy,
			wantText: "Mae'n ddrwg gennym. Dywedwch wrthym pan fydd wedi'i ddatrys: https://listen.example.org/f/"},
		"a message with no subject has the survey's title": {body: withLink, wantSubject: "Riverside Homes tenant survey",
			wantText: "We are sorry the repair went badly."},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			const wave = "20260401-0900"
			one := 1
			if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: wave, RecipientKey: "T-1", Namespace: "riverside-homes",
				Segment: "general-needs", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp01", Value: &one}},
				Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: "fu-1"}, ContactDue: r.now}}}, r.now); err != nil {
				t.Fatal(err)
			}
			job := r.job(t, "")
			plan, err := audience.Compile(audience.Spec{Format: audience.CSV, IDField: "tenancy_ref", LanguageColumn: "lang",
				Segments: []audience.Segment{{Name: "general-needs", Channels: []string{"email"}}}, ContactColumns: map[string]string{"email": "email"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			data := "tenancy_ref,email,lang\nT-1,one@example.org," + c.lang + "\n"
			job.Plan, job.Open = plan, func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
			job.Languages, job.Titles = []string{"en", "cy"}, map[string]string{"cy": "Arolwg tenantiaid"}
			// The campaign's email channel has a subject of its own, in both languages.
			email, err := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", Port: r.sink.Port, TLS: channel.NoTLS,
				From: "listening@riverside.example", Subject: campaignSubject, Subjects: map[string]string{"cy": "Sut ydym ni'n gwneud?"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { email.Close() })
			job.Channels["email"] = email
			fu := &FollowUp{UID: "fu-1", Channels: []string{"email"}, Body: tmpl(t, c.body), Cases: r.ledger,
				Translations: map[string]FollowUpText{"cy": {Body: tmpl(t, withLinkCy)}}}
			if c.subject != "" {
				fu.Subject, fu.Translations["cy"] = tmpl(t, c.subject), FollowUpText{Subject: tmpl(t, sorryCy), Body: tmpl(t, withLinkCy)}
			}
			job.FollowUp = fu
			if sum, err := Run(ctx, job); err != nil || sum.Sent != 1 {
				t.Fatalf("%v %s", err, sum.JSON())
			}
			mails := r.sink.Messages()
			if len(mails) != 1 {
				t.Fatalf("%d emails", len(mails))
			}
			parsed, err := mail.ReadMessage(bytes.NewReader(mails[0].Data))
			if err != nil {
				t.Fatal(err)
			}
			if subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject")); err != nil || subject != c.wantSubject {
				t.Errorf("subject %q (%v), want %q", subject, err, c.wantSubject)
			}
			lang := cmp.Or(c.lang, "en")
			words := i18n.Mail(lang)
			_, params, _ := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
			mr := multipart.NewReader(parsed.Body, params["boundary"])
			var links []string
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(p) // multipart decodes quoted-printable
				body := string(raw)
				kind := strings.Split(p.Header.Get("Content-Type"), ";")[0]
				caseLinks := caseLinkRe.FindAllString(body, -1)
				links = append(links, caseLinks...)
				switch kind {
				case "text/plain":
					if len(caseLinks) != 1 {
						t.Errorf("the text part has the case link %d times", len(caseLinks))
					}
					if !strings.HasPrefix(body, c.wantText) || !strings.Contains(body, words["optout"]) {
						t.Errorf("text part:\n%s", body)
					}
				case "text/html":
					if n := strings.Count(body, `href="https://listen.example.org/f/`); n != 1 {
						t.Errorf("the HTML part links to the case %d times:\n%s", n, body)
					}
					if !strings.Contains(body, "<h1 style=\"font-size: 22px;\">"+html.EscapeString(c.wantSubject)+"</h1>") ||
						!strings.Contains(body, html.EscapeString(words["stop"])) {
						t.Errorf("HTML part:\n%s", body)
					}
				default:
					t.Errorf("a %s part", kind)
				}
				for _, unwanted := range []string{words["confidential"], words["start"], words["invite"], "/s/", campaignSubject} {
					if strings.Contains(html.UnescapeString(body), unwanted) {
						t.Errorf("the %s part has %q:\n%s", kind, unwanted, body)
					}
				}
			}
			if len(links) == 0 || strings.Count(strings.Join(links, " "), links[0]) != len(links) {
				t.Errorf("case links %v: want the same one in each part", links)
			}
		})
	}
}
