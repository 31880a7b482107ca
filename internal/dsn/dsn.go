// Package dsn reads delivery status notifications (RFC 3464): the reports mail servers send
// back when a message could not be delivered, or not yet. It finds what happened (the first
// recipient's action and status) and which survey invitation it was about, from the returned
// message's headers: the invitation's List-Unsubscribe header carries the person's link token.
package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Outcome is what a report says happened to a message.
type Outcome string

const (
	// Bounced is a permanent failure (action "failed", a 5.x.x status).
	Bounced Outcome = "bounced"
	// Deferred is a temporary one (action "delayed", or a 4.x.x status): the server keeps
	// trying.
	Deferred Outcome = "deferred"
	// Delivered is a success report (action "delivered", "relayed" or "expanded").
	Delivered Outcome = "delivered"
)

// Report is what a notification says about one message.
type Report struct {
	Outcome Outcome
	// Status is the recipient's status code, such as "5.1.1": empty when the report has none
	// in RFC 3464's syntax.
	Status string
	// Token is the link token found in the returned message (its List-Unsubscribe header, or
	// a survey or opt-out link in what was returned); empty when the server returned none.
	Token string
}

// ErrNotAReport is a message that is not a delivery status notification.
var ErrNotAReport = errors.New("not a delivery status notification (multipart/report; report-type=delivery-status)")

// ErrAmbiguous is a report that names two invitations, or gives two statuses that disagree:
// nothing is recorded from it.
var ErrAmbiguous = errors.New("an ambiguous delivery status notification")

// maxPart bounds what is read of each part.
const maxPart = 1 << 20

// statusSyntax is a status code (RFC 3464, section 2.3.4; RFC 3463): class, subject and detail.
var statusSyntax = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)

// linkToken finds a token in a survey (/s/) or opt-out (/o/) link.
var linkToken = regexp.MustCompile(`/[so]/([A-Za-z0-9_-]{16,})`)

// Parse reads a notification.
func Parse(r io.Reader) (Report, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return Report{}, fmt.Errorf("reading the message: %w", err)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || media != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") || params["boundary"] == "" {
		return Report{}, ErrNotAReport
	}
	var rep Report
	found := false
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Report{}, fmt.Errorf("reading the report's parts: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(part, maxPart))
		if err != nil {
			return Report{}, fmt.Errorf("reading the report's parts: %w", err)
		}
		kind, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch kind {
		case "message/delivery-status", "message/global-delivery-status":
			outcome, code, err := status(body)
			if err != nil {
				return Report{}, err
			}
			if found && (outcome != rep.Outcome || code != rep.Status) {
				return Report{}, fmt.Errorf("%w: two delivery statuses that disagree", ErrAmbiguous)
			}
			rep.Outcome, rep.Status, found = outcome, code, true
		case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
			// Two returned messages naming different invitations: which one bounced is not
			// known, so neither is marked (the last one used to win).
			if t := tokenIn(body); t != "" {
				if rep.Token != "" && t != rep.Token {
					return Report{}, fmt.Errorf("%w: it returns two messages' headers, of different invitations", ErrAmbiguous)
				}
				rep.Token = t
			}
		}
	}
	if !found {
		return Report{}, fmt.Errorf("%w: it has no message/delivery-status part", ErrNotAReport)
	}
	return rep, nil
}

// status reads the delivery-status fields: a block of per-message fields, then a block per
// recipient; the first recipient's action and status count.
func status(body []byte) (Outcome, string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	if _, err := tp.ReadMIMEHeader(); err != nil && !errors.Is(err, io.EOF) { // per-message fields
		return "", "", fmt.Errorf("the delivery status: %w", err)
	}
	recipient, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return "", "", fmt.Errorf("the delivery status: %w", err)
	}
	action := strings.ToLower(strings.TrimSpace(recipient.Get("Action")))
	code := strings.TrimSpace(recipient.Get("Status"))
	if i := strings.IndexAny(code, " \t("); i > 0 {
		code = code[:i]
	}
	if !statusSyntax.MatchString(code) {
		code = "" // not a status code: the action alone decides, and nothing of it is kept
	}
	switch {
	case action == "failed" || strings.HasPrefix(code, "5."):
		return Bounced, code, nil
	case action == "delayed" || strings.HasPrefix(code, "4."):
		return Deferred, code, nil
	case action == "delivered" || action == "relayed" || action == "expanded":
		return Delivered, code, nil
	}
	return "", "", fmt.Errorf("the delivery status has no recipient with an action (got %.40q, status %q)", action, code)
}

// tokenIn finds the link token of the returned message: in its List-Unsubscribe header first,
// else in any link of what was returned.
func tokenIn(returned []byte) string {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(returned)))
	if h, err := tp.ReadMIMEHeader(); err == nil || errors.Is(err, io.EOF) {
		if m := linkToken.FindStringSubmatch(h.Get("List-Unsubscribe")); m != nil {
			return m[1]
		}
	}
	if m := linkToken.FindSubmatch(returned); m != nil {
		return string(m[1])
	}
	return ""
}
