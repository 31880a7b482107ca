package collector_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
)

const (
	uid      = "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f"
	apiToken = "test-api-token-0123456789"
)

var (
	opens  = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	closes = opens.Add(21 * 24 * time.Hour)
)

type env struct {
	t   *testing.T
	srv *httptest.Server
	// metrics serves the metrics port.
	metrics *httptest.Server
	store   store.Store
	server  *collector.Server
	keys    *token.KeyRing
	mu      sync.Mutex
	now     time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) setNow(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

func definition() survey.Definition {
	return campaign.Definition(&v1alpha1.Survey{
		Title: "Riverside Homes tenant survey",
		Intro: "It takes five minutes.",
		Questions: []v1alpha1.Question{
			{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Required: true,
				Text: "Taking everything into account, how satisfied or dissatisfied are you with the service provided by Riverside Homes?"},
			{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied or dissatisfied are you with the repairs service?", NotApplicable: "No repair in the last 12 months"},
			{ID: "visit", Kind: v1alpha1.QuestionChoice, Text: "Was your last repair done at the first visit?", Choices: []string{"Yes", "No"}},
			{ID: "comments", Kind: v1alpha1.QuestionText, Text: "Is there anything else you would like to tell us?"},
		},
	})
}

// newEnv starts a response service on SQLite with a registered wave; options change its
// configuration.
// backend is the store newEnv opens: "sqlite", or "postgres" inside bothStores.
var backend = "sqlite"

// bothStores runs a test on SQLite, then on PostgreSQL: what the service refuses or keeps must
// not depend on the store behind it.
func bothStores(t *testing.T, test func(t *testing.T)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			backend = b
			defer func() { backend = "sqlite" }()
			test(t)
		})
	}
}

func newEnv(t *testing.T, options ...func(*collector.Config)) *env {
	t.Helper()
	url, _, _ := database(t, backend)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := token.NewKeyRing(token.Key{ID: "2026-01", Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, keys: keys, now: opens.Add(time.Hour)}
	cfg := collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte(apiToken), Now: e.clock}
	for _, o := range options {
		o(&cfg)
	}
	s, err := collector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.server = s
	e.srv = httptest.NewServer(s.Handler())
	t.Cleanup(e.srv.Close)
	e.metrics = httptest.NewServer(s.MetricsHandler())
	t.Cleanup(e.metrics.Close)
	e.api(http.MethodPut, "/api/v1/waves/"+uid+"/20260401-0900", responseapi.WaveRegistration{
		Namespace: "riverside-homes", Campaign: "tenant-satisfaction", Definition: definition(), OpensAt: opens, ClosesAt: closes,
	}, http.StatusOK, nil)
	return e
}

