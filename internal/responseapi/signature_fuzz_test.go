package responseapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// FuzzVerifySigned checks signed requests three ways: the headers as given (which a fuzzer
// cannot sign), the request signed as SignRequest signs it at a time around now, and a
// timestamp header of any spelling with the right HMAC of that spelling. Properties:
//   - VerifySigned returns exactly ErrBadSignature or ErrStale with nothing else, or the
//     signature and the time to remember it until;
//   - it accepts only a timestamp in its one spelling (the decimal FormatInt writes) and
//     the signature Sign gives for it and the body, in lower-case hex, within MaxSkew of now;
//   - ErrStale only for a request the key did sign.
func FuzzVerifySigned(f *testing.F) {
	key := []byte("the channel's hmac key")
	now := time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, signature, timestamp string, offset int64) {
		h := http.Header{}
		h.Set(responseapi.SignatureHeader, signature)
		h.Set(responseapi.TimestampHeader, timestamp)
		check(t, h, key, body, now)

		at := time.Unix(now.Unix()+offset, 0)
		h = http.Header{}
		responseapi.SignRequest(h, key, at, body)
		err := check(t, h, key, body, now)
		if stale := at.Sub(now) > responseapi.MaxSkew || now.Sub(at) > responseapi.MaxSkew; (err == responseapi.ErrStale) != stale || !stale && err != nil {
			t.Fatalf("signed at %s, %s from now: %v", at, at.Sub(now), err)
		}

		// The right HMAC of the timestamp as spelt: accepted only in its one spelling.
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(timestamp + "."))
		mac.Write(body)
		h = http.Header{}
		h.Set(responseapi.TimestampHeader, timestamp)
		h.Set(responseapi.SignatureHeader, hex.EncodeToString(mac.Sum(nil)))
		err = check(t, h, key, body, now)
		if seconds, perr := strconv.ParseInt(timestamp, 10, 64); perr != nil || strconv.FormatInt(seconds, 10) != timestamp {
			if err != responseapi.ErrBadSignature {
				t.Fatalf("the timestamp %q, rightly signed but not in its one spelling: %v", timestamp, err)
			}
		}
	})
}

// check runs VerifySigned and checks what it returns against the headers: it returns the error.
func check(t *testing.T, h http.Header, key, body []byte, now time.Time) error {
	t.Helper()
	signature, until, err := responseapi.VerifySigned(h, key, body, now)
	if err != nil {
		if err != responseapi.ErrBadSignature && err != responseapi.ErrStale {
			t.Fatalf("VerifySigned(%q): unexpected error %v", h, err)
		}
		if signature != "" || !until.IsZero() {
			t.Fatalf("VerifySigned(%q) = %q, %s and %v", h, signature, until, err)
		}
		if err == responseapi.ErrBadSignature {
			return err
		}
	}
	ts := h.Get(responseapi.TimestampHeader)
	seconds, perr := strconv.ParseInt(ts, 10, 64)
	if perr != nil || strconv.FormatInt(seconds, 10) != ts {
		t.Fatalf("VerifySigned(%q): %v, but the timestamp is not in its one spelling", h, err)
	}
	signed := time.Unix(seconds, 0)
	if want := responseapi.Sign(key, signed, body); h.Get(responseapi.SignatureHeader) != want {
		t.Fatalf("VerifySigned(%q): %v, but the signature is not %q", h, err, want)
	}
	if d := now.Sub(signed); (d > responseapi.MaxSkew || d < -responseapi.MaxSkew) != (err == responseapi.ErrStale) {
		t.Fatalf("VerifySigned(%q), signed %s before now: %v", h, d, err)
	}
	if err == nil && (signature != h.Get(responseapi.SignatureHeader) || !until.Equal(signed.Add(responseapi.MaxSkew))) {
		t.Fatalf("VerifySigned(%q) remembers %q until %s", h, signature, until)
	}
	return err
}
