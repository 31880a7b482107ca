package channel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of an SMTP connection, as in the API.
const (
	StartTLS    = "StartTLS"
	ImplicitTLS = "TLS"
	NoTLS       = "None"
)

// EmailConfig says how to reach the SMTP server and what to write.
type EmailConfig struct {
	Host     string
	Port     int
	TLS      string // StartTLS (default), TLS or None
	Username string // AUTH PLAIN when set
	Password string
	From     string // an address or `Name <address>`
	// Subject, Text and HTML are templates; empty means the defaults below.
	Subject, Text, HTML string
	// Subjects are Subject in other languages, by language: a message in one of them
	// (Message.Lang) takes its subject from it.
	Subjects map[string]string
	// TLSConfig overrides the TLS settings (tests trust their own CA with it).
	TLSConfig *tls.Config
	// Timeout bounds one connection attempt and one message; 30 s when zero.
	Timeout time.Duration
	// Connections is how many SMTP connections may be open at once (1 when zero): messages
	// sent in parallel use them in turn, each reused across messages.
	Connections int
}

// Default email wording. A follow-up (Message.FollowUp) is its own text, with its link added
// after it only when the text does not carry it, and the opt-out line: no survey button and no
// survey footer.
const (
	DefaultSubject = "{{if .Reminder}}{{index .Words \"reminder\"}} {{end}}{{.Title}}"
	DefaultText    = `{{if .FollowUp}}{{.Text}}{{if not (contains .Text .Link)}}

{{.Link}}{{end}}
{{else}}{{if .Text}}{{.Text}}{{else}}{{if .Reminder}}{{index .Words "remind"}} {{end}}{{index .Words "invite"}}{{end}}

{{.Link}}

{{index .Words "confidential"}}
{{end}}
{{index .Words "optout"}} {{.OptOutLink}}
`
	DefaultHTML = `<!doctype html>
<html lang="{{or .Lang "en"}}" dir="{{or .Dir "ltr"}}"><head><meta charset="utf-8"><title>{{or .Subject .Title}}</title></head>
<body style="font-family: Arial, sans-serif; font-size: 16px; line-height: 1.5; color: #0b0c0c;">
<h1 style="font-size: 22px;">{{or .Subject .Title}}</h1>
{{if .FollowUp}}{{paragraphs .Text .Link}}{{if not (contains .Text .Link)}}<p><a href="{{.Link}}" style="color: #1d4f91;">{{.Link}}</a></p>
{{end}}{{else}}<p>{{if .Text}}{{.Text}}{{else}}{{if .Reminder}}{{index .Words "remind"}} {{end}}{{index .Words "invite"}}{{end}}</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 10px 18px; background: #1d4f91; color: #ffffff; text-decoration: none; font-weight: bold;">{{index .Words "start"}}</a></p>
<p>{{index .Words "confidential"}}</p>
{{end}}<p style="font-size: 14px;"><a href="{{.OptOutLink}}" style="color: #1d4f91;">{{index .Words "stop"}}</a></p>
</body></html>
`
)

// Email sends through one SMTP server, reusing its connection across messages.
type Email struct {
	cfg                 EmailConfig
	from                *mail.Address
	domain              string
	subject, text, html executor
	// subjects are the subject in other languages.
	subjects map[string]executor

	// slots holds one entry per allowed connection: an open client, or nil until dialled.
	slots chan *smtp.Client
}

// NewEmail checks the configuration and the templates; it connects at the first send.
func NewEmail(cfg EmailConfig) (*Email, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: no SMTP host")
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = StartTLS
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("email: unknown TLS mode %q", cfg.TLS)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 1
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q: %w", cfg.From, err)
	}
	e := &Email{cfg: cfg, from: from, domain: from.Address[strings.LastIndex(from.Address, "@")+1:],
		slots: make(chan *smtp.Client, cfg.Connections)}
	for range cfg.Connections {
		e.slots <- nil
	}
	for _, t := range []struct {
		dst      *executor
		name     string
		text     string
		fallback string
	}{{&e.subject, "subject", cfg.Subject, DefaultSubject}, {&e.text, "text", cfg.Text, DefaultText}, {&e.html, "html", cfg.HTML, DefaultHTML}} {
		src := t.text
		if src == "" {
			src = t.fallback
		}
		if *t.dst, err = parse("email "+t.name, src, t.name == "html"); err != nil {
			return nil, err
		}
	}
	e.subjects = map[string]executor{}
	for lang, src := range cfg.Subjects {
		if e.subjects[lang], err = parse("email subject ("+lang+")", src, false); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// MessageID is the Message-ID of the email for a message id: the same invitation always has
// the same Message-ID, so a resend can be recognised.
func (e *Email) MessageID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "<" + hex.EncodeToString(sum[:16]) + "@" + e.domain + ">"
}

