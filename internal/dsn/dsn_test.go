package dsn

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const token = "AQHq3ZkA8xq1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ_-0123456789abcdefABCDEF"

func sample(t *testing.T, name string, crlf bool) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(raw), "{{TOKEN}}", token)
	if crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

func TestParse(t *testing.T) {
	for name, c := range map[string]struct {
		file    string
		crlf    bool
		outcome Outcome
		status  string
	}{
		"Postfix, user unknown":           {"postfix-hard.eml", false, Bounced, "5.1.1"},
		"Postfix, CRLF as on the wire":    {"postfix-hard.eml", true, Bounced, "5.1.1"},
		"Exim, delayed by greylisting":    {"exim-delayed.eml", false, Deferred, "4.0.0"},
		"Exim, delayed, CRLF on the wire": {"exim-delayed.eml", true, Deferred, "4.0.0"},
	} {
		rep, err := Parse(strings.NewReader(sample(t, c.file, c.crlf)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if rep.Outcome != c.outcome || rep.Status != c.status || rep.Token != token {
			t.Errorf("%s: %+v, want %s %s and the token", name, rep, c.outcome, c.status)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	hard := sample(t, "postfix-hard.eml", false)
	for name, c := range map[string]struct {
		msg  string
		want error
	}{
		"a plain message":     {"From: a@example.org\nSubject: hello\n\nhi\n", ErrNotAReport},
		"another report type": {strings.Replace(hard, "report-type=delivery-status", "report-type=disposition-notification", 1), ErrNotAReport},
		"no status part":      {strings.Replace(hard, "Content-Type: message/delivery-status", "Content-Type: text/plain", 1), ErrNotAReport},
	} {
		if _, err := Parse(strings.NewReader(c.msg)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Two returned messages of different invitations, or two statuses that disagree: which
	// invitation bounced is not known, and nothing is taken from the report (the last token
	// used to win). The same message returned twice is still one.
	boundary := "--4F3A21C0042.1775463243/mx.riverside-homes.example"
	headers := hard[strings.Index(hard, boundary+"\nContent-Description: Undelivered Message Headers"):strings.LastIndex(hard, boundary+"--")]
	other := strings.Replace(headers, token, strings.Repeat("Z", len(token)), 1)
	for name, c := range map[string]struct {
		msg  string
		want error
	}{
		"two invitations' headers": {strings.Replace(hard, boundary+"--", other+boundary+"--", 1), ErrAmbiguous},
		"two statuses that disagree": {strings.Replace(hard, "Content-Description: Undelivered Message Headers",
			"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nAction: delayed\nStatus: 4.0.0\n\n"+boundary+"\nContent-Description: Undelivered Message Headers", 1), ErrAmbiguous},
		"the same headers twice": {strings.Replace(hard, boundary+"--", headers+boundary+"--", 1), nil},
	} {
		rep, err := Parse(strings.NewReader(c.msg))
		if !errors.Is(err, c.want) || (c.want == nil && rep.Token != token) {
			t.Errorf("%s: %+v, %v; want %v", name, rep, err, c.want)
		}
	}

	// A server that returned no headers: the outcome, no token.
	noHeaders := hard[:strings.Index(hard, "--4F3A21C0042.1775463243/mx.riverside-homes.example\nContent-Description: Undelivered Message Headers")] +
		"--4F3A21C0042.1775463243/mx.riverside-homes.example--\n"
	rep, err := Parse(strings.NewReader(noHeaders))
	if err != nil || rep.Outcome != Bounced || rep.Token != "" {
		t.Errorf("without the returned headers: %+v, %v", rep, err)
	}
}

// The outcome is read from the first recipient's Action and Status, either of which may say
// it alone: a failure is a bounce whatever its status, and a permanent status is a bounce
// when the Action is missing.
func TestParseOutcome(t *testing.T) {
	hard := sample(t, "postfix-hard.eml", false)
	const fields = "Action: failed\nStatus: 5.1.1\n"
	if !strings.Contains(hard, fields) {
		t.Fatal("the sample's recipient fields moved")
	}
	for name, c := range map[string]struct {
		fields  string
		outcome Outcome
		status  string
	}{
		"failed, permanent status":    {"Action: failed\nStatus: 5.1.1\n", Bounced, "5.1.1"},
		"failed, temporary status":    {"Action: failed\nStatus: 4.4.7\n", Bounced, "4.4.7"},
		"no action, permanent status": {"Status: 5.2.2\n", Bounced, "5.2.2"},
		"no action, temporary status": {"Status: 4.2.2\n", Deferred, "4.2.2"},
		"delayed, temporary status":   {"Action: delayed\nStatus: 4.0.0\n", Deferred, "4.0.0"},
		"delayed, no status":          {"Action: delayed\n", Deferred, ""},
		"delivered":                   {"Action: delivered\nStatus: 2.0.0\n", Delivered, "2.0.0"},
		"relayed":                     {"Action: relayed\nStatus: 2.0.0\n", Delivered, "2.0.0"},
		"expanded":                    {"Action: expanded\nStatus: 2.0.0\n", Delivered, "2.0.0"},
		"action in capitals, comment": {"Action: FAILED\nStatus: 5.1.1 (user unknown)\n", Bounced, "5.1.1"},
	} {
		rep, err := Parse(strings.NewReader(strings.Replace(hard, fields, c.fields, 1)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if rep.Outcome != c.outcome || rep.Status != c.status {
			t.Errorf("%s: %s %q, want %s %q", name, rep.Outcome, rep.Status, c.outcome, c.status)
		}
	}
	// Neither an action nor a status: no outcome to record.
	if rep, err := Parse(strings.NewReader(strings.Replace(hard, fields, "", 1))); err == nil {
		t.Errorf("no action, no status: %+v, want an error", rep)
	}
}

// What servers vary in: the report-type's case (a parameter's value is case-insensitive), and
// the internationalised status part of RFC 6533.
func TestParseVariants(t *testing.T) {
	hard := sample(t, "postfix-hard.eml", false)
	for name, edit := range map[string][2]string{
		"report-type in capitals":        {"report-type=delivery-status", "report-type=Delivery-Status"},
		"message/global-delivery-status": {"Content-Type: message/delivery-status", "Content-Type: message/global-delivery-status"},
		"returned as message/rfc822":     {"Content-Type: text/rfc822-headers", "Content-Type: message/rfc822"},
	} {
		msg := strings.Replace(hard, edit[0], edit[1], 1)
		if msg == hard {
			t.Fatalf("%s: the sample has no %q", name, edit[0])
		}
		rep, err := Parse(strings.NewReader(msg))
		if err != nil || rep.Outcome != Bounced || rep.Status != "5.1.1" || rep.Token != token {
			t.Errorf("%s: %+v, %v; want bounced 5.1.1 and the token", name, rep, err)
		}
	}
}