// scrape reads the service's metrics.
func (e *env) scrape() string {
	e.t.Helper()
	resp, err := http.Get(e.metrics.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

func (e *env) link(recipient string, expiry time.Time) string {
	return e.linkBy(recipient, "sms", expiry)
}

// linkBy is a link sent through a channel.
// smsWave registers the test wave again with an SMS channel, and returns the channel's key.
func (e *env) smsWave() []byte {
	e.t.Helper()
	smsKey := bytes.Repeat([]byte{9}, 32)
	e.api(http.MethodPut, responseapi.RoutePutWave.Path(uid, "20260401-0900"), responseapi.WaveRegistration{
		Namespace: "riverside-homes", Campaign: "tenant-satisfaction", Definition: definition(), OpensAt: opens, ClosesAt: closes,
		ChannelKeys: map[string][]byte{"sms": smsKey}}, http.StatusOK, nil)
	return smsKey
}

// send makes a request with the headers given and answers the status and the body.
func (e *env) send(method, path string, body []byte, header http.Header) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// linkBy signs a link as a sending Job in the campaign's namespace does.
func (e *env) linkBy(recipient, channel string, expiry time.Time) string {
	tok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "20260401-0900",
		Recipient: recipient, Segment: "general-needs", Channel: channel, Expiry: expiry})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	resp, err := noRedirect.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (e *env) post(path string, form url.Values, header ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (e *env) api(method, path string, body any, want int, out any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

func mustContain(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("page lacks %q", p)
		}
	}
}

func TestSurveyPage(t *testing.T) {
	e := newEnv(t)
	tok := e.link("T-000123-01", closes)
	resp, body := e.get("/s/" + tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s\n%s", resp.Status, body)
	}
	mustContain(t, body,
		`<html lang="en" dir="ltr">`, `<meta name="viewport"`,
		`<h1>Riverside Homes tenant survey</h1>`,
		`<fieldset id="q-tp01">`, `<legend><span class="number">1.</span> Taking everything into account`,
		`(required)`,
		`<input type="radio" name="q.tp01" id="q-tp01-0" value="1"> <span>Very dissatisfied</span>`,
		`value="5"> <span>Very satisfied</span>`,
		`value="na"> <span>No repair in the last 12 months</span>`,
		`value="1"> <span>No</span>`,
		`<label for="q-comments" class="text-question">`, `<textarea id="q-comments" name="q.comments"`,
		`href="/o/`+tok+`?lang=en"`, `<button type="submit">Send my answers</button>`)
	h := resp.Header
	for k, v := range map[string]string{
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "<script") {
		t.Error("the page loads something from elsewhere or runs a script")
	}
	css, _ := e.get("/static/survey.css")
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %s %s", css.Status, css.Header.Get("Content-Type"))
	}
}

