package channel

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/i18n"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/testsmtp"
)

var msg = Message{To: "resident@example.org", Title: "Riverside Homes tenant survey", Link: "https://listen.example.org/s/TOKEN",
	OptOutLink: "https://listen.example.org/o/TOKEN", Campaign: "tenant-satisfaction", Segment: "general-needs"}

func TestEmailInEveryTLSMode(t *testing.T) {
	for _, mode := range []string{NoTLS, StartTLS, ImplicitTLS} {
		t.Run(mode, func(t *testing.T) {
			k := testsmtp.Start(t, testsmtp.Mode(mode), func(k *testsmtp.Sink) { k.User, k.Password = "survey", "s3cret" })
			e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: k.Port, TLS: mode, Username: "survey", Password: "s3cret",
				From: "Riverside Homes <listening@riverside.example>", TLSConfig: k.ClientTLS})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for i := range 3 {
				m := msg
				m.To = "resident" + strconv.Itoa(i) + "@example.org"
				if err := e.Send(context.Background(), m, "uid/w1/T-"+strconv.Itoa(i)+"/0"); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if k.Conns.Load() != 1 {
				t.Errorf("%d connections for 3 messages, want one reused", k.Conns.Load())
			}
			msgs := k.Messages()
			if len(msgs) != 3 {
				t.Fatalf("%d messages arrived", len(msgs))
			}
			got := msgs[1]
			if got.From != "listening@riverside.example" || got.To != "resident1@example.org" {
				t.Errorf("envelope %s -> %s", got.From, got.To)
			}
			parsed, err := mail.ReadMessage(bytes.NewReader(got.Data))
			if err != nil {
				t.Fatal(err)
			}
			h := parsed.Header
			subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			for k, want := range map[string]string{
				"From": `"Riverside Homes" <listening@riverside.example>`, "To": "<resident1@example.org>",
				"List-Unsubscribe": "<https://listen.example.org/o/TOKEN>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"Message-Id": e.MessageID("uid/w1/T-1/0"),
			} {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
			if subject != msg.Title {
				t.Errorf("subject %q", subject)
			}
			_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
			mr := multipart.NewReader(parsed.Body, params["boundary"])
			var kinds []string
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(p) // multipart decodes quoted-printable
				kinds = append(kinds, strings.Split(p.Header.Get("Content-Type"), ";")[0])
				if !strings.Contains(string(body), msg.Link) || !strings.Contains(string(body), msg.OptOutLink) {
					t.Errorf("%s part lacks the links:\n%s", p.Header.Get("Content-Type"), body)
				}
			}
			if strings.Join(kinds, ",") != "text/plain,text/html" {
				t.Errorf("parts = %v", kinds)
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	k := testsmtp.Start(t, NoTLS, func(k *testsmtp.Sink) { k.Refuse = map[string]int{"gone@example.org": 550, "full@example.org": 452} })
	e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: k.Port, TLS: NoTLS, From: "listening@riverside.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct {
		to        string
		permanent bool
		reason    string
	}{{"gone@example.org", true, "smtp-550"}, {"full@example.org", false, "smtp-452"}, {"not an address", true, "bad-address"}} {
		m := msg
		m.To = c.to
		err := e.Send(context.Background(), m, "id")
		if err == nil || IsPermanent(err) != c.permanent || ReasonOf(err) != c.reason || IsRetryable(err) == c.permanent {
			t.Errorf("%s: %v (permanent %v, retryable %v, reason %s)", c.to, err, IsPermanent(err), IsRetryable(err), ReasonOf(err))
		}
		if strings.Contains(err.Error(), c.to) && c.to != "not an address" {
			t.Errorf("the error names the address: %v", err)
		}
	}
	// The refusals did not spoil the connection.
	if err := e.Send(context.Background(), msg, "id-ok"); err != nil || len(k.Messages()) != 1 || k.Conns.Load() != 1 {
		t.Errorf("after refusals: %v, %d messages, %d connections", err, len(k.Messages()), k.Conns.Load())
	}
	// Nothing listening: a temporary network failure, after the dial retries.
	defer func(b time.Duration) { dialBackoff = b }(dialBackoff)
	dialBackoff = time.Millisecond
	dead, _ := NewEmail(EmailConfig{Host: "127.0.0.1", Port: 1, TLS: NoTLS, From: "a@b.example", Timeout: time.Second})
	if err := dead.Send(context.Background(), msg, "id"); IsPermanent(err) || !IsRetryable(err) || ReasonOf(err) != "network" {
		t.Errorf("no server: %v", err)
	}
}

// A relay whose connection breaks before the message is handed over has not taken it (it
// discards a message whose final dot never came): the send may be tried again. One whose
// connection breaks after the final dot, before its reply, may have taken it: not retryable.
func TestEmailLostConnectionBeforeAndAfterTheMessage(t *testing.T) {
	for _, c := range []struct {
		name      string
		afterDot  bool
		retryable bool
	}{{"before the message", false, true}, {"awaiting acceptance", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			relay, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer relay.Close()
			go func() {
				conn, err := relay.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				r := bufio.NewReader(conn)
				fmt.Fprint(conn, "220 relay.example ESMTP\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO", "MAIL", "RCPT":
						fmt.Fprint(conn, "250 ok\r\n")
					case "DATA":
						if !c.afterDot {
							return // gone before the message
						}
						fmt.Fprint(conn, "354 go on\r\n")
						for line != ".\r\n" {
							if line, err = r.ReadString('\n'); err != nil {
								return
							}
						}
						return // the whole message read, and no reply
					default:
						fmt.Fprint(conn, "250 ok\r\n")
					}
				}
			}()
			e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: relay.Addr().(*net.TCPAddr).Port, TLS: NoTLS,
				From: "listening@riverside.example", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			err = e.Send(context.Background(), msg, "id-lost")
			if err == nil || IsPermanent(err) || IsRetryable(err) != c.retryable || ReasonOf(err) != "network" {
				t.Errorf("%v: retryable %v, want %v", err, IsRetryable(err), c.retryable)
			}
		})
	}
}

