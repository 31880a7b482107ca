package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// pageRoutes are the respondents' pages, as the server registers them.
var pageRoutes = []string{"GET /s/{token}", "POST /s/{token}", "POST /s/{token}/visible", "GET /o/{token}", "POST /o/{token}",
	"GET /f/{token}", "POST /f/{token}"}

// fill puts value in every wildcard of a pattern's path.
func fill(pattern, value string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	for {
		open := strings.IndexByte(path, '{')
		if open < 0 {
			return method, path
		}
		end := strings.IndexByte(path[open:], '}')
		path = path[:open] + value + path[open+end+1:]
	}
}

// Every route, pages and API, with each kind of bad input in its path, query and headers: the
// gate refuses them all with a 4xx before any handler runs, and both stores answer alike (on
// the code before the gate, PostgreSQL answered 503 where SQLite stored the bytes).
func TestEveryRoutePassesTheGate(t *testing.T) {
	answers := map[string]map[string]int{} // store → "route / input" → status
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		got := map[string]int{}
		var patterns []string
		for _, r := range responseapi.Routes {
			patterns = append(patterns, r.Pattern())
		}
		patterns = append(patterns, pageRoutes...)
		credential := http.Header{"Authorization": {"Bearer " + apiToken}}
		for _, pattern := range patterns {
			inputs := map[string]struct {
				value  string // in every path value
				query  string
				header http.Header
			}{
				"NUL in the path":                {value: "a%00b"},
				"invalid UTF-8 in the path":      {value: "a%FFb"},
				"a 10 KB identifier in the path": {value: strings.Repeat("x", 10<<10)},
				"a space in the path":            {value: "a%20b"},
				"NUL in the query":               {value: "ok", query: "?lang=%00"},
				"invalid UTF-8 in the query":     {value: "ok", query: "?lang=%FF%FE"},
				"invalid UTF-8 in a header":      {value: "ok", header: http.Header{"Accept-Language": {"cy\xff"}}},
			}
			for name, in := range inputs {
				method, path := fill(pattern, in.value)
				if path == strings.SplitN(pattern, " ", 2)[1] && in.query == "" && in.header == nil {
					continue // a route without path values: nothing to put in them
				}
				h := credential.Clone()
				for k, v := range in.header {
					h[k] = v
				}
				status, body := e.send(method, path+in.query, nil, h)
				if status < 400 || status >= 500 {
					t.Errorf("%s, %s: %d %s; want a 4xx", pattern, name, status, body)
				}
				got[pattern+" / "+name] = status
			}
		}
		answers[backend] = got
	})
	for k, v := range answers["sqlite"] {
		if p, ok := answers["postgres"][k]; ok && p != v {
			t.Errorf("%s: SQLite %d, PostgreSQL %d", k, v, p)
		}
	}
}