func TestSubmissions(t *testing.T) {
	e := newEnv(t)
	tok := e.link("T-000123-01", closes)

	// A bad submission: the required question is missing and a value is off the scale. The form
	// comes back with what was given and the problems named beside the questions.
	resp, body := e.post("/s/"+tok, url.Values{"q.tp02": {"9"}, "q.visit": {"1"}, "q.comments": {"Repairs <b>take</b> too long."}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad submission: %s", resp.Status)
	}
	mustContain(t, body, `<title>Error: Riverside Homes tenant survey</title>`,
		`There are 2 problems with your answers`, `<a href="#q-tp01-0">Question 1: Please answer this question.</a>`,
		`<p class="error" id="error-tp01"><span class="visually-hidden">Error:</span> Please answer this question.</p>`,
		`<fieldset id="q-tp01" aria-describedby="error-tp01">`,
		`id="error-tp02"`, `Please choose one of the answers shown.`,
		`id="q-visit-1" value="1" checked>`,
		`Repairs &lt;b&gt;take&lt;/b&gt; too long.</textarea>`)
	if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-000123-01"); err == nil {
		t.Fatal("a refused submission was stored")
	}

	// A good one: stored, then acknowledged by a redirect to the thank-you page.
	resp, _ = e.post("/s/"+tok, url.Values{"q.tp01": {"4"}, "q.tp02": {"na"}, "q.visit": {"0"}, "q.comments": {"Quick and polite."}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/s/"+tok+"?saved=1&lang=en" {
		t.Fatalf("good submission: %s -> %s", resp.Status, resp.Header.Get("Location"))
	}
	r, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-000123-01")
	if err != nil || !r.Complete || r.Segment != "general-needs" || r.Channel != "sms" || len(r.Answers) != 4 {
		t.Fatalf("stored: %+v, %v", r, err)
	}
	_, body = e.get("/s/" + tok + "?saved=1")
	mustContain(t, body, "Thank you", "You can change them on this page until Wednesday 22 April 2026",
		`id="q-tp01-3" value="4" checked>`, `id="q-tp02-na" value="na" checked>`, `Quick and polite.</textarea>`,
		"Save my changes")

	// A second submission updates the answers; it never counts twice.
	e.setNow(opens.Add(48 * time.Hour))
	resp, _ = e.post("/s/"+tok, url.Values{"q.tp01": {"2"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %s", resp.Status)
	}
	var sum responseapi.Summary
	e.api(http.MethodGet, "/api/v1/waves/"+uid+"/20260401-0900/summary?primary=tp01", nil, http.StatusOK, &sum)
	if len(sum.Responded) != 1 || sum.Responded[0].Count != 1 {
		t.Errorf("responded = %+v, want one response", sum.Responded)
	}
	if len(sum.Histograms) != 1 || *sum.Histograms[0].Value != 2 {
		t.Errorf("histograms = %+v, want the updated answer only", sum.Histograms)
	}

	// After the window: a polite refusal, and the stored answers stay.
	e.setNow(closes)
	resp, body = e.post("/s/"+tok, url.Values{"q.tp01": {"1"}})
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("after close: %s", resp.Status)
	}
	mustContain(t, body, "This survey has closed", "closed on Wednesday 22 April 2026")
	if r, _ := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-000123-01"); len(r.Answers) != 1 || *r.Answers[0].Value != 2 {
		t.Errorf("answers changed after close: %+v", r.Answers)
	}
}

func TestRefusedLinks(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		good := e.link("T-1", closes)
		other, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: bytes.Repeat([]byte{8}, 32)})
		forged, _ := other.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "20260401-0900", Recipient: "T-1", Expiry: closes})
		unregistered, _ := e.keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "20990101-0000", Recipient: "T-1", Expiry: closes})
		resolve, _ := e.keys.Sign(token.Claims{Purpose: token.PurposeResolve, CampaignUID: uid, Wave: "20260401-0900", Recipient: "case-1", Expiry: closes})
		// Made-up claims (F1): a wave id of invalid UTF-8 and a NUL, which Sign would not write.
		// They are checked before they find a key, and refused like any forgery, not as bad
		// input.
		madeUp := madeUpLink(t, other, "\xff\x00b")

		var first string
		for name, tok := range map[string]string{
			"forged": forged, "truncated": good[:len(good)-3], "garbage": "hello", "unregistered wave": unregistered, "other purpose": resolve,
			"made-up claims": madeUp,
		} {
			resp, body := e.get("/s/" + tok)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s", name, resp.Status)
			}
			mustContain(t, body, "This link does not work")
			body = strings.ReplaceAll(body, tok, "")
			if first == "" {
				first = body
			} else if body != first {
				t.Errorf("%s: the refusal differs from another, telling which check failed", name)
			}
			if resp, _ := e.post("/s/"+tok, url.Values{"q.tp01": {"5"}}); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: POST %s", name, resp.Status)
			}
		}
		resp, body := e.get("/s/" + e.link("T-1", opens.Add(30*time.Minute)))
		if resp.StatusCode != http.StatusGone {
			t.Errorf("expired link: %s", resp.Status)
		}
		mustContain(t, body, "This survey has closed", "closed on Wednesday 1 April 2026")
	})
}

func TestFormLimitsAndCrossOrigin(t *testing.T) {
	e := newEnv(t)
	tok := e.link("T-1", closes)
	resp, _ := e.post("/s/"+tok, url.Values{"q.tp01": {"4"}, "q.comments": {strings.Repeat("x", 70<<10)}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB form: %s", resp.Status)
	}
	resp, _ = e.post("/s/"+tok, url.Values{"q.tp01": {"4"}}, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site post: %s", resp.Status)
	}
	if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-1"); err == nil {
		t.Error("a refused post was stored")
	}
}

func TestOptOut(t *testing.T) {
	e := newEnv(t)
	tok := e.link("T-7", closes)
	resp, body := e.get("/o/" + tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opt-out page: %s", resp.Status)
	}
	mustContain(t, body, "Stop receiving surveys", `<button type="submit">Stop sending me surveys</button>`)
	// One-click unsubscribe from a mail client (RFC 8058), with an expired link.
	e.setNow(closes.Add(24 * time.Hour))
	resp, body = e.post("/o/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opt out: %s", resp.Status)
	}
	mustContain(t, body, "You will not receive any more surveys")
	var out responseapi.KeysResponse
	e.api(http.MethodPost, "/api/v1/ledger/opted-out", responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{"T-7", "T-8"}}, http.StatusOK, &out)
	if len(out.Keys) != 1 || out.Keys[0] != "T-7" {
		t.Errorf("opted out = %v", out.Keys)
	}
	if resp, _ := e.get("/o/forged"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("forged opt-out: %s", resp.Status)
	}
}

