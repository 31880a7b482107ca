package responseapi_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

func TestSignedRequests(t *testing.T) {
	key, other := []byte("the channel's hmac key"), []byte("another key")
	body := []byte(`{"token":"t","channel":"sms","answers":{"tp01":"5"}}`)
	now := time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)
	signed := func(at time.Time) http.Header {
		h := http.Header{}
		responseapi.SignRequest(h, key, at, body)
		return h
	}
	with := func(h http.Header, name, value string) http.Header {
		h = h.Clone()
		h.Set(name, value)
		return h
	}
	good := signed(now)
	for name, c := range map[string]struct {
		header http.Header
		body   []byte
		want   error
	}{
		"signed now":                     {good, body, nil},
		"signed 5 minutes ago":           {signed(now.Add(-responseapi.MaxSkew)), body, nil},
		"signed 5 minutes ahead":         {signed(now.Add(responseapi.MaxSkew)), body, nil},
		"signed 5 minutes and 1 s ago":   {signed(now.Add(-responseapi.MaxSkew - time.Second)), body, responseapi.ErrStale},
		"signed 5 minutes and 1 s ahead": {signed(now.Add(responseapi.MaxSkew + time.Second)), body, responseapi.ErrStale},
		"another body":                   {good, append([]byte(" "), body...), responseapi.ErrBadSignature},
		"another key":                    {with(good, responseapi.SignatureHeader, responseapi.Sign(other, now, body)), body, responseapi.ErrBadSignature},
		// The timestamp is signed: moving it breaks the signature.
		"another timestamp": {with(good, responseapi.TimestampHeader, strconv.FormatInt(now.Unix()+1, 10)), body, responseapi.ErrBadSignature},
		"no timestamp":      {with(good, responseapi.TimestampHeader, ""), body, responseapi.ErrBadSignature},
		"no signature":      {with(good, responseapi.SignatureHeader, ""), body, responseapi.ErrBadSignature},
		// One spelling of each header.
		"upper-case hex":        {with(good, responseapi.SignatureHeader, strings.ToUpper(good.Get(responseapi.SignatureHeader))), body, responseapi.ErrBadSignature},
		"a plus sign":           {with(good, responseapi.TimestampHeader, "+"+good.Get(responseapi.TimestampHeader)), body, responseapi.ErrBadSignature},
		"a leading zero":        {with(good, responseapi.TimestampHeader, "0"+good.Get(responseapi.TimestampHeader)), body, responseapi.ErrBadSignature},
		"a truncated signature": {with(good, responseapi.SignatureHeader, good.Get(responseapi.SignatureHeader)[:32]), body, responseapi.ErrBadSignature},
	} {
		signature, until, err := responseapi.VerifySigned(c.header, key, c.body, now)
		if !errors.Is(err, c.want) || (c.want != nil) != (err != nil) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
			continue
		}
		if err == nil {
			at, _ := strconv.ParseInt(c.header.Get(responseapi.TimestampHeader), 10, 64)
			if signature != c.header.Get(responseapi.SignatureHeader) || !until.Equal(time.Unix(at, 0).Add(responseapi.MaxSkew)) {
				t.Errorf("%s: remembered %q until %s", name, signature, until)
			}
		}
	}
}

// Scheme v2 binds the signature to the route: a request signed for POST /api/v1/deliveries is
// refused on POST /api/v1/responses, and with another method; v1 is accepted until
// responseapi.SchemeV1Until and refused after it; a v2 signature has one spelling.
func TestSignatureV2BindsTheRoute(t *testing.T) {
	key := []byte("gateway-signing-key")
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"token":"t","channel":"sms","event":"delivered"}`)
	v2 := http.Header{}
	responseapi.SignRequestV2(v2, key, now, http.MethodPost, "/api/v1/deliveries", body)
	v1 := http.Header{}
	responseapi.SignRequest(v1, key, now, body)
	upper := v2.Clone()
	upper.Set(responseapi.SignatureHeader, "v2="+strings.ToUpper(strings.TrimPrefix(v2.Get(responseapi.SignatureHeader), "v2=")))
	for name, c := range map[string]struct {
		h            http.Header
		method, path string
		now          time.Time
		want         error
	}{
		"v2 on its route":              {v2, http.MethodPost, "/api/v1/deliveries", now, nil},
		"v2 on another route":          {v2, http.MethodPost, "/api/v1/responses", now, responseapi.ErrBadSignature},
		"v2 with another method":       {v2, http.MethodPut, "/api/v1/deliveries", now, responseapi.ErrBadSignature},
		"v2 in capitals":               {upper, http.MethodPost, "/api/v1/deliveries", now, responseapi.ErrBadSignature},
		"v2, six minutes later":        {v2, http.MethodPost, "/api/v1/deliveries", now.Add(6 * time.Minute), responseapi.ErrStale},
		"v1 before its removal":        {v1, http.MethodPost, "/api/v1/responses", now, nil},
		"v1 after its removal":         {v1, http.MethodPost, "/api/v1/responses", responseapi.SchemeV1Until.Add(time.Second), responseapi.ErrBadSignature},
		"v2 after v1's removal":        {v2, http.MethodPost, "/api/v1/deliveries", responseapi.SchemeV1Until.Add(time.Second), responseapi.ErrStale},
		"v2 under another key's route": {v2, http.MethodPost, "/api/v1/cases/resolve", now, responseapi.ErrBadSignature},
	} {
		sig, until, err := responseapi.VerifySignedRoute(c.h, key, c.method, c.path, body, c.now)
		if !errors.Is(err, c.want) || (err == nil) != (sig != "") || (err == nil && !until.Equal(now.Add(responseapi.MaxSkew))) {
			t.Errorf("%s: %q, %v, %v; want %v", name, sig, until, err, c.want)
		}
	}
}