// Every JSON body the API takes is decoded strictly, on every route that takes one: an
// unknown field, a key in another case ("ID" for "id"), a lone surrogate, a NUL and invalid
// UTF-8 are refused with 400 on both stores, before any store call. Among them F2: a signed
// delivery receipt (with its "event") is no answer.
func TestEveryJSONBodyIsDecodedStrictly(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		wave := "/" + uid + "/20260401-0900"
		inv := `{"campaignUID":"` + uid + `","waveID":"20260401-0900","recipientKey":"T-9","round":0,"namespace":"riverside-homes","segment":"general-needs","channel":"email"}`
		mark := `{"campaignUID":"` + uid + `","waveID":"20260401-0900","recipientKey":"T-9","round":0,"state":"sent"}`
		link := e.linkBy("T-9", "sms", closes)
		bodies := map[string]struct{ path, body string }{
			responseapi.RouteFrame.Pattern():        {"/api/v1/waves" + wave + "/frame/0", `{"shards":1,"segments":[{"segment":"general-needs","population":3}]}`},
			responseapi.RouteReserve.Pattern():      {"/api/v1/ledger/reserve", `{"invitations":[` + inv + `]}`},
			responseapi.RouteMark.Pattern():         {"/api/v1/ledger/mark", mark},
			responseapi.RouteMarks.Pattern():        {"/api/v1/ledger/marks", `{"marks":[` + mark + `]}`},
			responseapi.RouteOptedOut.Pattern():     {"/api/v1/ledger/opted-out", `{"namespace":"riverside-homes","keys":["T-9"]}`},
			responseapi.RouteErase.Pattern():        {"/api/v1/namespaces/riverside-homes/erasures", `{"id":"T-404"}`},
			responseapi.RouteInbound.Pattern():      {"/api/v1/responses", `{"token":"` + link + `","channel":"sms","answers":{"tp01":"5"}}`},
			responseapi.RouteDelivery.Pattern():     {"/api/v1/deliveries", `{"token":"` + link + `","channel":"sms","event":"delivered"}`},
			responseapi.RoutePutRetention.Pattern(): {"/api/v1/campaigns/" + uid + "/retention", `{"namespace":"riverside-homes","responses":"8760h"}`},
		}
		for pattern, b := range bodies {
			method, _, _ := strings.Cut(pattern, " ")
			var probe map[string]any
			if err := json.Unmarshal([]byte(b.body), &probe); err != nil {
				t.Fatalf("%s: the valid body is not JSON: %v", pattern, err)
			}
			var firstKey string
			for k := range probe {
				firstKey = k
				break
			}
			bad := map[string]string{
				"an unknown field":        strings.Replace(b.body, "{", `{"unknownField":1,`, 1),
				"a key in another case":   strings.Replace(b.body, `"`+firstKey+`"`, `"`+strings.ToUpper(firstKey)+`"`, 1),
				"a lone surrogate":        strings.Replace(b.body, "riverside-homes", `river\ud800side`, 1),
				"a NUL":                   strings.Replace(b.body, "riverside-homes", `river\u0000side`, 1),
				"invalid UTF-8":           strings.Replace(b.body, "riverside-homes", "river\xffside", 1),
				"a control character":     strings.Replace(b.body, "riverside-homes", `river\u0001side`, 1),
				"a name over 253 bytes":   strings.Replace(b.body, "riverside-homes", strings.Repeat("r", 254), 1),
				"a receipt's event field": strings.Replace(b.body, "{", `{"event":"delivered",`, 1),
			}
			if strings.Contains(b.body, `"event"`) {
				delete(bad, "a receipt's event field")
			}
			for name, body := range bad {
				if body == b.body {
					continue // nothing to change in this body (no namespace in it)
				}
				h := http.Header{"Authorization": {"Bearer " + apiToken}, "Content-Type": {"application/json"}}
				responseapi.SignRequest(h, bytes.Repeat([]byte{9}, 32), time.Now(), []byte(body))
				status, answer := e.send(method, b.path, []byte(body), h)
				if status != http.StatusBadRequest {
					t.Errorf("%s, %s: %d %s; want 400", pattern, name, status, answer)
				}
			}
		}
		// And nothing was written, read back from the store: no invitation, outcome, frame,
		// response, retention or erasure.
		ctx := context.Background()
		sum, err := e.store.Summarize(ctx, uid, "20260401-0900", "tp01")
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Dispositions) > 0 || len(sum.Responded) > 0 || len(sum.Frame) > 0 {
			t.Errorf("refused bodies wrote to the store: invitations %v, responses %v, frame %v", sum.Dispositions, sum.Responded, sum.Frame)
		}
		if _, err := e.store.GetResponse(ctx, uid, "20260401-0900", "T-9"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused body stored a response (%v)", err)
		}
		if _, err := e.store.GetRetention(ctx, uid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused body registered a retention (%v)", err)
		}
		if log, err := e.store.Erasures(ctx, "riverside-homes"); err != nil || len(log) > 0 {
			t.Errorf("a refused body was logged as an erasure: %v %v", log, err)
		}
		// The read-back sees a write: the valid reservation is stored.
		h := http.Header{"Authorization": {"Bearer " + apiToken}, "Content-Type": {"application/json"}}
		if status, answer := e.send(http.MethodPost, "/api/v1/ledger/reserve", []byte(bodies[responseapi.RouteReserve.Pattern()].body), h); status != http.StatusOK {
			t.Fatalf("the valid reservation: %d %s", status, answer)
		}
		if sum, err := e.store.Summarize(ctx, uid, "20260401-0900", "tp01"); err != nil || len(sum.Dispositions) == 0 {
			t.Errorf("the valid reservation is not read back: %v %v", sum.Dispositions, err)
		}
	})
}