// (Every route's authorization is tested in routes_test.go.)
func TestAPIs(t *testing.T) {
	e := newEnv(t)

	// The snapshot is fixed for the wave's life.
	changed := definition()
	changed.Title = "Edited"
	e.api(http.MethodPut, "/api/v1/waves/"+uid+"/20260401-0900", responseapi.WaveRegistration{
		Namespace: "riverside-homes", Campaign: "tenant-satisfaction", Definition: changed, OpensAt: opens, ClosesAt: closes,
	}, http.StatusConflict, nil)
	e.api(http.MethodPut, "/api/v1/waves/"+uid+"/w2", map[string]any{"namespace": "x", "campaign": "y", "definitionn": 1}, http.StatusBadRequest, nil)
	e.api(http.MethodPut, "/api/v1/waves/"+uid+"/w2", responseapi.WaveRegistration{Namespace: "x", Campaign: "y", Definition: definition(), OpensAt: closes, ClosesAt: opens}, http.StatusBadRequest, nil)

	// The ledger: reserve, mark, reserve again (a retried sender), contacted.
	inv := responseapi.Invitation{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", Namespace: "riverside-homes", Segment: "general-needs", Channel: "sms"}
	var reserved responseapi.ReserveRequest
	e.api(http.MethodPost, "/api/v1/ledger/reserve", responseapi.ReserveRequest{Invitations: []responseapi.Invitation{inv}}, http.StatusOK, &reserved)
	if len(reserved.Invitations) != 1 || reserved.Invitations[0].State != "reserved" {
		t.Fatalf("reserved = %+v", reserved)
	}
	e.api(http.MethodPost, "/api/v1/ledger/mark", responseapi.Mark{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", State: "sent"}, http.StatusOK, nil)
	e.api(http.MethodPost, "/api/v1/ledger/mark", responseapi.Mark{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-2", State: "sent"}, http.StatusNotFound, nil)
	e.api(http.MethodPost, "/api/v1/ledger/mark", responseapi.Mark{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", State: "delivered"}, http.StatusBadRequest, nil)
	e.api(http.MethodPost, "/api/v1/ledger/reserve", responseapi.ReserveRequest{Invitations: []responseapi.Invitation{inv}}, http.StatusOK, &reserved)
	if reserved.Invitations[0].State != "sent" || reserved.Invitations[0].SentAt == nil {
		t.Errorf("re-reserved = %+v", reserved.Invitations[0])
	}
	bad := inv
	bad.Segment = ""
	e.api(http.MethodPost, "/api/v1/ledger/reserve", responseapi.ReserveRequest{Invitations: []responseapi.Invitation{bad}}, http.StatusBadRequest, nil)
	var contacted responseapi.KeysResponse
	e.api(http.MethodPost, "/api/v1/ledger/contacted", responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{"T-1", "T-2"}, Since: opens}, http.StatusOK, &contacted)
	if len(contacted.Keys) != 1 || contacted.Keys[0] != "T-1" {
		t.Errorf("contacted = %v", contacted.Keys)
	}
	e.api(http.MethodPost, "/api/v1/ledger/contacted", responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{"T-1"}}, http.StatusBadRequest, nil)

	// The summary after one response.
	tok := e.link("T-1", closes)
	if resp, _ := e.post("/s/"+tok, url.Values{"q.tp01": {"5"}, "q.tp02": {"4"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit: %s", resp.Status)
	}
	var sum responseapi.Summary
	e.api(http.MethodGet, "/api/v1/waves/"+uid+"/20260401-0900/summary?primary=tp01", nil, http.StatusOK, &sum)
	if len(sum.Dispositions) != 1 || sum.Dispositions[0].Complete != 1 || sum.Pairs["tp02"].N != 1 || sum.Pairs["tp02"].SumXY != 20 {
		t.Errorf("summary = %+v", sum)
	}

	// Metrics count results by route pattern, never by token, on their own port: the public
	// one, which respondents reach from the internet, does not serve them.
	resp, err := http.Get(e.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	mustContain(t, metrics, `survey_collector_responses_total{result="created"} 1`, `route="POST /s/{token}"`)
	if resp, body := e.get("/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "survey_collector") {
		t.Errorf("the public port serves /metrics: %s", resp.Status)
	}
	if strings.Contains(metrics, tok) || strings.Contains(metrics, "T-1") {
		t.Error("metrics carry a token or a recipient key")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := e.get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", p, resp.Status)
		}
	}
}

// signedPost posts body as JSON to path, signed with key as gateways and helpdesks sign (no
// signature when key is nil).
func (e *env) signedPost(path string, body any, key []byte) *http.Response {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(raw))
	if key != nil {
		responseapi.SignRequest(req.Header, key, e.clock(), raw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) inbound(body any, key []byte, want int) map[string]any {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	resp := e.signedPost("/api/v1/responses", body, key)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		e.t.Fatalf("inbound %s: %s %v, want %d", raw, resp.Status, out, want)
	}
	return out
}

// Answers arriving from an SMS gateway: signed with the channel's key, merged answer by answer.
func TestInboundResponses(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		smsKey := e.smsWave()
		tok := e.link("T-sms", closes)

		out := e.inbound(responseapi.InboundResponse{Token: tok, Channel: "sms", Answers: map[string]string{"tp02": "3"}}, smsKey, http.StatusOK)
		if out["complete"] != false {
			t.Errorf("one optional answer made the response complete: %v", out)
		}
		out = e.inbound(responseapi.InboundResponse{Token: tok, Channel: "sms", Answers: map[string]string{"tp01": "5"}}, smsKey, http.StatusOK)
		if out["complete"] != true {
			t.Errorf("answering the required question did not complete it: %v", out)
		}
		r, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-sms")
		if err != nil || len(r.Answers) != 2 || !r.Complete || r.Channel != "sms" {
			t.Fatalf("stored %+v, %v; want both answers merged", r, err)
		}

		// Refusals: each the same to the caller.
		other := e.link("T-other", closes)
		for name, c := range map[string]struct {
			body any
			key  []byte
		}{
			"no signature":    {responseapi.InboundResponse{Token: other, Channel: "sms", Answers: map[string]string{"tp01": "1"}}, nil},
			"wrong key":       {responseapi.InboundResponse{Token: other, Channel: "sms", Answers: map[string]string{"tp01": "1"}}, bytes.Repeat([]byte{1}, 32)},
			"unknown channel": {responseapi.InboundResponse{Token: other, Channel: "whatsapp", Answers: map[string]string{"tp01": "1"}}, smsKey},
			"forged token":    {responseapi.InboundResponse{Token: other[:len(other)-2] + "AA", Channel: "sms", Answers: map[string]string{"tp01": "1"}}, smsKey},
			// An email invitation's link, posted by the SMS gateway: it would be counted under SMS.
			"another channel's link": {responseapi.InboundResponse{Token: e.linkBy("T-other", "email", closes), Channel: "sms",
				Answers: map[string]string{"tp01": "1"}}, smsKey},
		} {
			out := e.inbound(c.body, c.key, http.StatusUnauthorized)
			if out["error"] != "not authenticated" {
				t.Errorf("%s: %v", name, out)
			}
		}
		if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-other"); err == nil {
			t.Error("a refused inbound response was stored")
		}
		out = e.inbound(responseapi.InboundResponse{Token: other, Channel: "sms", Answers: map[string]string{"tp01": "7", "tp99": "1"}}, smsKey, http.StatusUnprocessableEntity)
		problems, _ := out["problems"].(map[string]any)
		if problems["tp01"] == nil || problems["tp99"] == nil {
			t.Errorf("problems = %v", out)
		}
		e.inbound(map[string]any{"token": other}, smsKey, http.StatusBadRequest)
		e.setNow(closes)
		e.inbound(responseapi.InboundResponse{Token: other, Channel: "sms", Answers: map[string]string{"tp01": "4"}}, smsKey, http.StatusGone)
	})
}

// A gateway's signed request is taken once, and only while its timestamp is fresh: a captured
// request replayed later cannot overwrite newer answers.
func TestSignedRequestsAreFreshAndTakenOnce(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		smsKey := e.smsWave()
		tok := e.link("T-sms", closes)
		post := func(body []byte, header http.Header) (int, string) {
			t.Helper()
			return e.send(http.MethodPost, "/api/v1/responses", body, header)
		}
		signedAt := func(answer string, at time.Time) ([]byte, http.Header) {
			body, _ := json.Marshal(responseapi.InboundResponse{Token: tok, Channel: "sms", Answers: map[string]string{"tp01": answer}})
			h := http.Header{}
			responseapi.SignRequest(h, smsKey, at, body)
			return body, h
		}
		first, firstHeader := signedAt("3", e.clock())
		if code, msg := post(first, firstHeader); code != http.StatusOK {
			t.Fatalf("first answer: %d %s", code, msg)
		}
		e.setNow(e.clock().Add(time.Minute))
		second, secondHeader := signedAt("5", e.clock())
		if code, msg := post(second, secondHeader); code != http.StatusOK {
			t.Fatalf("the corrected answer: %d %s", code, msg)
		}
		// The first request, captured and sent again within its five minutes.
		if code, msg := post(first, firstHeader); code != http.StatusConflict || !strings.Contains(msg, "already received") {
			t.Errorf("a replay: %d %s, want 409", code, msg)
		}
		// Once its five minutes are past, its timestamp refuses it.
		e.setNow(e.clock().Add(5 * time.Minute))
		if code, msg := post(first, firstHeader); code != http.StatusUnauthorized || !strings.Contains(msg, "5 minutes") {
			t.Errorf("a replay after 5 minutes: %d %s, want 401", code, msg)
		}
		r, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-sms")
		if err != nil || len(r.Answers) != 1 || *r.Answers[0].Value != 5 {
			t.Fatalf("stored %+v, %v; want the corrected answer 5", r, err)
		}
		// A gateway whose clock is off: refused, and told so, since it holds the key.
		for _, off := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
			body, h := signedAt("4", e.clock().Add(off))
			if code, msg := post(body, h); code != http.StatusUnauthorized || !strings.Contains(msg, "clock") {
				t.Errorf("signed %s from now: %d %s, want 401 naming the clock", off, code, msg)
			}
		}
		// Without the key, a stale request is only "not authenticated".
		body, h := signedAt("4", e.clock().Add(-time.Hour))
		h.Set(responseapi.SignatureHeader, responseapi.Sign([]byte("guess"), e.clock().Add(-time.Hour), body))
		if code, msg := post(body, h); code != http.StatusUnauthorized || strings.Contains(msg, "clock") {
			t.Errorf("a forged stale request: %d %s, want a bare 401", code, msg)
		}
	})
}

// A link is verified with the keys of its campaign's namespace: the keys another namespace's
// sending Jobs hold cannot sign for it, on any route a link opens.
func TestLinksAreVerifiedWithTheirNamespacesKeys(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		smsKey := e.smsWave()
		for name, c := range map[string]struct {
			ring *token.KeyRing
			ok   bool
		}{
			"its namespace's keys": {e.keys.ForNamespace("riverside-homes"), true},
			// Links sent before keys were per namespace; only the operator's namespace holds these.
			"the master keys":                  {e.keys, true},
			"another namespace's keys":         {e.keys.ForNamespace("lakeside"), false},
			"a namespace's keys derived again": {e.keys.ForNamespace("riverside-homes").ForNamespace("riverside-homes"), false},
		} {
			recipient := "T-" + strings.ReplaceAll(name, " ", "-")
			tok, err := c.ring.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "20260401-0900",
				Recipient: recipient, Segment: "general-needs", Channel: "sms", Expiry: closes})
			if err != nil {
				t.Fatal(err)
			}
			page, refused := http.StatusOK, http.StatusNotFound
			for _, path := range []string{"/s/", "/o/"} {
				if resp, _ := e.get(path + tok); (resp.StatusCode == page) != c.ok || (!c.ok && resp.StatusCode != refused) {
					t.Errorf("%s: GET %s: %s", name, path, resp.Status)
				}
			}
			want := http.StatusUnauthorized
			if c.ok {
				want = http.StatusOK
			}
			e.inbound(responseapi.InboundResponse{Token: tok, Channel: "sms", Answers: map[string]string{"tp01": "4"}}, smsKey, want)
			if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", recipient); (err == nil) != c.ok {
				t.Errorf("%s: stored: %v", name, err == nil)
			}
		}
	})
}