func TestTemplatesFailBeforeTheFirstSend(t *testing.T) {
	if _, err := NewEmail(EmailConfig{Host: "h", From: "a@b.example", Subject: "{{.Titel}}"}); err == nil || !strings.Contains(err.Error(), "Titel") {
		t.Errorf("email subject with an unknown field: %v", err)
	}
	if _, err := NewEmail(EmailConfig{Host: "h", From: "a@b.example", HTML: "<p>{{.Link</p>"}); err == nil {
		t.Error("an HTML template that does not parse was accepted")
	}
	if _, err := NewWebhook(WebhookConfig{URL: "https://x.example", Body: `{"phone": {{json .Phone}}}`}); err == nil || !strings.Contains(err.Error(), "Phone") {
		t.Errorf("webhook body with an unknown field: %v", err)
	}
	if _, err := NewEmail(EmailConfig{Host: "h", From: "nobody"}); err == nil {
		t.Error("a from that is not an address was accepted")
	}
}

func TestWebhook(t *testing.T) {
	key := []byte("gateway-hmac-key")
	var calls atomic.Int64
	var gotBody []byte
	var gotHeaders http.Header
	statuses := []int{503, 429, 200}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		// The gateway checks the signature as the response service checks a gateway's.
		if _, _, err := responseapi.VerifySigned(r.Header, key, body, time.Now()); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		gotBody, gotHeaders = body, r.Header.Clone()
		status := statuses[min(int(n), len(statuses))-1]
		if status == 429 {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
	}))
	defer gw.Close()
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	w, err := NewWebhook(WebhookConfig{URL: gw.URL, HMACKey: key, BearerToken: "tok", Sleep: sleep})
	if err != nil {
		t.Fatal(err)
	}
	m := msg
	m.To = "+447700900123"
	if err := w.Send(context.Background(), m, "uid/w1/T-1/0"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(waits) != 2 || waits[1] != 7*time.Second || waits[0] <= 0 || waits[0] > 500*time.Millisecond {
		t.Errorf("calls %d, waits %v: want a jittered backoff, then Retry-After's 7 s", calls.Load(), waits)
	}
	var body map[string]string
	if err := json.Unmarshal(gotBody, &body); err != nil {
		t.Fatalf("body %s: %v", gotBody, err)
	}
	if body["to"] != "+447700900123" || body["link"] != msg.Link || !strings.Contains(body["text"], msg.Link) || body["optOut"] != msg.OptOutLink {
		t.Errorf("body = %v", body)
	}
	if gotHeaders.Get("Authorization") != "Bearer tok" || gotHeaders.Get("Idempotency-Key") != "uid/w1/T-1/0" {
		t.Errorf("headers = %v", gotHeaders)
	}

	// A 4xx is permanent: one call, no retry. Persistent 5xx gives up after MaxAttempts; 429
	// and 503 ("not now") are retryable later, another 5xx may have been acted on.
	for _, c := range []struct {
		status    int
		calls     int64
		perm      bool
		reason    string
		attempt   int
		retryable bool
	}{{400, 1, true, "http-400", 5, false}, {502, 3, false, "http-502", 3, false}, {503, 2, false, "http-503", 2, true}} {
		calls.Store(0)
		statuses = []int{c.status}
		w, _ := NewWebhook(WebhookConfig{URL: gw.URL, HMACKey: key, MaxAttempts: c.attempt, Sleep: sleep})
		err := w.Send(context.Background(), m, "id")
		if err == nil || IsPermanent(err) != c.perm || ReasonOf(err) != c.reason || calls.Load() != c.calls || IsRetryable(err) != c.retryable {
			t.Errorf("status %d: %v after %d calls (retryable %v)", c.status, err, calls.Load(), IsRetryable(err))
		}
	}
	// A custom body template with escaping.
	statuses = []int{200}
	cw, err := NewWebhook(WebhookConfig{URL: gw.URL, HMACKey: key, Sleep: sleep,
		Body: `{"callList": "tsm", "phone": {{json .To}}, "surveyLink": {{json .Link}}, "note": {{json .Title}}}`})
	if err != nil {
		t.Fatal(err)
	}
	m.Title = `Say "hello"`
	if err := cw.Send(context.Background(), m, "id"); err != nil {
		t.Fatal(err)
	}
	var custom map[string]string
	if err := json.Unmarshal(gotBody, &custom); err != nil || custom["note"] != `Say "hello"` || custom["phone"] != m.To {
		t.Errorf("custom body %s: %v", gotBody, err)
	}
}

