package collector_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// Every route, called with every kind of credential, for the right namespace and a wrong one:
// exactly the manager's master token, and a sender's or a reader's credential for the data's
// own namespace where the route admits its kind, pass; every other credential is refused, 401
// when it proves nothing, 403 when it is for another kind or namespace.
func TestEveryRouteChecksTheCredentialsScope(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t) // a wave of campaign uid in riverside-homes
		const other = "7a2d3c4e-5f60-4718-9a0b-1c2d3e4f5a6b"
		e.api(http.MethodPut, "/api/v1/waves/"+other+"/20260401-0900", responseapi.WaveRegistration{
			Namespace: "lakeside", Campaign: "resident-pulse", Definition: definition(), OpensAt: opens, ClosesAt: closes,
		}, http.StatusOK, nil)
		for uidFU, reg := range map[string]responseapi.FollowUpRegistration{
			"fu-riverside": {Namespace: "riverside-homes", Name: "dissatisfied", CampaignUID: uid, Trigger: "Response", When: "response.answers.tp01 <= 2", Active: true},
			"fu-lakeside":  {Namespace: "lakeside", Name: "dissatisfied", CampaignUID: other, Trigger: "Response", When: "response.answers.tp01 <= 2", Active: true},
		} {
			e.api(http.MethodPut, "/api/v1/followups/"+uidFU, reg, http.StatusOK, nil)
		}

		master := []byte(apiToken)
		credentials := map[string]string{
			"manager":          apiToken,
			"sender, own":      apitoken.Credential(master, apitoken.Sender, "riverside-homes"),
			"sender, other":    apitoken.Credential(master, apitoken.Sender, "lakeside"),
			"reader, own":      apitoken.Credential(master, apitoken.Reader, "riverside-homes"),
			"reader, other":    apitoken.Credential(master, apitoken.Reader, "lakeside"),
			"exporter, own":    apitoken.Credential(master, apitoken.Exporter, "riverside-homes"),
			"eraser, own":      apitoken.Credential(master, apitoken.Eraser, "riverside-homes"),
			"eraser, other":    apitoken.Credential(master, apitoken.Eraser, "lakeside"),
			"events, own":      apitoken.Credential(master, apitoken.Events, "riverside-homes"),
			"events, other":    apitoken.Credential(master, apitoken.Events, "lakeside"),
			"exporter, other":  apitoken.Credential(master, apitoken.Exporter, "lakeside"),
			"forged sender":    apitoken.Credential([]byte("a guessed master token 0123"), apitoken.Sender, "riverside-homes"),
			"manager kind":     strings.Replace(apitoken.Credential(master, apitoken.Sender, "riverside-homes"), "sender", "manager", 1),
			"renamed":          strings.Replace(apitoken.Credential(master, apitoken.Sender, "lakeside"), "lakeside", "riverside-homes", 1),
			"reader as sender": strings.Replace(apitoken.Credential(master, apitoken.Reader, "riverside-homes"), "reader", "sender", 1),
		}
		wave := "/" + uid + "/20260401-0900"
		inv := map[string]any{"campaignUID": uid, "waveID": "20260401-0900", "recipientKey": "T-9", "round": 0,
			"namespace": "riverside-homes", "segment": "general-needs", "channel": "email"}
		mark := map[string]any{"campaignUID": uid, "waveID": "20260401-0900", "recipientKey": "T-9", "round": 0, "state": "sent"}
		since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// Each route's call on riverside-homes' data.
		calls := map[string]struct {
			path string
			body any
		}{
			responseapi.RoutePutWave.Pattern(): {"/api/v1/waves" + wave, responseapi.WaveRegistration{Namespace: "riverside-homes",
				Campaign: "tenant-satisfaction", Definition: definition(), OpensAt: opens, ClosesAt: closes}},
			responseapi.RouteSummary.Pattern():   {"/api/v1/waves" + wave + "/summary", nil},
			responseapi.RouteExport.Pattern():    {"/api/v1/waves" + wave + "/export", nil},
			responseapi.RouteFrame.Pattern():     {"/api/v1/waves" + wave + "/frame/0", map[string]any{"shards": 1, "segments": []any{}}},
			responseapi.RouteReserve.Pattern():   {"/api/v1/ledger/reserve", map[string]any{"invitations": []any{inv}}},
			responseapi.RouteMark.Pattern():      {"/api/v1/ledger/mark", mark},
			responseapi.RouteMarks.Pattern():     {"/api/v1/ledger/marks", map[string]any{"marks": []any{mark}}},
			responseapi.RouteContacted.Pattern(): {"/api/v1/ledger/contacted", map[string]any{"namespace": "riverside-homes", "keys": []string{"T-9"}, "since": since}},
			responseapi.RouteUnanswered.Pattern(): {"/api/v1/ledger/unanswered", map[string]any{"campaignUID": uid, "waveID": "20260401-0900",
				"keys": []string{"T-9"}}},
			responseapi.RouteOptedOut.Pattern():   {"/api/v1/ledger/opted-out", map[string]any{"namespace": "riverside-homes", "keys": []string{"T-9"}}},
			responseapi.RouteSuppressed.Pattern(): {"/api/v1/ledger/suppressed", map[string]any{"namespace": "riverside-homes", "keys": []string{"T-9"}}},
			responseapi.RoutePutFollowUp.Pattern(): {"/api/v1/followups/fu-riverside", responseapi.FollowUpRegistration{Namespace: "riverside-homes",
				Name: "dissatisfied", CampaignUID: uid, Trigger: "Response", When: "response.answers.tp01 <= 2", Active: true}},
			responseapi.RouteDeleteFollowUp.Pattern(): {"/api/v1/followups/fu-gone", nil},
			responseapi.RouteErase.Pattern():          {"/api/v1/namespaces/riverside-homes/erasures", responseapi.ErasureRequest{ID: "T-404"}},
			responseapi.RouteEvents.Pattern(): {"/api/v1/namespaces/riverside-homes/events", map[string]any{"specversion": "1.0", "id": "R-1",
				"source": "https://repairs.example/jobs", "type": "repair.completed", "data": map[string]string{"tenancy": "T-9"}}},
			responseapi.RoutePutTouchPoints.Pattern(): {"/api/v1/campaigns/" + uid + "/touchpoints", responseapi.TouchPointsRegistration{
				Namespace: "riverside-homes", Campaign: "post-repair", Delay: "0s", MaxAge: "72h", Events: []responseapi.EventType{{Type: "repair.completed"}}}},
			responseapi.RouteDueTouchPoints.Pattern(): {"/api/v1/namespaces/riverside-homes/touchpoints/" + uid + "/due", nil},
			responseapi.RouteDueEvents.Pattern():      {"/api/v1/namespaces/riverside-homes/touchpoints/" + uid + "/events", nil},
			responseapi.RouteDecide.Pattern(): {"/api/v1/namespaces/riverside-homes/touchpoints/" + uid + "/decisions", map[string]any{
				"decisions": []any{map[string]any{"source": "https://repairs.example/jobs", "id": "R-1", "outcome": "no-segment", "due": since}}}},
			responseapi.RouteEventPeople.Pattern(): {"/api/v1/namespaces/riverside-homes/touchpoints/" + uid + "/people",
				map[string]any{"namespace": "riverside-homes", "keys": []string{"T-9"}}},
			responseapi.RouteWavePeople.Pattern(): {"/api/v1/namespaces/riverside-homes/touchpoints/" + uid + "/waves/tp-20260401/people?after=T-1", nil},
			responseapi.RoutePutRetention.Pattern(): {"/api/v1/campaigns/" + uid + "/retention", responseapi.RetentionRegistration{
				Namespace: "riverside-homes", Responses: "8760h"}},
			responseapi.RouteSweepFollowUp.Pattern():  {"/api/v1/followups/fu-riverside/sweep", nil},
			responseapi.RouteFollowUpStats.Pattern():  {"/api/v1/followups/fu-riverside/stats", nil},
			responseapi.RouteCases.Pattern():          {"/api/v1/followups/fu-riverside/cases", nil},
			responseapi.RouteCasesContacted.Pattern(): {"/api/v1/followups/fu-riverside/contacted", map[string]any{"cases": []any{}}},
			responseapi.RouteMailReport.Pattern():     {"/api/v1/deliveries/mail", mailReport(t, e.linkBy("T-9", "email", closes))},
		}
		// Besides the manager, who may call each route: what senders, readers and exporters need, no more.
		admits := map[string]string{
			responseapi.RoutePutWave.Pattern():        "",
			responseapi.RouteSummary.Pattern():        "reader",
			responseapi.RouteExport.Pattern():         "exporter",
			responseapi.RouteFrame.Pattern():          "sender",
			responseapi.RouteReserve.Pattern():        "sender",
			responseapi.RouteMark.Pattern():           "sender",
			responseapi.RouteMarks.Pattern():          "sender",
			responseapi.RouteContacted.Pattern():      "sender",
			responseapi.RouteUnanswered.Pattern():     "sender",
			responseapi.RouteOptedOut.Pattern():       "sender",
			responseapi.RouteSuppressed.Pattern():     "sender",
			responseapi.RoutePutFollowUp.Pattern():    "",
			responseapi.RouteDeleteFollowUp.Pattern(): "",
			responseapi.RoutePutRetention.Pattern():   "",
			responseapi.RoutePutTouchPoints.Pattern(): "",
			responseapi.RouteDueTouchPoints.Pattern(): "sender",
			responseapi.RouteDueEvents.Pattern():      "sender",
			responseapi.RouteDecide.Pattern():         "sender",
			responseapi.RouteEventPeople.Pattern():    "sender",
			responseapi.RouteWavePeople.Pattern():     "sender",
			responseapi.RouteErase.Pattern():          "eraser",
			responseapi.RouteEvents.Pattern():         "events",
			responseapi.RouteSweepFollowUp.Pattern():  "",
			responseapi.RouteFollowUpStats.Pattern():  "reader",
			responseapi.RouteCases.Pattern():          "sender",
			responseapi.RouteCasesContacted.Pattern(): "sender",
			responseapi.RouteMailReport.Pattern():     "sender",
		}
		call := func(route responseapi.Route, credential string) (int, string) {
			c := calls[route.Pattern()]
			body, raw := c.body.([]byte)
			if !raw && c.body != nil {
				body, _ = json.Marshal(c.body)
			}
			h := http.Header{"Authorization": {"Bearer " + credential}}
			if route.Pattern() == responseapi.RouteEvents.Pattern() {
				h.Set("Content-Type", "application/cloudevents+json")
			}
			return e.send(route.Method, c.path, body, h)
		}
		for _, route := range responseapi.Routes {
			if route.Auth != responseapi.Bearer {
				continue
			}
			if _, ok := calls[route.Pattern()]; !ok {
				t.Errorf("%s: no call in the table", route.Pattern())
				continue
			}
			for name, credential := range credentials {
				want := http.StatusForbidden
				switch name {
				case "manager":
					want = http.StatusOK
				case "sender, own":
					if admits[route.Pattern()] == "sender" {
						want = http.StatusOK
					}
				case "reader, own":
					if admits[route.Pattern()] == "reader" {
						want = http.StatusOK
					}
				case "exporter, own":
					if admits[route.Pattern()] == "exporter" {
						want = http.StatusOK
					}
				case "eraser, own":
					if admits[route.Pattern()] == "eraser" {
						want = http.StatusOK
					}
				case "events, own":
					if admits[route.Pattern()] == "events" {
						want = http.StatusOK
					}
				case "forged sender", "manager kind", "renamed", "reader as sender":
					want = http.StatusUnauthorized
				}
				got, msg := call(route, credential)
				if got != want && (want != http.StatusOK || got/100 != 2) {
					t.Errorf("%s with %s: %d %s, want %d", route.Pattern(), name, got, strings.TrimSpace(msg), want)
				}
			}
		}
		// A sender cannot write ledger rows of its own wave under another namespace, where they
		// would count as that namespace's recent contacts.
		calls[responseapi.RouteReserve.Pattern()] = struct {
			path string
			body any
		}{"/api/v1/ledger/reserve", map[string]any{"invitations": []any{inv, map[string]any{"campaignUID": uid, "waveID": "20260401-0900",
			"recipientKey": "T-10", "round": 0, "namespace": "lakeside", "segment": "general-needs", "channel": "email"}}}}
		if got, msg := call(responseapi.RouteReserve, credentials["sender, own"]); got != http.StatusForbidden {
			t.Errorf("a sender reserving under another namespace: %d %s, want 403", got, msg)
		}
	})
}

