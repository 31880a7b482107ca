// Package channel delivers one message at a time through a campaign's channels: email through
// SMTP (a real client library, connection reused), and webhooks to SMS, chat and ticket
// gateways (signed, retried with backoff on 5xx and 429). It knows nothing of ledgers or
// audiences: the sender decides what to send and records what happened.
package channel

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"text/template"

	"github.com/surveyops/survey-operator/internal/i18n"
)

// Message is what a channel's templates render from.
type Message struct {
	// To is the contact: an email address or a phone number.
	To string
	// Title is the survey's title.
	Title string
	// Link is the person's survey (or follow-up) link; OptOutLink stops all surveys.
	Link, OptOutLink string
	// Campaign and Segment name where the person belongs.
	Campaign, Segment string
	// CaseID is the follow-up case, for ticket webhooks.
	CaseID string
	// Text is the campaign's own wording for this message, when it has one (a FollowUp's body).
	Text string
	// Subject, when set, is the email's subject in place of the channel's (the invitation's
	// subject, in every language): a FollowUp's message has its own.
	Subject string
	// FollowUp is true for a follow-up contact: Text is the whole message, carrying Link where
	// it wants it, and the email adds no survey button and no survey footer.
	FollowUp bool
	// Reminder is true for a reminder to someone who has not answered yet.
	Reminder bool
	// Lang is the language the person reads (BCP 47), Dir its direction ("ltr" or "rtl"), and
	// Words the operator's own wording in it (i18n.Mail: reminder, invite, remind, start,
	// confidential, optout, stop), which the default templates use.
	Lang, Dir string
	Words     map[string]string
}

// withWords gives a message with no words the operator's own, in its language (English when it
// has none).
func withWords(m Message) Message {
	if m.Words == nil {
		m.Lang = cmp.Or(m.Lang, "en")
		m.Dir, m.Words = i18n.Dir(m.Lang), i18n.Mail(m.Lang)
	}
	return m
}

// sample is rendered when a channel is made, as an invitation and as a follow-up, so that a
// template that uses an unknown field fails before the first send.
var sample = Message{To: "+447700900000", Title: "Survey", Link: "https://example.org/s/x", OptOutLink: "https://example.org/o/x",
	Campaign: "campaign", Segment: "segment", CaseID: "case", Text: "text", Lang: "en", Dir: "ltr", Words: i18n.Mail("en")}

// Error is a failed send with a reason code for the ledger ("smtp-550", "http-429", "network").
// Permanent failures are not retried: the address is wrong, the gateway refused the request.
// NotSent says the channel certainly did not take the message (it was refused, or never fully
// handed over), so that trying again cannot send it twice.
type Error struct {
	Permanent bool
	NotSent   bool
	Reason    string
	Err       error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s failure %s: %v", kind, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is the reason code of an error from a channel ("error" when it is not one).
func ReasonOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return "error"
}

// IsRetryable reports whether an error is a temporary failure of a message the channel
// certainly did not take: one to send again later.
func IsRetryable(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && !ce.Permanent && ce.NotSent
}

// IsPermanent reports whether an error is a permanent failure.
func IsPermanent(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Permanent
}

// Channel sends messages. id identifies the message (the invitation), so that a resend can be
// recognised: it becomes the email's Message-ID and the webhook's Idempotency-Key.
type Channel interface {
	Send(ctx context.Context, m Message, id string) error
	Close() error
}

var funcs = template.FuncMap{
	// json writes a value as a JSON string literal, for webhook bodies: {"to": {{ json .To }}}.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// contains reports whether a text holds a substring: {{ if contains .Text .Link }}.
	"contains": func(s, sub string) bool { return sub != "" && strings.Contains(s, sub) },
	// paragraphs writes a plain text as HTML paragraphs (a blank line between two, a line
	// break for any other newline), escaped, with each appearance of link made a link to it.
	"paragraphs": paragraphs,
}

// paragraphs is the HTML of a plain text, such as a FollowUp's message, with link clickable.
func paragraphs(text, link string) htmltemplate.HTML {
	var b strings.Builder
	for _, para := range strings.Split(strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			pieces := []string{line}
			if link != "" {
				pieces = strings.Split(line, link)
			}
			for j, piece := range pieces {
				if j > 0 {
					esc := htmltemplate.HTMLEscapeString(link)
					b.WriteString(`<a href="` + esc + `" style="color: #1d4f91;">` + esc + `</a>`)
				}
				b.WriteString(htmltemplate.HTMLEscapeString(piece))
			}
		}
		b.WriteString("</p>\n")
	}
	return htmltemplate.HTML(b.String())
}

// executor is a parsed text or HTML template.
type executor interface {
	Execute(w io.Writer, data any) error
}

// parse parses a text template, or an HTML one (which escapes what it inserts), and renders it
// once with sample data to catch unknown fields.
func parse(name, text string, html bool) (executor, error) {
	var t executor
	var err error
	if html {
		t, err = htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	} else {
		t, err = template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	}
	if err != nil {
		return nil, fmt.Errorf("%s template: %w", name, err)
	}
	followUp := sample
	followUp.FollowUp, followUp.Subject, followUp.Text = true, "subject", "text "+sample.Link
	for _, m := range []Message{sample, followUp} {
		if err := t.Execute(&bytes.Buffer{}, m); err != nil {
			return nil, fmt.Errorf("%s template: %w", name, err)
		}
	}
	return t, nil
}

// Template is a text of the campaign's own, such as a FollowUp's message body: checked when
// it is made (an unknown field is an error then), rendered per message.
type Template struct{ t executor }

// NewTemplate parses and checks a text template over Message.
func NewTemplate(name, text string) (*Template, error) {
	t, err := parse(name, text, false)
	if err != nil {
		return nil, err
	}
	return &Template{t: t}, nil
}

// Render renders the template for one message.
func (t *Template) Render(m Message) (string, error) { return render(t.t, m) }

func render(t executor, m Message) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, m); err != nil {
		return "", &Error{Permanent: true, Reason: "template", Err: err}
	}
	return b.String(), nil
}