// Parallel sends share a bounded pool of connections, each reused.
func TestEmailConnectionPool(t *testing.T) {
	k := testsmtp.Start(t, NoTLS, nil)
	e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: k.Port, TLS: NoTLS, From: "listening@riverside.example", Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			m := msg
			m.To = "r" + strconv.Itoa(i) + "@example.org"
			errs <- e.Send(context.Background(), m, strconv.Itoa(i))
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(k.Messages()) != 30 || k.Conns.Load() > 3 {
		t.Errorf("%d messages over %d connections, want 30 over at most 3", len(k.Messages()), k.Conns.Load())
	}
}

// A relay that drops the first connections (restarting, or a Service not yet routed) delays the
// message instead of failing it: the dial is retried, which is safe as nothing was handed over.
// Refused credentials (535) are not retried.
func TestEmailRetriesTheConnection(t *testing.T) {
	defer func(b time.Duration) { dialBackoff = b }(dialBackoff)
	dialBackoff = 5 * time.Millisecond
	k := testsmtp.Start(t, NoTLS, func(k *testsmtp.Sink) { k.User, k.Password = "survey", "secret" })
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := front.Accept()
			if err != nil {
				return
			}
			if accepted.Add(1) <= 2 {
				c.Close() // dropped before the greeting
				continue
			}
			go func() {
				back, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(k.Port)))
				if err != nil {
					c.Close()
					return
				}
				go func() { _, _ = io.Copy(back, c); back.Close() }()
				_, _ = io.Copy(c, back)
				c.Close()
			}()
		}
	}()
	port := front.Addr().(*net.TCPAddr).Port
	e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: port, TLS: NoTLS, From: "listening@riverside.example",
		Username: "survey", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Send(context.Background(), msg, "id-retry"); err != nil || len(k.Messages()) != 1 || accepted.Load() != 3 {
		t.Fatalf("%v: %d messages after %d connections", err, len(k.Messages()), accepted.Load())
	}

	wrong, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: port, TLS: NoTLS, From: "listening@riverside.example",
		Username: "survey", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	before := accepted.Load()
	if err := wrong.Send(context.Background(), msg, "id-auth"); !IsPermanent(err) {
		t.Errorf("refused credentials: %v", err)
	}
	if n := accepted.Load() - before; n != 1 {
		t.Errorf("refused credentials were tried %d times", n)
	}
}