// A gateway forwarding a stop word opts the person out; its delivery receipts mark a bounced
// invitation as not delivered (and not reminded), and leave a deferred one to the next reminder.
func TestGatewayStopWordsAndDeliveries(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		smsKey := e.smsWave()
		var invs []store.Invitation
		for _, who := range []string{"T-stop", "T-talk", "T-bounce", "T-defer"} {
			invs = append(invs, store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: who},
				Namespace: "riverside-homes", Segment: "general-needs", Channel: "sms"})
		}
		if _, err := e.store.Reserve(context.Background(), invs, opens); err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if err := e.store.Mark(context.Background(), inv.InvitationKey, store.StateSent, "", opens); err != nil {
				t.Fatal(err)
			}
		}

		out := e.inbound(responseapi.InboundResponse{Token: e.link("T-stop", closes), Channel: "sms", Reply: " Stop\n"}, smsKey, http.StatusOK)
		if out["optedOut"] != true || out["saved"] != false {
			t.Errorf("a stop word: %v", out)
		}
		out = e.inbound(responseapi.InboundResponse{Token: e.link("T-talk", closes), Channel: "sms", Reply: "4 - stop calling me about the boiler",
			Answers: map[string]string{"tp01": "4"}}, smsKey, http.StatusOK)
		if out["optedOut"] == true || out["saved"] != true {
			t.Errorf("a reply that only contains the word: %v", out)
		}
		// The equivalents in the languages the operator ships count too, in any case.
		for who, reply := range map[string]string{"T-stopio": "stopio", "T-wedi": "Dad-danysgrifio", "T-ilgha": "إلغاء الاشتراك"} {
			if out := e.inbound(responseapi.InboundResponse{Token: e.link(who, closes), Channel: "sms", Reply: reply}, smsKey, http.StatusOK); out["optedOut"] != true {
				t.Errorf("%q: %v", reply, out)
			}
		}
		opted, err := e.store.OptedOut(context.Background(), "riverside-homes", []string{"T-stop", "T-talk", "T-stopio", "T-wedi", "T-ilgha"})
		if err != nil || !opted["T-stop"] || opted["T-talk"] || len(opted) != 4 {
			t.Errorf("opted out: %v, %v", opted, err)
		}
		if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-stop"); err == nil {
			t.Error("a stop word was stored as a response")
		}

		deliver := func(who, channel, event string, key []byte) int {
			resp := e.signedPost("/api/v1/deliveries", responseapi.DeliveryEvent{Token: e.linkBy(who, "sms", closes), Channel: channel, Event: event}, key)
			resp.Body.Close()
			return resp.StatusCode
		}
		for name, c := range map[string]struct {
			who, channel, event string
			key                 []byte
			want                int
		}{
			"bounced":          {"T-bounce", "sms", "bounced", smsKey, http.StatusOK},
			"deferred":         {"T-defer", "sms", "deferred", smsKey, http.StatusOK},
			"delivered":        {"T-talk", "sms", "delivered", smsKey, http.StatusOK},
			"an unknown event": {"T-defer", "sms", "lost", smsKey, http.StatusBadRequest},
			"unsigned":         {"T-defer", "sms", "bounced", nil, http.StatusUnauthorized},
			"another channel":  {"T-defer", "email", "bounced", smsKey, http.StatusUnauthorized},
		} {
			if got := deliver(c.who, c.channel, c.event, c.key); got != c.want {
				t.Errorf("%s: %d, want %d", name, got, c.want)
			}
		}
		due, err := e.store.Unanswered(context.Background(), uid, "20260401-0900", []string{"T-bounce", "T-defer"})
		if err != nil || due["T-bounce"] || !due["T-defer"] {
			t.Errorf("due a reminder: %v, %v; want the deferred one only", due, err)
		}

		// A mail server's delivery status notification, as a mail relay forwards it.
		report := func(body []byte) (int, string) {
			return e.send(http.MethodPost, "/api/v1/deliveries/mail", body, http.Header{"Authorization": {"Bearer " + apiToken}})
		}
		if code, msg := report(mailReport(t, e.linkBy("T-defer", "sms", closes))); code != http.StatusOK || !strings.Contains(msg, `"bounced"`) {
			t.Errorf("a bounce report: %d %s", code, msg)
		}
		delayed, err := os.ReadFile("../dsn/testdata/exim-delayed.eml")
		if err != nil {
			t.Fatal(err)
		}
		if code, msg := report([]byte(strings.ReplaceAll(string(delayed), "{{TOKEN}}", e.linkBy("T-talk", "sms", closes)))); code != http.StatusOK || !strings.Contains(msg, `"deferred"`) {
			t.Errorf("a delay report: %d %s", code, msg)
		}
		for name, c := range map[string]struct {
			body []byte
			want int
		}{
			"not a report":     {[]byte("From: a@example.org\nSubject: hi\n\nhello\n"), http.StatusBadRequest},
			"a forged link":    {mailReport(t, strings.Repeat("A", 90)), http.StatusUnprocessableEntity},
			"no link returned": {mailReport(t, ""), http.StatusUnprocessableEntity},
		} {
			if code, msg := report(c.body); code != c.want {
				t.Errorf("%s: %d %s, want %d", name, code, msg, c.want)
			}
		}
		due, err = e.store.Unanswered(context.Background(), uid, "20260401-0900", []string{"T-defer"})
		if err != nil || due["T-defer"] {
			t.Errorf("after its bounce report, T-defer is still due a reminder: %v, %v", due, err)
		}
		sum, err := e.store.Summarize(context.Background(), uid, "20260401-0900", "")
		if err != nil {
			t.Fatal(err)
		}
		d := sum.Dispositions[store.Group{Segment: "general-needs", Channel: "sms"}]
		if d.NonContact != 2 || d.Refusal != 1 || d.Complete != 1 || d.NoAnswer != 0 {
			t.Errorf("dispositions %+v: want the two bounces non-contacts, the stop a refusal, one complete", d)
		}
	})
}

// madeUpLink is a link token whose claims name wave (which Sign would refuse), signed with
// keys that are not the service's: the bytes of a signed token's wave id, replaced.
func madeUpLink(t *testing.T, keys *token.KeyRing, wave string) string {
	t.Helper()
	placeholder := strings.Repeat("W", len(wave))
	tok, err := keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: placeholder, Recipient: "T-1", Expiry: closes})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || bytes.Count(raw, []byte(placeholder)) != 1 {
		t.Fatalf("the token's wave id is not where it was expected: %v", err)
	}
	raw = bytes.Replace(raw, []byte(placeholder), []byte(wave), 1)
	made := base64.RawURLEncoding.EncodeToString(raw)
	if c, err := token.Peek(made); err != nil || c.Wave != wave {
		t.Fatalf("the made-up token does not claim the wave: %+v %v", c, err)
	}
	return made
}