// A person's id may be up to 200 bytes (audience.MaxIDBytes), and their links work: the
// survey page, an answer, the opt-out page and a follow-up's case link, though their tokens are
// longer than other identifiers (the gate took at most 256 bytes for a token once, so an id of
// about 120 bytes made links that every page refused).
func TestLinksOfTheLongestIDsWork(t *testing.T) {
	e := newEnv(t)
	id := "T-" + strings.Repeat("9", 198)
	tok := e.link(id, closes)
	if len(tok) <= collector.MaxIDBytes {
		t.Fatalf("the token is %d bytes: not longer than an identifier", len(tok))
	}
	if resp, body := e.get("/s/" + tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("the survey page: %s %.200s", resp.Status, body)
	}
	if resp, _ := e.post("/s/"+tok, url.Values{"q.tp01": {"4"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the answer: %s", resp.Status)
	}
	if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", id); err != nil {
		t.Fatalf("the answer was not stored: %v", err)
	}
	if resp, body := e.get("/o/" + tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("the opt-out page: %s %.200s", resp.Status, body)
	}
	caseTok, err := e.keys.ForNamespace("riverside-homes").SignCase(token.Case{FollowUpUID: "5e1d0c2b-0000-4000-8000-0000000000f1",
		CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: id}, closes)
	if err != nil {
		t.Fatalf("a case link for the longest id: %v", err)
	}
	// No case is open for it: the page says the link is not known, not that it is malformed.
	if resp, _ := e.get("/f/" + caseTok); resp.StatusCode == http.StatusBadRequest {
		t.Errorf("the case link was refused by the gate: %s", resp.Status)
	}
}

// The body is bounded server-wide, before any handler reads it: a route that takes no body
// refuses one, and a multipart body is refused everywhere, so no parser spills it to memory or
// disk (F5: a GET of the survey page with a 40 MB field took 170 MiB, and a file part went to
// /tmp). The service's memory does not grow.
func TestBodiesAreBoundedServerWide(t *testing.T) {
	e := newEnv(t)
	link := e.link("T-1", closes)
	big := bytes.Repeat([]byte("a"), 40<<20)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for name, c := range map[string]struct {
		method, path, contentType string
		body                      []byte
		want                      int
	}{
		"a GET with a 40 MB multipart field": {http.MethodGet, "/s/" + link, "multipart/form-data; boundary=xyz",
			append(append([]byte("--xyz\r\nContent-Disposition: form-data; name=\"switch-lang\"\r\n\r\n"), big...), "\r\n--xyz--\r\n"...), http.StatusRequestEntityTooLarge},
		"a GET of the opt-out page with a body": {http.MethodGet, "/o/" + link, "application/x-www-form-urlencoded", big, http.StatusRequestEntityTooLarge},
		"a multipart answer":                    {http.MethodPost, "/s/" + link, "multipart/form-data; boundary=xyz", []byte("--xyz--\r\n"), http.StatusUnsupportedMediaType},
		"a 40 MB answer":                        {http.MethodPost, "/s/" + link, "application/x-www-form-urlencoded", big, http.StatusRequestEntityTooLarge},
		"a 300 MB file part":                    {http.MethodPost, "/api/v1/deliveries", "multipart/form-data; boundary=xyz", big, http.StatusRequestEntityTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			status, _ := e.send(c.method, c.path, c.body, http.Header{"Content-Type": {c.contentType}})
			if status != c.want {
				t.Errorf("%d, want %d", status, c.want)
			}
		})
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The test itself holds the 40 MB it sent; the server took none of it.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Errorf("the heap grew by %d MiB", grew>>20)
	}
	if entries, _ := os.ReadDir(os.TempDir()); len(entries) > 0 {
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), "multipart-") {
				t.Errorf("a multipart file part was written to %s", en.Name())
			}
		}
	}
}