// A message in another language: the subject of that language, and the operator's own words
// in it, the HTML part marked with the language and its direction.
func TestEmailInThePersonsLanguage(t *testing.T) {
	e, err := NewEmail(EmailConfig{Host: "smtp.invalid", From: "listening@riverside.example", Subject: "Your views: {{.Title}}",
		Subjects: map[string]string{"cy": "Eich barn: {{.Title}}"}})
	if err != nil {
		t.Fatal(err)
	}
	m := msg
	m.Title, m.Lang, m.Dir, m.Words, m.Reminder = "Arolwg tenantiaid", "cy", "ltr", i18n.Mail("cy"), true
	data, err := e.compose(m, "uid/w1/T-1/1")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	body, _ := io.ReadAll(parsed.Body)
	decoded := html.UnescapeString(strings.ReplaceAll(strings.ReplaceAll(string(body), "=\r\n", ""), "=3D", "="))
	if subject != "Eich barn: Arolwg tenantiaid" || !strings.Contains(decoded, "Dechrau'r arolwg") ||
		!strings.Contains(decoded, `lang="cy" dir="ltr"`) || !strings.Contains(decoded, "Nid ydym wedi clywed gennych eto") {
		t.Errorf("subject %q, body:\n%s", subject, decoded)
	}
	// A message with no words (a caller that gave none) gets English ones.
	m = msg
	m.Words = nil
	data, err = e.compose(m, "uid/w1/T-2/0")
	if err != nil || !strings.Contains(string(data), "Start the survey") {
		t.Errorf("no words given: %v\n%s", err, data)
	}
}

