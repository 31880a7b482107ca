// Command mailsink is the demo's mail server (make demo, test/e2e): it accepts every message by
// SMTP (emersion/go-smtp, no TLS, no AUTH: it runs inside the cluster and delivers nothing),
// keeps the most recent ones in memory, and shows them on a web page, with a JSON API for
// scripts and tests:
//
//	GET  /                   the received messages, newest first
//	GET  /messages/{id}      one message, its text part with the links clickable
//	GET  /api/messages       all messages as JSON (id, from, to, subject, received, headers, text,
//	                         html); ?limit=N the most recent N
//	GET  /api/recipients     how many messages each recipient got, the forgotten ones too
//	DELETE /api/messages     forget them all
//	GET  /healthz            200 when serving
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	smtpAddr := flag.String("smtp", ":1025", "the SMTP address")
	httpAddr := flag.String("http", ":8025", "the web view's address")
	keep := flag.Int("keep", 20000, "how many messages to keep (the oldest are forgotten)")
	flag.Parse()
	box := &mailbox{keep: max(*keep, 1)}
	srv := smtp.NewServer(box)
	srv.Addr = *smtpAddr
	srv.Domain = "mailsink"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	go func() { log.Fatal(srv.ListenAndServe()) }()
	log.Printf("mailsink: SMTP on %s, web view on %s", *smtpAddr, *httpAddr)
	log.Fatal((&http.Server{Addr: *httpAddr, Handler: box.routes(), ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
}

// Message is one received message, decoded.
type Message struct {
	ID       int                 `json:"id"`
	From     string              `json:"from"`
	To       []string            `json:"to"`
	Subject  string              `json:"subject"`
	Received time.Time           `json:"received"`
	Headers  map[string][]string `json:"headers"`
	Text     string              `json:"text"`
	HTML     string              `json:"html"`
}

type mailbox struct {
	keep int
	mu   sync.Mutex
	next int
	// messages is a ring of the most recent ones, at most keep; the oldest is at start once it
	// is full. (Trimming by copying the kept ones after each message past keep cost a copy
	// of 20,000 messages per message: a wave of 100,000 spent minutes in it.)
	messages []Message
	start    int
	// received counts every message by recipient, the forgotten ones too, so that a test of
	// a large wave can check that each person got exactly one.
	received map[string]int
}

func (b *mailbox) add(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	m.ID = b.next
	if b.received == nil {
		b.received = map[string]int{}
	}
	for _, to := range m.To {
		b.received[to]++
	}
	if len(b.messages) < b.keep {
		b.messages = append(b.messages, m)
		return
	}
	b.messages[b.start] = m
	b.start = (b.start + 1) % len(b.messages)
}

func (b *mailbox) all() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(append(make([]Message, 0, len(b.messages)), b.messages[b.start:]...), b.messages[:b.start]...)
}

// NewSession implements smtp.Backend.
func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: b}, nil }

type session struct {
	box  *mailbox
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := decode(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "cannot parse the message: " + err.Error()}
	}
	m.From, m.To, m.Received = s.from, s.to, time.Now().UTC()
	s.box.add(m)
	return nil
}

// decode reads the headers and the text and HTML parts of a message (single part or
// multipart/alternative, quoted-printable or base64).
func decode(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	var m Message
	m.Headers = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &m)
	return m, err
}

func walk(contentType, encoding string, body io.Reader, m *Message) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64Reader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

var links = regexp.MustCompile(`https?://[^\s<>"]+`)

func (b *mailbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		all := b.all()
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n >= 0 && n < len(all) {
			all = all[len(all)-n:] // the most recent n
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(all)
	})
	mux.HandleFunc("GET /api/recipients", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		counts := maps.Clone(b.received)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(counts)
	})
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		b.messages, b.start, b.received = nil, 0, nil
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		all := b.all()
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = listPage.Execute(w, all)
	})
	mux.HandleFunc("GET /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		for _, m := range b.all() {
			if m.ID == id {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_ = messagePage.Execute(w, struct {
					Message
					Body template.HTML
				}{m, linkify(m.Text)})
				return
			}
		}
		http.NotFound(w, r)
	})
	return mux
}

// linkify escapes a text body and makes its links clickable.
func linkify(text string) template.HTML {
	var out strings.Builder
	last := 0
	for _, loc := range links.FindAllStringIndex(text, -1) {
		out.WriteString(template.HTMLEscapeString(text[last:loc[0]]))
		u := template.HTMLEscapeString(text[loc[0]:loc[1]])
		fmt.Fprintf(&out, `<a href="%s">%s</a>`, u, u)
		last = loc[1]
	}
	out.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(out.String()) //nolint:gosec // every piece above is escaped
}

var listPage = template.Must(template.New("list").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mail sink</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style></head>
<body><h1>Mail sink</h1><p>{{len .}} messages received (nothing here is delivered anywhere).</p>
<table><thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Received.Format "2006-01-02 15:04:05"}}</td><td>{{range .To}}{{.}} {{end}}</td><td><a href="/messages/{{.ID}}">{{.Subject}}</a></td></tr>
{{end}}</tbody></table></body></html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}pre{white-space:pre-wrap;max-width:48rem}</style></head>
<body><p><a href="/">All messages</a></p><h1>{{.Subject}}</h1>
<p>From {{.From}} to {{range .To}}{{.}} {{end}}, received {{.Received.Format "2006-01-02 15:04:05"}} UTC</p>
<pre>{{.Body}}</pre></body></html>
`))

// base64Reader decodes a base64 body (line breaks are ignored by the decoder).
func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