// ValidID is the gate's identifier: what links, UIDs, wave ids and namespaces are made of.
func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"20260401-0900": true, "now-3fa2c1d0": true, uid: true, "riverside-homes": true, "T-1": true,
		"AZaz09-._~": true, strings.Repeat("x", collector.MaxIDBytes): true,
		"": false, strings.Repeat("x", collector.MaxIDBytes+1): false, "a b": false, "a\x00": false, "caf\xc3\xa9": false,
		"a/b": false, "a%00": false, "\xff": false,
	} {
		if got := collector.ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", fmt.Sprintf("%.20s", s), got, want)
		}
	}
}

// F2: a gateway's signed delivery receipt, replayed with the same headers and body as an
// answer, is refused (the answer route decodes strictly, and a receipt has an "event"); and a
// receipt's signature is remembered like every other, so the same receipt twice is a replay.
func TestAReceiptIsNeverAnAnswer(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		key := e.smsWave()
		body := []byte(`{"token":"` + e.linkBy("T-1", "sms", closes) + `","channel":"sms","event":"delivered"}`)
		h := http.Header{"Content-Type": {"application/json"}}
		responseapi.SignRequest(h, key, e.clock(), body)
		if status, answer := e.send(http.MethodPost, "/api/v1/deliveries", body, h); status != http.StatusOK {
			t.Fatalf("the receipt: %d %s", status, answer)
		}
		if status, answer := e.send(http.MethodPost, "/api/v1/responses", body, h); status != http.StatusBadRequest {
			t.Errorf("the receipt replayed as an answer: %d %s; want 400", status, answer)
		}
		if status, answer := e.send(http.MethodPost, "/api/v1/deliveries", body, h); status != http.StatusConflict {
			t.Errorf("the receipt replayed: %d %s; want 409", status, answer)
		}
		if _, err := e.store.GetResponse(t.Context(), uid, "20260401-0900", "T-1"); err == nil {
			t.Error("the receipt became a response")
		}
	})
}

// F3 and F4: what a mail server wrote passes the gate too. A mail report whose Status is not
// an enhanced status code (bytes invalid in UTF-8, 100,000 of them, words) still reports the
// bounce its Action says, and none of those bytes reach the store: the reason is "dsn-" alone,
// on both stores (before, PostgreSQL answered 503 and SQLite stored the raw bytes).
func TestAMailReportsStatusPassesTheGate(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		for name, status := range map[string]string{
			"bytes invalid in UTF-8": "5.\xff\xfe",
			"100,002 bytes":          "5.1." + strings.Repeat("1", 99_998),
			"words":                  "bounced, sorry",
		} {
			key := "T-" + strings.ReplaceAll(name, " ", "-")[:5]
			inv := store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: key},
				Namespace: "riverside-homes", Segment: "general-needs", Channel: "email"}
			if _, err := e.store.Reserve(t.Context(), []store.Invitation{inv}, e.clock()); err != nil {
				t.Fatal(err)
			}
			report := strings.Replace(string(mailReport(t, e.linkBy(key, "email", closes))), "Status: 5.1.1", "Status: "+status, 1)
			h := http.Header{"Authorization": {"Bearer " + apiToken}}
			if code, answer := e.send(http.MethodPost, "/api/v1/deliveries/mail", []byte(report), h); code != http.StatusOK {
				t.Errorf("%s: %d %s; want 200", name, code, answer)
			}
			rows, err := e.store.Reserve(t.Context(), []store.Invitation{inv}, e.clock())
			if err != nil || rows[0].State != store.StateBounced || rows[0].Reason != "dsn-" {
				t.Errorf("%s: stored %q %q, %v; want bounced with the reason dsn- alone", name, rows[0].State, rows[0].Reason, err)
			}
		}
	})
}

