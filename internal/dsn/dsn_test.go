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
	// A server that returned no headers: the outcome, no token.
	noHeaders := hard[:strings.Index(hard, "--4F3A21C0042.1775463243/mx.riverside-homes.example\nContent-Description: Undelivered Message Headers")] +
		"--4F3A21C0042.1775463243/mx.riverside-homes.example--\n"
	rep, err := Parse(strings.NewReader(noHeaders))
	if err != nil || rep.Outcome != Bounced || rep.Token != "" {
		t.Errorf("without the returned headers: %+v, %v", rep, err)
	}
}
