package channel

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sink is an in-process SMTP server that keeps what it receives.
type sink struct {
	mu       sync.Mutex
	messages []received
	sessions atomic.Int64 // SMTP sessions (STARTTLS starts a second one on the same connection)
	conns    atomic.Int64 // TCP connections accepted
	user     string
	refuse   map[string]int // recipient -> SMTP code to refuse it with
}

type received struct {
	from, to string
	data     []byte
}

type session struct {
	s        *sink
	authed   bool
	from, to string
}

func (k *sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	k.sessions.Add(1)
	return &session{s: k}, nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "survey" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.s.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.s.refuse[to]; code != 0 {
		return &smtp.SMTPError{Code: code, Message: "refused"}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.messages = append(s.s.messages, received{s.from, s.to, b})
	s.s.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// startSink runs the sink with the TLS mode the client will use, and returns its port and the
// client's TLS settings.
func startSink(t *testing.T, k *sink, mode string) (int, *tls.Config) {
	srvTLS, pool := selfSigned(t)
	srv := smtp.NewServer(k)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = mode == NoTLS
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = countingListener{raw, &k.conns}
	switch mode {
	case ImplicitTLS:
		l = tls.NewListener(l, srvTLS)
	case StartTLS:
		srv.TLSConfig = srvTLS
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

var msg = Message{To: "resident@example.org", Title: "Riverside Homes tenant survey", Link: "https://listen.example.org/s/TOKEN",
	OptOutLink: "https://listen.example.org/o/TOKEN", Campaign: "tenant-satisfaction", Segment: "general-needs"}

func TestEmailInEveryTLSMode(t *testing.T) {
	for _, mode := range []string{NoTLS, StartTLS, ImplicitTLS} {
		t.Run(mode, func(t *testing.T) {
			k := &sink{user: "survey"}
			port, clientTLS := startSink(t, k, mode)
			e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: port, TLS: mode, Username: "survey", Password: "s3cret",
				From: "Riverside Homes <listening@riverside.example>", TLSConfig: clientTLS})
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
			if k.conns.Load() != 1 {
				t.Errorf("%d connections for 3 messages, want one reused", k.conns.Load())
			}
			if len(k.messages) != 3 {
				t.Fatalf("%d messages arrived", len(k.messages))
			}
			got := k.messages[1]
			if got.from != "listening@riverside.example" || got.to != "resident1@example.org" {
				t.Errorf("envelope %s -> %s", got.from, got.to)
			}
			parsed, err := mail.ReadMessage(bytes.NewReader(got.data))
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
	k := &sink{refuse: map[string]int{"gone@example.org": 550, "full@example.org": 452}}
	port, _ := startSink(t, k, NoTLS)
	e, err := NewEmail(EmailConfig{Host: "127.0.0.1", Port: port, TLS: NoTLS, From: "listening@riverside.example"})
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
		if err == nil || IsPermanent(err) != c.permanent || ReasonOf(err) != c.reason {
			t.Errorf("%s: %v (permanent %v, reason %s)", c.to, err, IsPermanent(err), ReasonOf(err))
		}
		if strings.Contains(err.Error(), c.to) && c.to != "not an address" {
			t.Errorf("the error names the address: %v", err)
		}
	}
	// The refusals did not spoil the connection.
	if err := e.Send(context.Background(), msg, "id-ok"); err != nil || len(k.messages) != 1 || k.conns.Load() != 1 {
		t.Errorf("after refusals: %v, %d messages, %d connections", err, len(k.messages), k.conns.Load())
	}
	// Nothing listening: a temporary network failure.
	dead, _ := NewEmail(EmailConfig{Host: "127.0.0.1", Port: 1, TLS: NoTLS, From: "a@b.example", Timeout: time.Second})
	if err := dead.Send(context.Background(), msg, "id"); IsPermanent(err) || ReasonOf(err) != "network" {
		t.Errorf("no server: %v", err)
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
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		if r.Header.Get("X-Survey-Signature") != hex.EncodeToString(mac.Sum(nil)) {
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

	// A 4xx is permanent: one call, no retry. Persistent 5xx gives up after MaxAttempts.
	for _, c := range []struct {
		status  int
		calls   int64
		perm    bool
		reason  string
		attempt int
	}{{400, 1, true, "http-400", 5}, {502, 3, false, "http-502", 3}} {
		calls.Store(0)
		statuses = []int{c.status}
		w, _ := NewWebhook(WebhookConfig{URL: gw.URL, HMACKey: key, MaxAttempts: c.attempt, Sleep: sleep})
		err := w.Send(context.Background(), m, "id")
		if err == nil || IsPermanent(err) != c.perm || ReasonOf(err) != c.reason || calls.Load() != c.calls {
			t.Errorf("status %d: %v after %d calls", c.status, err, calls.Load())
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