// Scheme v2 on the service: an answer signed for its own route is taken; the same body signed
// for another route (as a receipt would be) is not an answer, on both stores.
func TestSignaturesBindTheRoute(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		key := e.smsWave()
		for name, c := range map[string]struct {
			recipient, signedFor string
			want                 int
		}{
			"signed for /api/v1/responses":  {"T-1", "/api/v1/responses", http.StatusOK},
			"signed for /api/v1/deliveries": {"T-2", "/api/v1/deliveries", http.StatusUnauthorized},
		} {
			body := []byte(`{"token":"` + e.linkBy(c.recipient, "sms", closes) + `","channel":"sms","answers":{"tp01":"5"}}`)
			h := http.Header{"Content-Type": {"application/json"}}
			responseapi.SignRequestV2(h, key, e.clock(), http.MethodPost, c.signedFor, body)
			if status, answer := e.send(http.MethodPost, "/api/v1/responses", body, h); status != c.want {
				t.Errorf("%s: %d %s; want %d", name, status, answer, c.want)
			}
		}
	})
}

// Form fields pass the gate too: a survey form whose field's name or language switch holds a
// NUL, a control character or invalid UTF-8 is refused with 400 on both stores, and nothing is
// stored; an answer holding one is given back as a problem with that answer (422, the
// survey's reader), and nothing is stored either. The same answers in plain text are stored.
func TestFormFieldsPassTheGate(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		tok := e.link("T-000123-01", closes)
		good := url.Values{"q.tp01": {"4"}, "q.tp02": {"na"}, "q.visit": {"0"}, "q.comments": {"Quick and polite."}}
		forms := map[string]struct {
			form url.Values
			want int
		}{
			"NUL in a written answer":              {url.Values{"q.comments": {"Quick\x00 and polite."}}, http.StatusUnprocessableEntity},
			"a control character in an answer":     {url.Values{"q.comments": {"Quick\x1b[2J and polite."}}, http.StatusUnprocessableEntity},
			"invalid UTF-8 in a written answer":    {url.Values{"q.comments": {"caf\xff"}}, http.StatusUnprocessableEntity},
			"invalid UTF-8 in a choice":            {url.Values{"q.tp01": {"4\xfe"}}, http.StatusUnprocessableEntity},
			"an answer of 40 KB":                   {url.Values{"q.comments": {strings.Repeat("x", 40<<10)}}, http.StatusBadRequest},
			"NUL in a field's name":                {url.Values{"q.tp01\x00": {"4"}}, http.StatusBadRequest},
			"invalid UTF-8 in a field's name":      {url.Values{"x\xff": {"4"}}, http.StatusBadRequest},
			"invalid UTF-8 in the language switch": {url.Values{"switch-lang": {"cy\xff"}}, http.StatusBadRequest},
			"NUL in the language switch":           {url.Values{"switch-lang": {"cy\x00"}}, http.StatusBadRequest},
		}
		for name, bad := range forms {
			form := url.Values{}
			for k, v := range good {
				form[k] = v
			}
			for k, v := range bad.form {
				form[k] = v
			}
			resp, body := e.post("/s/"+tok, form)
			if resp.StatusCode != bad.want {
				t.Errorf("%s: %s, want %d: %.200s", name, resp.Status, bad.want, body)
			}
			if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-000123-01"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: the refused form was stored (%v)", name, err)
			}
		}
		resp, _ := e.post("/s/"+tok, good)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the same form in plain text: %s", resp.Status)
		}
		if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-000123-01"); err != nil {
			t.Fatalf("the plain form was not stored: %v", err)
		}
	})
}
