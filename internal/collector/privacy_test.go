package collector_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// No respondent's text reaches the service's logs, even where a follow-up rule fails on it:
// CEL quotes the value it could not convert.
func TestNoAnswerInTheLogs(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		logs := &lockedBuffer{}
		e := newEnv(t, func(c *collector.Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		const comment = "Please call me on 07700 900123 or write to jo.bloggs@example.org"
		// A rule that fails on a written answer: timestamp() of a comment, whose error quotes it.
		e.api(http.MethodPut, responseapi.RoutePutFollowUp.Path("fu-1"), responseapi.FollowUpRegistration{Namespace: "riverside-homes",
			Name: "numbers", CampaignUID: uid, Trigger: "Response", When: "timestamp(response.answers.comments) > timestamp(\"2026-01-01T00:00:00Z\")", Active: true}, http.StatusOK, nil)

		if resp, body := e.post("/s/"+e.link("T-1", closes), url.Values{"q.tp01": {"2"}, "q.comments": {comment}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the page: %s %s", resp.Status, body)
		}
		smsKey := e.smsWave()
		e.inbound(responseapi.InboundResponse{Token: e.link("T-2", closes), Channel: "sms",
			Answers: map[string]string{"tp01": "1", "comments": comment}}, smsKey, http.StatusOK)

		out := logs.String()
		if !strings.Contains(out, "follow-up rule could not be evaluated") {
			t.Fatalf("the rule's failure was not logged at all:\n%s", out)
		}
		for _, personal := range []string{"07700", "900123", "jo.bloggs", "example.org", "Please call"} {
			if strings.Contains(out, personal) {
				t.Errorf("the logs hold %q of a respondent's answer:\n%s", personal, out)
			}
		}
	})
}

// Text that a store cannot keep or a page cannot show (invalid UTF-8, NUL, control characters)
// is refused as a problem with the answer, on the page and through a gateway, and nothing is
// stored; tabs and new lines are text.
func TestTextMustBeText(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		for name, text := range map[string]string{"NUL": "fine\x00", "invalid UTF-8": "caf\xe9", "escape": "a\x1b[31mred"} {
			resp, body := e.post("/s/"+e.link("T-"+name, closes), url.Values{"q.tp01": {"4"}, "q.comments": {text}})
			if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unusual characters") {
				t.Errorf("%s: %s", name, resp.Status)
			}
		}
		if resp, _ := e.post("/s/"+e.link("T-ok", closes), url.Values{"q.tp01": {"4"}, "q.comments": {"Two lines:\n\tindented"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("text with a tab and a new line: %s", resp.Status)
		}
	})
}

// A form that cannot be read is a bad request, not "too long".
func TestMalformedForm(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/s/"+e.link("T-1", closes), strings.NewReader("q.tp01=%zz"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("malformed form: %s, want 400", resp.Status)
		}
	})
}

// The ledger keeps identifiers: a campaign UID that is not a UUID, and keys that are not plain
// text, are refused before they reach a store.
func TestLedgerInputIsValidated(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		inv := func(mutate func(*responseapi.Invitation)) responseapi.ReserveRequest {
			in := responseapi.Invitation{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-1", Namespace: "riverside-homes",
				Segment: "general-needs", Channel: "sms"}
			mutate(&in)
			return responseapi.ReserveRequest{Invitations: []responseapi.Invitation{in}}
		}
		for name, body := range map[string]responseapi.ReserveRequest{
			"a campaign id that is not a UUID": inv(func(i *responseapi.Invitation) { i.CampaignUID = "tenant-satisfaction" }),
			"a key with a NUL":                 inv(func(i *responseapi.Invitation) { i.RecipientKey = "T-1\x00" }),
			"a segment with a new line":        inv(func(i *responseapi.Invitation) { i.Segment = "general\nneeds" }),
			"a key too long":                   inv(func(i *responseapi.Invitation) { i.RecipientKey = strings.Repeat("k", 254) }),
		} {
			t.Run(name, func(t *testing.T) {
				e.api(http.MethodPost, responseapi.RouteReserve.Path(), body, http.StatusBadRequest, nil)
			})
		}
		e.api(http.MethodPost, responseapi.RouteReserve.Path(), inv(func(*responseapi.Invitation) {}), http.StatusOK, nil)
		// Invalid UTF-8 in the raw body (a JSON encoder would have replaced it).
		raw := `{"invitations":[{"campaignUID":"` + uid + `","waveID":"w","recipientKey":"T-` + "\xff" + `","namespace":"n","segment":"s","channel":"sms"}]}`
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+responseapi.RouteReserve.Path(), strings.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a body that is not UTF-8: %s, want 400", resp.Status)
		}
		e.api(http.MethodPost, responseapi.RouteMarks.Path(), responseapi.Marks{Marks: []responseapi.Mark{{CampaignUID: "not-a-uuid",
			WaveID: "20260401-0900", RecipientKey: "T-1", State: "sent"}}}, http.StatusBadRequest, nil)

		// The keys of the sender's queries are names: one that is not is refused, named, before
		// the store is asked (it would find nothing, and say nothing was wrong).
		since := time.Now().Add(-time.Hour)
		for name, key := range map[string]string{"a key of 254 bytes": strings.Repeat("k", 254), "a key with a tab": "T-1\tT-2", "an empty key": ""} {
			t.Run(name, func(t *testing.T) {
				keys := []string{"T-1", key}
				for _, q := range []struct {
					route responseapi.Route
					body  any
				}{
					{responseapi.RouteOptedOut, responseapi.KeysRequest{Namespace: "riverside-homes", Keys: keys}},
					{responseapi.RouteSuppressed, responseapi.KeysRequest{Namespace: "riverside-homes", Keys: keys}},
					{responseapi.RouteContacted, responseapi.KeysRequest{Namespace: "riverside-homes", Keys: keys, Since: since}},
					{responseapi.RouteUnanswered, responseapi.UnansweredRequest{CampaignUID: uid, WaveID: "20260401-0900", Keys: keys}},
				} {
					var refusal responseapi.ErrorBody
					e.api(http.MethodPost, q.route.Path(), q.body, http.StatusBadRequest, &refusal)
					if !strings.Contains(refusal.Error, "keys") {
						t.Errorf("%s: the refusal does not name the keys: %q", q.route.Path(), refusal.Error)
					}
				}
			})
		}
		var refusal responseapi.ErrorBody
		e.api(http.MethodPost, responseapi.RouteErase.Path("riverside-homes"), responseapi.ErasureRequest{ID: "T-1\tT-2"}, http.StatusBadRequest, &refusal)
		if !strings.HasPrefix(refusal.Error, "id: ") {
			t.Errorf("an erasure of an id that is not one: the refusal does not name it: %q", refusal.Error)
		}
	})
}