// The operator's own SMS wording is in the person's language.
func TestSMSInThePersonsLanguage(t *testing.T) {
	var got map[string]string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer gw.Close()
	hook, err := NewWebhook(WebhookConfig{URL: gw.URL, Client: gw.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m := msg
	m.Title, m.Lang, m.Dir, m.Words, m.Reminder = "Arolwg tenantiaid", "cy", "ltr", i18n.Mail("cy"), true
	if err := hook.Send(context.Background(), m, "uid/w1/T-1/1"); err != nil {
		t.Fatal(err)
	}
	if want := "Nodyn atgoffa: Arolwg tenantiaid: dywedwch wrthym beth yw eich barn, mae'n cymryd ychydig funudau: "; !strings.HasPrefix(got["text"], want) ||
		!strings.Contains(got["text"], "I beidio â chael arolygon: ") {
		t.Errorf("text %q", got["text"])
	}
}

// A message with a subject of its own (a FollowUp's) goes out under it, in place of the
// channel's subject in any language; a follow-up is its own text with its link once (added
// after the text only when the text lacks it), without the survey's button and footer.
func TestEmailSubjectAndFollowUpWording(t *testing.T) {
	k := testsmtp.Start(t, NoTLS, nil)
	e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: k.Port, TLS: NoTLS, From: "listening@riverside.example",
		Subject: "Your views on Riverside Homes", Subjects: map[string]string{"cy": "Eich barn am Riverside Homes"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	caseLink := "https://listen.example.org/f/CASE"
	for name, c := range map[string]struct {
		m            func(Message) Message
		subject      string
		text         string // the text part, up to the opt-out line
		linkInText   int
		linkInHTML   int // hrefs to the message's link
		confidential bool
	}{
		"an invitation": {m: func(m Message) Message { return m }, subject: "Your views on Riverside Homes",
			text:       "We would like to hear what you think. It takes a few minutes.\r\n\r\n" + msg.Link + "\r\n\r\n" + i18n.Mail("en")["confidential"] + "\r\n\r\n",
			linkInText: 1, linkInHTML: 1, confidential: true},
		"an invitation in Welsh": {m: func(m Message) Message { m.Lang = "cy"; return m }, subject: "Eich barn am Riverside Homes",
			linkInText: 1, linkInHTML: 1, confidential: true},
		"a follow-up whose text carries its link": {m: func(m Message) Message {
			m.Link, m.FollowUp, m.Subject, m.Text = caseLink, true, "Thank you for telling us - we will call you", "Sorry. Tell us when it is sorted: "+caseLink
			return m
		}, subject: "Thank you for telling us - we will call you", text: "Sorry. Tell us when it is sorted: " + caseLink + "\r\n\r\n",
			linkInText: 1, linkInHTML: 1},
		"a follow-up whose text lacks its link": {m: func(m Message) Message {
			m.Link, m.FollowUp, m.Subject, m.Text = caseLink, true, "Thank you for telling us", "Sorry.\nWe will call you."
			return m
		}, subject: "Thank you for telling us", text: "Sorry.\r\nWe will call you.\r\n\r\n" + caseLink + "\r\n\r\n",
			linkInText: 1, linkInHTML: 1},
		"a follow-up in Welsh keeps its own subject": {m: func(m Message) Message {
			m.Link, m.FollowUp, m.Subject, m.Text, m.Lang = caseLink, true, "Diolch am ddweud wrthym", "Mae'n ddrwg gennym: "+caseLink, "cy"
			return m
		}, subject: "Diolch am ddweud wrthym", linkInText: 1, linkInHTML: 1},
	} {
		t.Run(name, func(t *testing.T) {
			m := c.m(msg)
			before := len(k.Messages())
			if err := e.Send(context.Background(), m, "id/"+name); err != nil {
				t.Fatal(err)
			}
			got := k.Messages()
			if len(got) != before+1 {
				t.Fatalf("%d messages arrived", len(got)-before)
			}
			parsed, err := mail.ReadMessage(bytes.NewReader(got[before].Data))
			if err != nil {
				t.Fatal(err)
			}
			if subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject")); subject != c.subject {
				t.Errorf("subject %q, want %q", subject, c.subject)
			}
			words := i18n.Mail(cmp.Or(m.Lang, "en"))
			_, params, _ := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
			mr := multipart.NewReader(parsed.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(p)
				body := string(raw)
				var links int
				if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
					links = strings.Count(body, m.Link)
					if c.text != "" && !strings.HasPrefix(body, c.text+words["optout"]+" "+m.OptOutLink) {
						t.Errorf("text part:\n%q\nwant it to start\n%q", body, c.text+words["optout"]+" "+m.OptOutLink)
					}
					if links != c.linkInText {
						t.Errorf("the text part has the link %d times", links)
					}
				} else {
					if links = strings.Count(body, `href="`+m.Link+`"`); links != c.linkInHTML {
						t.Errorf("the HTML part links to it %d times:\n%s", links, body)
					}
					if !strings.Contains(body, `href="`+m.OptOutLink+`"`) || strings.Contains(html.UnescapeString(body), words["start"]) == m.FollowUp {
						t.Errorf("HTML part:\n%s", body)
					}
				}
				if strings.Contains(html.UnescapeString(body), words["confidential"]) != c.confidential {
					t.Errorf("%s: the footer present %v, want %v:\n%s", p.Header.Get("Content-Type"), !c.confidential, c.confidential, body)
				}
			}
		})
	}
}
