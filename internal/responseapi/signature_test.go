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
