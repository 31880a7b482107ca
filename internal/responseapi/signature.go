package responseapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
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

// Scheme v2 binds a signature to the route as well: what is signed is "v2", the timestamp,
// the method and the path, each followed by a line feed, then the body:
//
//	HMAC-SHA256(key, "v2\n1764450000\nPOST\n/api/v1/responses\n" + body)
//
// and the signature header reads "v2=" and the lowercase hex. A request signed for one route
// (a delivery receipt) can then never be taken for another (an answer). Scheme v1 (the
// timestamp and body only, a bare hex signature) is accepted until SchemeV1Until, on the same
// routes, and refused after it; docs/security.md says so.
const schemeV2 = "v2="

// SchemeV1Until is the last day scheme v1 signatures are accepted on the service's routes.
var SchemeV1Until = time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)

// SignV2 returns the v2 signature (without its "v2=") of a request to method and path with
// body, signed at t under key.
func SignV2(key []byte, t time.Time, method, path string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("v2\n" + strconv.FormatInt(t.Unix(), 10) + "\n" + method + "\n" + path + "\n"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignRequestV2 sets the v2 signature headers of a request to method and path with body,
// signed now.
func SignRequestV2(h http.Header, key []byte, now time.Time, method, path string, body []byte) {
	h.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	h.Set(SignatureHeader, schemeV2+SignV2(key, now, method, path, body))
}

// VerifySignedRoute checks a signed request to method and path: a v2 signature, bound to the
// route; or, until SchemeV1Until, a v1 signature (VerifySigned). The errors and the returned
// signature and time are VerifySigned's.
func VerifySignedRoute(h http.Header, key []byte, method, path string, body []byte, now time.Time) (signature string, until time.Time, err error) {
	value, ok := strings.CutPrefix(h.Get(SignatureHeader), schemeV2)
	if !ok {
		if now.After(SchemeV1Until) {
			return "", time.Time{}, ErrBadSignature
		}
		return VerifySigned(h, key, body, now)
	}
	given, err := hex.DecodeString(value)
	seconds, perr := strconv.ParseInt(h.Get(TimestampHeader), 10, 64)
	if err != nil || perr != nil || len(given) != sha256.Size || value != hex.EncodeToString(given) ||
		h.Get(TimestampHeader) != strconv.FormatInt(seconds, 10) {
		return "", time.Time{}, ErrBadSignature
	}
	signed := time.Unix(seconds, 0)
	want, _ := hex.DecodeString(SignV2(key, signed, method, path, body))
	if !hmac.Equal(given, want) {
		return "", time.Time{}, ErrBadSignature
	}
	if d := now.Sub(signed); d > MaxSkew || d < -MaxSkew {
		return "", time.Time{}, ErrStale
	}
	return schemeV2 + value, signed.Add(MaxSkew), nil
}
