package dsn

import (
	"bytes"
	"regexp"
	"testing"
	"testing/iotest"
)

var (
	// statusCode is RFC 3464's status-code (RFC 3463's class, subject and detail).
	statusCode = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
	// tokenText is what a link token can be: the URL-safe base64 alphabet.
	tokenText = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)
)

// FuzzParse reads any message as a mail server's report, whole and a byte at a time.
// Properties:
//   - Parse returns a report or an error, never both, and the same however the body arrives;
//   - a report's outcome is one of the three; its status is empty or a status code of RFC
//     3464 (a few ASCII digits: what the response service stores as the reason), and a 5.x.x
//     status is a bounce, a 4.x.x one a bounce or a deferral;
//   - its token is empty or of the link token's alphabet.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		rep, err := Parse(bytes.NewReader(msg))
		slow, serr := Parse(iotest.OneByteReader(bytes.NewReader(msg)))
		if rep != slow || (err == nil) != (serr == nil) || err != nil && err.Error() != serr.Error() {
			t.Fatalf("Parse(%q) = %+v, %v; a byte at a time, %+v, %v", msg, rep, err, slow, serr)
		}
		if err != nil {
			if rep != (Report{}) {
				t.Fatalf("Parse(%q) = %+v and %v", msg, rep, err)
			}
			return
		}
		switch rep.Outcome {
		case Bounced, Deferred, Delivered:
		default:
			t.Fatalf("Parse(%q): outcome %q", msg, rep.Outcome)
		}
		if rep.Status != "" && !statusCode.MatchString(rep.Status) {
			t.Fatalf("Parse(%q): status %q is not a status code", msg, rep.Status)
		}
		if class := rep.Status; class != "" && (class[0] == '5' && rep.Outcome != Bounced || class[0] == '4' && rep.Outcome == Delivered) {
			t.Fatalf("Parse(%q): status %s, outcome %s", msg, rep.Status, rep.Outcome)
		}
		if rep.Token != "" && !tokenText.MatchString(rep.Token) {
			t.Fatalf("Parse(%q): token %q", msg, rep.Token)
		}
	})
}
