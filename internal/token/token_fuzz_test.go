package token

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
	"time"
)

// uuidText is how a token's campaign UID reads: lower-case hex in the 8-4-4-4-12 groups.
var uuidText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkClaims fails unless c is within what Sign can write: a known purpose, a UUID, fields of
// at most 255 bytes, and an expiry of whole seconds from 1970 (exclusive) to 2106.
func checkClaims(t *testing.T, c Claims) {
	t.Helper()
	if c.Purpose != PurposeSurvey && c.Purpose != PurposeResolve {
		t.Fatalf("purpose %d", c.Purpose)
	}
	if !uuidText.MatchString(c.CampaignUID) {
		t.Fatalf("campaign UID %q", c.CampaignUID)
	}
	for _, f := range []string{c.Wave, c.Recipient, c.Segment, c.Channel} {
		if len(f) > maxField {
			t.Fatalf("a field of %d bytes", len(f))
		}
	}
	if exp := c.Expiry.Unix(); exp <= 0 || exp > 1<<32-1 || c.Expiry.Nanosecond() != 0 || c.Expiry.Location() != time.UTC {
		t.Fatalf("expiry %s", c.Expiry)
	}
}

// FuzzToken reads each input two ways: as the text of a link, which a fuzzer cannot sign, and
// as the bytes a token carries, signed here with the ring's key, so that the decoding of what
// follows the signature is explored too. Either way:
//   - Verify refuses with exactly ErrInvalid and no claims, or returns claims within their
//     bounds (ErrExpired exactly when their expiry is not after now);
//   - a token it accepts, expired or not, is the one text signing its claims gives: one
//     spelling, and nothing that Sign could not have written;
//   - Peek reads the same claims as Verify from an authentic token, and nothing with an error;
//   - a case link's case signs back to the same token.
func FuzzToken(f *testing.F) {
	r := ring(f, key1)
	secret := r.keys[0].secret
	check := func(t *testing.T, tok string) {
		c, err := r.Verify(tok, now)
		peeked, perr := Peek(tok)
		if perr != nil && (perr != ErrInvalid || peeked != Claims{}) {
			t.Fatalf("Peek(%q) = %+v, %v: an error must come alone, and be ErrInvalid", tok, peeked, perr)
		}
		if perr == nil {
			checkClaims(t, peeked)
		}
		switch {
		case errors.Is(err, ErrInvalid):
			if c != (Claims{}) {
				t.Fatalf("Verify(%q) refused it but returned claims %+v", tok, c)
			}
			return
		case errors.Is(err, ErrExpired):
			if now.Before(c.Expiry) {
				t.Fatalf("Verify(%q) = ErrExpired, but it expires at %s", tok, c.Expiry)
			}
		case err == nil:
			if !now.Before(c.Expiry) {
				t.Fatalf("Verify(%q) accepted it, but it expired at %s", tok, c.Expiry)
			}
		default:
			t.Fatalf("Verify(%q): unexpected error %v", tok, err)
		}
		checkClaims(t, c)
		if perr != nil || peeked != c {
			t.Fatalf("Verify(%q) = %+v, but Peek = %+v, %v", tok, c, peeked, perr)
		}
		again, serr := r.Sign(c)
		if serr != nil || again != tok {
			t.Fatalf("Verify accepted %q, but its claims %+v sign as %q (%v)", tok, c, again, serr)
		}
		if k, ok := CaseOf(c); ok {
			if again, serr := r.SignCase(k, c.Expiry); serr != nil || again != tok {
				t.Fatalf("the case %+v of %q signs as %q (%v)", k, tok, again, serr)
			}
		}
		if v, verr := r.VerifyFor(tok, c.Purpose, c.CampaignUID, now); v != c || verr != err {
			t.Fatalf("VerifyFor(%q) = %+v, %v; Verify = %+v, %v", tok, v, verr, c, err)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check(t, string(raw))
		check(t, encoding.EncodeToString(append(bytes.Clone(raw), mac(secret, raw)...)))
	})
}
