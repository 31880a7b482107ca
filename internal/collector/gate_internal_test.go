package collector

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// The gate's layers each hold on their own: the route check (gate), the body bound (gated), the
// accessors (pathID, queryValue, headerValue, parseForm) and the strict decoder. The HTTP
// tables (gate_test.go) go through all of them at once, where one layer covers for another;
// these test each alone, so that a hole in one is seen even while the others hold.

func request(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.SetPathValue("campaign", "0f8fad5b-d9cb-469f-a165-70867728950e")
	r.SetPathValue("wave", "20260401-0900")
	return r
}

// gate, alone: what each route may receive.
func TestGateRefusesEachInput(t *testing.T) {
	get := newGateRoute("GET /api/v1/waves/{campaign}/{wave}/summary", 0)
	post := newGateRoute("POST /api/v1/waves/{campaign}/{wave}", 64)
	page := newGateRoute("GET /s/{token}", 0)
	for name, tc := range map[string]struct {
		rt     gateRoute
		req    func() *http.Request
		status int
	}{
		"a valid GET":  {get, func() *http.Request { return request("GET", "/x?primary=tp01", nil) }, 0},
		"a valid POST": {post, func() *http.Request { return request("POST", "/x", strings.NewReader(`{"a":1}`)) }, 0},
		"a path value with a NUL": {get, func() *http.Request {
			r := request("GET", "/x", nil)
			r.SetPathValue("wave", "a\x00b")
			return r
		}, 400},
		"a path value of 254 bytes": {get, func() *http.Request {
			r := request("GET", "/x", nil)
			r.SetPathValue("wave", strings.Repeat("w", MaxIDBytes+1))
			return r
		}, 400},
		"a path value with a slash": {get, func() *http.Request {
			r := request("GET", "/x", nil)
			r.SetPathValue("campaign", "a/b")
			return r
		}, 400},
		"a link token at its bound": {page, func() *http.Request {
			r := request("GET", "/x", nil)
			r.SetPathValue("token", strings.Repeat("t", token.MaxLength))
			return r
		}, 0},
		"a link token over its bound": {page, func() *http.Request {
			r := request("GET", "/x", nil)
			r.SetPathValue("token", strings.Repeat("t", token.MaxLength+1))
			return r
		}, 400},
		"a query value with a control character": {get, func() *http.Request { return request("GET", "/x?primary=%01", nil) }, 400},
		"a query name with invalid UTF-8":        {get, func() *http.Request { return request("GET", "/x?%FF=1", nil) }, 400},
		"a query value over 1 KiB": {get, func() *http.Request {
			return request("GET", "/x?primary="+strings.Repeat("a", maxQueryValue+1), nil)
		}, 400},
		"too many query parameters": {get, func() *http.Request {
			q := url.Values{}
			for i := range maxQueryValues + 1 {
				q.Set(strings.Repeat("k", i+1), "v")
			}
			return request("GET", "/x?"+q.Encode(), nil)
		}, 400},
		"a header with a NUL": {get, func() *http.Request {
			r := request("GET", "/x", nil)
			r.Header.Set("X-Thing", "a\x00b")
			return r
		}, 400},
		"a header over 8 KiB": {get, func() *http.Request {
			r := request("GET", "/x", nil)
			r.Header.Set("X-Thing", strings.Repeat("h", maxHeaderValue+1))
			return r
		}, 400},
		"a multipart body": {post, func() *http.Request {
			r := request("POST", "/x", strings.NewReader("--b--"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			return r
		}, 415},
		"an unparseable content type": {post, func() *http.Request {
			r := request("POST", "/x", strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json; charset")
			return r
		}, 415},
		"a body at the bound": {post, func() *http.Request { return request("POST", "/x", strings.NewReader(strings.Repeat("a", 64))) }, 0},
		"a body over the bound": {post, func() *http.Request {
			return request("POST", "/x", strings.NewReader(strings.Repeat("a", 65)))
		}, 413},
		"a body on GET": {get, func() *http.Request { return request("GET", "/x", strings.NewReader("a")) }, 413},
		"a chunked body on GET": {get, func() *http.Request {
			r := request("GET", "/x", strings.NewReader("a"))
			r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
			return r
		}, 413},
	} {
		t.Run(name, func(t *testing.T) {
			if status, msg := gate(tc.rt, tc.req()); status != tc.status {
				t.Errorf("%d %q, want %d", status, msg, tc.status)
			}
		})
	}
}

// gated, alone: a body of unknown length (chunked) is cut at the route's bound however the
// handler reads it.
func TestGatedBoundsABodyOfUnknownLength(t *testing.T) {
	s := &Server{}
	for name, tc := range map[string]struct {
		route    gateRoute
		body     string
		wantRead int
		tooLarge bool
	}{
		"within the bound":   {newGateRoute("POST /api/v1/x", 64), strings.Repeat("a", 64), 64, false},
		"over the bound":     {newGateRoute("POST /api/v1/x", 64), strings.Repeat("a", 65), 64, true},
		"a route of no body": {newGateRoute("DELETE /api/v1/x", 0), "a", 0, true},
	} {
		t.Run(name, func(t *testing.T) {
			var read int
			var err error
			h := s.gated(tc.route, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				var b []byte
				b, err = io.ReadAll(r.Body)
				read = len(b)
			}))
			method, _, _ := strings.Cut(tc.route.pattern, " ")
			r := httptest.NewRequest(method, "/api/v1/x", strings.NewReader(tc.body))
			r.ContentLength = -1 // as a chunked request arrives: the gate cannot refuse it by its length
			h.ServeHTTP(httptest.NewRecorder(), r)
			var tooLarge *http.MaxBytesError
			if read > tc.wantRead || errors.As(err, &tooLarge) != tc.tooLarge {
				t.Errorf("read %d bytes (at most %d), error %v", read, tc.wantRead, err)
			}
		})
	}
}

// The accessors, alone, on a request that did not pass the gate: each gives only what passes.
func TestAccessorsCheckAgain(t *testing.T) {
	r := request("GET", "/x?primary=%01&lang=cy&long="+strings.Repeat("a", maxQueryValue+1), nil)
	r.SetPathValue("wave", "a\x00b")
	r.SetPathValue("token", strings.Repeat("t", token.MaxLength+1))
	r.SetPathValue("uid", strings.Repeat("u", MaxIDBytes))
	r.Header.Set("X-Bad", "a\x01b")
	r.Header.Set("X-Long", strings.Repeat("h", maxHeaderValue+1))
	r.Header.Set("X-Good", "café")
	for name, tc := range map[string]struct{ got, want string }{
		"a path value with a NUL":   {pathID(r, "wave"), ""},
		"its name for the store":    {pathName(r, "wave").String(), ""},
		"a token over its bound":    {pathID(r, "token"), ""},
		"an id at its bound":        {pathID(r, "uid"), strings.Repeat("u", MaxIDBytes)},
		"a valid id":                {pathID(r, "campaign"), "0f8fad5b-d9cb-469f-a165-70867728950e"},
		"a valid id, for the store": {pathName(r, "campaign").String(), "0f8fad5b-d9cb-469f-a165-70867728950e"},
		"a query value with a C0":   {queryValue(r, "primary"), ""},
		"a query value over 1 KiB":  {queryValue(r, "long"), ""},
		"a valid query value":       {queryValue(r, "lang"), "cy"},
		"a header with a C0":        {headerValue(r, "X-Bad"), ""},
		"a header over 8 KiB":       {headerValue(r, "X-Long"), ""},
		"a valid header":            {headerValue(r, "X-Good"), "café"},
		"a name the service made":   {nameOf("riverside-homes").String(), "riverside-homes"},
		"a name that is not one":    {nameOf("a\tb").String(), ""},
		"a text the service made":   {textOf("dsn-5.1.1").String(), "dsn-5.1.1"},
		"a text that is not one":    {textOf("a\x00").String(), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", name, tc.got, tc.want)
		}
	}
}

// parseForm, alone: nothing is read on GET, and a field that is not plain text loses the whole
// form.
func TestParseFormAlone(t *testing.T) {
	form := func(method, body string) *http.Request {
		r := httptest.NewRequest(method, "/s/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	r := form(http.MethodGet, "lang=cy")
	if err := parseForm(r); err != nil || formValue(r, "lang") != "" || r.PostForm != nil {
		t.Errorf("GET: %v, %q, %v: a form is read on POST only", err, formValue(r, "lang"), r.PostForm)
	}
	r = form(http.MethodPost, "lang=cy&q.tp01=5")
	if err := parseForm(r); err != nil || formValue(r, "lang") != "cy" || formValue(r, "q.tp01") != "5" {
		t.Errorf("POST: %v, %v", err, r.PostForm)
	}
	for name, body := range map[string]string{
		"a name with a NUL":                     "la%00ng=cy",
		"a value with a C0":                     "lang=c%01y",
		"invalid UTF-8":                         "lang=%FF",
		"an answer over the bound":              "q.tp03=" + strings.Repeat("a", maxFormValue+1),
		"a non-answer over a bound":             "lang=" + strings.Repeat("a", maxFormValue+1),
		"a malformed escape after a good field": "lang=cy&q.tp01=%zz",
	} {
		r := form(http.MethodPost, body)
		if err := parseForm(r); err == nil || len(r.PostForm) != 0 {
			t.Errorf("%s: %v, kept %d fields", name, err, len(r.PostForm))
		}
	}
	// An answer with a control character passes here: the survey's reader refuses it with
	// the question named, so the respondent keeps their other answers.
	r = form(http.MethodPost, "q.tp03=a%01b&lang=cy")
	if err := parseForm(r); err != nil || formValue(r, "q.tp03") != "a\x01b" {
		t.Errorf("an answer's text is the survey's to check: %v", err)
	}
}

// decodeStrict, alone.
func TestDecodeStrictAlone(t *testing.T) {
	type item struct {
		ID string `json:"id"`
	}
	type body struct {
		Name  string          `json:"name"`
		Items []item          `json:"items"`
		ByKey map[string]item `json:"byKey"`
	}
	for name, tc := range map[string]struct {
		in string
		ok bool
	}{
		"valid":                            {`{"name":"a","items":[{"id":"1"}],"byKey":{"k":{"id":"2"}}}`, true},
		"a surrogate pair":                 {`{"name":"\ud83d\ude00"}`, true},
		"an escaped quote then \\u0000":    {`{"name":"\"\\u0000"}`, true}, // an escaped backslash: the text \u0000, no NUL
		"an unknown field":                 {`{"name":"a","other":1}`, false},
		"a key in another case":            {`{"Name":"a"}`, false},
		"a list's key in another case":     {`{"items":[{"ID":"1"}]}`, false},
		"a map value's key in another":     {`{"byKey":{"k":{"Id":"2"}}}`, false},
		"an unknown field in a list":       {`{"items":[{"id":"1","x":2}]}`, false},
		"a second value":                   {`{"name":"a"} {"name":"b"}`, false},
		"a NUL escape":                     {`{"name":"a\u0000"}`, false},
		"a lone low surrogate":             {`{"name":"\udc00"}`, false},
		"a high surrogate alone":           {`{"name":"\ud800"}`, false},
		"a high surrogate, then a non-low": {`{"name":"\ud800\u0041"}`, false},
		"invalid UTF-8":                    {"{\"name\":\"caf\xff\"}", false},
		"a malformed escape":               {`{"name":"\uZZZZ"}`, false},
	} {
		var v body
		if err := decodeStrict([]byte(tc.in), &v); (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// verify, alone: a token's unverified claims are checked before they are used to find its key,
// and a made-up one is refused as any forgery is (token.ErrInvalid), not as bad input from the
// store, which is never asked.
func TestVerifyChecksClaimsBeforeTheStore(t *testing.T) {
	keys, err := token.NewKeyRing(token.Key{ID: "k", Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Wave: "WWWW", Recipient: "T-1", Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// A store that fails the test if it is asked anything.
	s := &Server{cfg: Config{Keys: func() *token.KeyRing { return keys }}, store: gated.NewStore(askNothing{t: t})}
	s.namespaces.max = maxNamespaces
	for _, wave := range []string{"\xff\x00 b", "a bc"} { // not UTF-8 and a NUL; a name, not an identifier
		madeUp := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte("WWWW"), []byte(wave), 1))
		if c, err := token.Peek(madeUp); err != nil || c.Wave != wave {
			t.Fatalf("the made-up token: %+v %v", c, err)
		}
		if _, err := s.verify(context.Background(), madeUp, time.Now()); !errors.Is(err, token.ErrInvalid) || store.IsBadInput(err) {
			t.Errorf("made-up claims (wave %q): %v, want token.ErrInvalid", wave, err)
		}
	}
}

// askNothing is a store that fails its test when any method is called (the embedded nil
// interface would panic: this says which).
type askNothing struct {
	store.Store
	t *testing.T
}

func (a askNothing) GetWave(context.Context, string, string) (store.Wave, error) {
	a.t.Error("the store was asked for a wave")
	return store.Wave{}, store.ErrNotFound
}