func (e *Email) dial() (*smtp.Client, error) {
	addr := net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
	tlsConfig := e.cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: e.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	var c *smtp.Client
	var err error
	switch e.cfg.TLS {
	case ImplicitTLS:
		c, err = smtp.DialTLS(addr, tlsConfig)
	case NoTLS:
		c, err = smtp.Dial(addr)
	default:
		c, err = smtp.DialStartTLS(addr, tlsConfig)
	}
	if err != nil {
		return nil, err
	}
	c.CommandTimeout = e.cfg.Timeout
	c.SubmissionTimeout = e.cfg.Timeout
	if e.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", e.cfg.Username, e.cfg.Password)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// dialAttempts and dialBackoff bound the retries of a connection that cannot be made: a relay
// restarting, or a Service whose endpoints are not yet routed, must not fail the invitations
// waiting for it. Retrying is safe: no message has been handed over before the session is up.
var (
	dialAttempts = 6
	dialBackoff  = 250 * time.Millisecond
)

// dialRetrying dials, retrying network errors and SMTP 4xx replies (to the greeting, EHLO,
// STARTTLS or AUTH) with a doubling backoff; a 5xx reply, such as refused credentials, is final.
func (e *Email) dialRetrying(ctx context.Context) (*smtp.Client, error) {
	wait := dialBackoff
	for attempt := 1; ; attempt++ {
		c, err := e.dial()
		var se *smtp.SMTPError
		if err == nil || attempt == dialAttempts || (errors.As(err, &se) && se.Code >= 500) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// Send delivers one message. SMTP 5xx replies are permanent failures, 4xx and network errors
// temporary ones. A failure is NotSent unless the connection broke after the whole message was
// written, while the relay's acceptance was awaited: until that reply a relay discards what it
// was given.
func (e *Email) Send(ctx context.Context, m Message, id string) error {
	body, err := e.compose(m, id)
	if err != nil {
		return err
	}
	var client *smtp.Client
	select {
	case client = <-e.slots:
	case <-ctx.Done():
		return &Error{Reason: "cancelled", NotSent: true, Err: ctx.Err()}
	}
	defer func() { e.slots <- client }()
	if client == nil {
		c, err := e.dialRetrying(ctx)
		if err != nil {
			ce := classify(err)
			ce.NotSent = true
			return ce
		}
		client = c
	}
	handedOver, err := e.transfer(client, m.To, body)
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) || client.Reset() != nil {
		// The connection is broken: drop it; the next send on this slot dials again.
		_ = client.Close()
		client = nil
	}
	ce := classify(err)
	ce.NotSent = !handedOver
	return ce
}

// transfer runs one mail transaction. handedOver is true once the whole message, its final dot
// included, has been written: a relay that answers nothing after that may have taken it.
func (e *Email) transfer(c *smtp.Client, to string, body []byte) (handedOver bool, err error) {
	var opts *smtp.MailOptions
	if !isASCII(e.from.Address) || !isASCII(to) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(e.from.Address, opts); err != nil {
		return false, err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return false, err
	}
	w, err := c.Data()
	if err != nil {
		return false, err
	}
	if _, err := w.Write(body); err != nil {
		return false, err
	}
	err = w.Close() // the final dot, then the relay's reply
	var se *smtp.SMTPError
	return err != nil && !errors.As(err, &se), err
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func classify(err error) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Error{Permanent: se.Code >= 500, Reason: "smtp-" + strconv.Itoa(se.Code), Err: err}
	}
	return &Error{Reason: "network", Err: err}
}

// Close ends the SMTP sessions. It waits for sends in progress.
func (e *Email) Close() error {
	var first error
	for range e.cfg.Connections {
		if c := <-e.slots; c != nil {
			if err := c.Quit(); err != nil && first == nil {
				first = err
			}
		}
		defer func() { e.slots <- nil }()
	}
	return first
}

// compose writes the RFC 5322 message: text and HTML alternatives, a Message-ID derived from the
// invitation, and one-click unsubscribe headers (RFC 2369, RFC 8058).
func (e *Email) compose(m Message, id string) ([]byte, error) {
	m = withWords(m)
	subject := m.Subject // a FollowUp's, already in the person's language
	if subject == "" {
		subjectTemplate := e.subject
		if t, ok := e.subjects[m.Lang]; ok {
			subjectTemplate = t
		}
		var err error
		if subject, err = render(subjectTemplate, m); err != nil {
			return nil, err
		}
	}
	text, err := render(e.text, m)
	if err != nil {
		return nil, err
	}
	html, err := render(e.html, m)
	if err != nil {
		return nil, err
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, &Error{Permanent: true, Reason: "bad-address", Err: errors.New("the contact is not an email address")}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", e.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", strings.TrimSpace(subject)))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", e.MessageID(id))
	header("MIME-Version", "1.0")
	if m.OptOutLink != "" {
		header("List-Unsubscribe", "<"+m.OptOutLink+">")
		header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ kind, body string }{{"text/plain", text}, {"text/html", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.kind + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