// mailReport is a mail server's report that the message with a link bounced.
func mailReport(t *testing.T, link string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../dsn/testdata/postfix-hard.eml")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(raw), "{{TOKEN}}", link))
}

// A sender's batch names a wave on each row: every row's wave must be of the sender's
// namespace, not only the first. A batch whose later row is another namespace's wave is 403,
// and nothing of it reaches the store: neither a row reserved under the other campaign nor a
// mark on its invitation.
func TestSenderBatchesAreCheckedRowByRow(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t) // a wave of campaign uid in riverside-homes
		const other = "7a2d3c4e-5f60-4718-9a0b-1c2d3e4f5a6b"
		e.api(http.MethodPut, "/api/v1/waves/"+other+"/20260401-0900", responseapi.WaveRegistration{
			Namespace: "lakeside", Campaign: "resident-pulse", Definition: definition(), OpensAt: opens, ClosesAt: closes,
		}, http.StatusOK, nil)
		sender := apitoken.Credential([]byte(apiToken), apitoken.Sender, "riverside-homes")
		inv := func(campaign, key, namespace string) responseapi.Invitation {
			return responseapi.Invitation{CampaignUID: campaign, WaveID: "20260401-0900", RecipientKey: key, Namespace: namespace,
				Segment: "general-needs", Channel: "email"}
		}
		mark := func(campaign, key string) responseapi.Mark {
			return responseapi.Mark{CampaignUID: campaign, WaveID: "20260401-0900", RecipientKey: key, State: "sent"}
		}
		// stored is an invitation as the store holds it, reserved by the manager if it was not.
		stored := func(in responseapi.Invitation) responseapi.Invitation {
			t.Helper()
			var out responseapi.ReserveRequest
			e.api(http.MethodPost, responseapi.RouteReserve.Path(), responseapi.ReserveRequest{Invitations: []responseapi.Invitation{in}}, http.StatusOK, &out)
			return out.Invitations[0]
		}
		stored(inv(uid, "T-1", "riverside-homes"))

		for name, c := range map[string]struct {
			route    responseapi.Route
			lakeside string // the key of the other namespace's row in body
			body     any
		}{
			"reserve: its own wave, then another namespace's": {responseapi.RouteReserve, "L-1", responseapi.ReserveRequest{
				Invitations: []responseapi.Invitation{inv(uid, "T-2", "riverside-homes"), inv(other, "L-1", "riverside-homes")}}},
			"reserve: its own wave twice, then another namespace's": {responseapi.RouteReserve, "L-2", responseapi.ReserveRequest{
				Invitations: []responseapi.Invitation{inv(uid, "T-2", "riverside-homes"), inv(uid, "T-3", "riverside-homes"), inv(other, "L-2", "riverside-homes")}}},
			"marks: its own wave, then another namespace's": {responseapi.RouteMarks, "L-3", responseapi.Marks{
				Marks: []responseapi.Mark{mark(uid, "T-1"), mark(other, "L-3")}}},
			"marks: its own wave twice, then another namespace's": {responseapi.RouteMarks, "L-4", responseapi.Marks{
				Marks: []responseapi.Mark{mark(uid, "T-1"), mark(uid, "T-1"), mark(other, "L-4")}}},
		} {
			if c.route.Pattern() == responseapi.RouteMarks.Pattern() {
				stored(inv(other, c.lakeside, "lakeside")) // lakeside's own invitation, to be left alone
			}
			body, _ := json.Marshal(c.body)
			if got, msg := e.send(c.route.Method, c.route.Path(), body, http.Header{"Authorization": {"Bearer " + sender}}); got != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 403", name, got, strings.TrimSpace(msg))
			}
			// Nothing was written: lakeside's row, if any, is lakeside's and only reserved.
			if got := stored(inv(other, c.lakeside, "lakeside")); got.Namespace != "lakeside" || got.State != "reserved" {
				t.Errorf("%s: lakeside's row is %s under %s", name, got.State, got.Namespace)
			}
		}
	})
}
