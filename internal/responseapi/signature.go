package responseapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Signed requests: what the operator's webhooks send to gateways and helpdesks, and what they
// send back on the Signed routes (answers from a gateway, a helpdesk's "resolved"). The body is
// signed with the time it was signed, so a captured request is refused once it is older than
// MaxSkew, and the service refuses a second use of a signature within that time.
const (
	// SignatureHeader carries the hex HMAC-SHA256, under the shared key, of the timestamp, a
	// full stop, and the body: HMAC(key, "1764450000." + body).
	SignatureHeader = "X-Survey-Signature"
	// TimestampHeader carries the time the request was signed, in Unix seconds.
	TimestampHeader = "X-Survey-Timestamp"
	// MaxSkew is how far a signed request's timestamp may be from the receiver's clock.
	MaxSkew = 5 * time.Minute
)

// Errors of VerifySigned.
var (
	// ErrBadSignature is a request without a valid signature of its body under the key.
	ErrBadSignature = errors.New("the request is not signed with the key")
	// ErrStale is a request rightly signed at a time more than MaxSkew from now.
	ErrStale = errors.New("the request was signed more than 5 minutes from now")
)

// Sign returns the signature of body signed at t under key.
func Sign(key []byte, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strconv.FormatInt(t.Unix(), 10) + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignRequest sets the signature headers of a request with body, signed now.
func SignRequest(h http.Header, key []byte, now time.Time, body []byte) {
	h.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	h.Set(SignatureHeader, Sign(key, now, body))
}

// VerifySigned checks a signed request's headers against its body and key, then its time
// against now: ErrBadSignature, or ErrStale (only for a request the key did sign). It returns
// the signature, which the receiver remembers until the time it returns, so that a replay is
// refused for as long as the timestamp would accept it.
func VerifySigned(h http.Header, key, body []byte, now time.Time) (signature string, until time.Time, err error) {
	given, err := hex.DecodeString(h.Get(SignatureHeader))
	seconds, perr := strconv.ParseInt(h.Get(TimestampHeader), 10, 64)
	// One spelling: lowercase hex, and the timestamp as Sign writes it.
	if err != nil || perr != nil || len(given) != sha256.Size || h.Get(SignatureHeader) != hex.EncodeToString(given) ||
		h.Get(TimestampHeader) != strconv.FormatInt(seconds, 10) {
		return "", time.Time{}, ErrBadSignature
	}
	signed := time.Unix(seconds, 0)
	want, _ := hex.DecodeString(Sign(key, signed, body))
	if !hmac.Equal(given, want) {
		return "", time.Time{}, ErrBadSignature
	}
	if d := now.Sub(signed); d > MaxSkew || d < -MaxSkew {
		return "", time.Time{}, ErrStale
	}
	return hex.EncodeToString(given), signed.Add(MaxSkew), nil
}
