package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/touchpoint"
)

// Touch-point events: taken in each CloudEvents mode, stored once each, acknowledged (202)
// only once stored; a repeated delivery changes nothing; a refused request, named, stores
// nothing; both stores alike.
func TestTouchPointEvents(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		path := responseapi.RouteEvents.Path("riverside-homes")
		credential := apitoken.Credential([]byte(apiToken), apitoken.Events, "riverside-homes")
		post := func(header http.Header, body string) (int, string) {
			t.Helper()
			h := header.Clone()
			h.Set("Authorization", "Bearer "+credential)
			return e.send(http.MethodPost, path, []byte(body), h)
		}
		structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
		batch := http.Header{"Content-Type": {"application/cloudevents-batch+json"}}
		event := func(id, tenancy string) string {
			return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"https://repairs.riverside.example/jobs","type":"uk.org.riverside.repair.completed",`+
				`"time":"2026-11-30T14:05:00Z","data":{"tenancy":%q,"email":"t@example.org","contractor":"Dyfed Plumbing","priority":2}}`, id, tenancy)
		}
		accepted := func(status int, body string, events, created int) {
			t.Helper()
			var got responseapi.EventsAccepted
			if status != http.StatusAccepted || json.Unmarshal([]byte(body), &got) != nil || got != (responseapi.EventsAccepted{Events: events, New: created}) {
				t.Errorf("%d %s; want 202 with %d events, %d new", status, body, events, created)
			}
		}
		// A campaign takes the repairs of this source: events of other types are not kept.
		e.api(http.MethodPut, responseapi.RoutePutTouchPoints.Path(uid), responseapi.TouchPointsRegistration{Namespace: "riverside-homes",
			Campaign: "post-repair", Delay: "2h", MaxAge: "72h", Events: []responseapi.EventType{
				{Type: "uk.org.riverside.repair.completed", Source: "https://repairs.riverside.example/jobs"}}}, http.StatusOK, nil)

		// Refused first, so that the read-back below shows they stored nothing.
		big := strings.Repeat("x", touchpoint.MaxFieldValue)
		fields := make([]string, 70)
		for i := range fields {
			fields[i] = fmt.Sprintf(`"f%d":%q`, i, big)
		}
		many := make([]string, touchpoint.MaxBatch+1)
		for i := range many {
			many[i] = event(fmt.Sprint("M-", i), "T-1")
		}
		for name, tc := range map[string]struct {
			header http.Header
			body   string
			status int
			names  string
		}{
			"no id":                          {structured, strings.Replace(event("R-1", "T-1"), `"id":"R-1",`, "", 1), 400, "id"},
			"an id's key in capitals":        {structured, strings.Replace(event("R-1", "T-1"), `"id":`, `"ID":`, 1), 400, `"ID"`},
			"no source":                      {structured, strings.Replace(event("R-1", "T-1"), `"source":"https://repairs.riverside.example/jobs",`, "", 1), 400, "source"},
			"no type":                        {structured, strings.Replace(event("R-1", "T-1"), `"type":"uk.org.riverside.repair.completed",`, "", 1), 400, "type"},
			"no specversion":                 {structured, strings.Replace(event("R-1", "T-1"), `"specversion":"1.0",`, "", 1), 400, "specversion"},
			"invalid UTF-8":                  {structured, strings.Replace(event("R-1", "T-1"), "T-1", "T-\xff", 1), 400, ""},
			"a NUL":                          {structured, strings.Replace(event("R-1", "T-1"), "T-1", `T-\u0000`, 1), 400, ""},
			"a lone surrogate":               {structured, strings.Replace(event("R-1", "T-1"), "T-1", `T-\ud800`, 1), 400, ""},
			"a nested field":                 {structured, strings.Replace(event("R-1", "T-1"), `"priority":2`, `"priority":{"level":2}`, 1), 400, "data.priority"},
			"an event over 64 KiB":           {structured, strings.Replace(event("R-1", "T-1"), `"priority":2`, strings.Join(fields, ","), 1), 413, ""},
			"a batch over 1,000":             {batch, "[" + strings.Join(many, ",") + "]", 413, ""},
			"a batch with one bad event":     {batch, "[" + event("B-1", "T-1") + "," + strings.Replace(event("B-2", "T-2"), `"type":"uk.org.riverside.repair.completed",`, "", 1) + "]", 400, "event 1: type"},
			"no content type, no ce headers": {http.Header{}, `{"tenancy":"T-1"}`, 400, "specversion"},
		} {
			status, body := post(tc.header, tc.body)
			var refusal responseapi.ErrorBody
			_ = json.Unmarshal([]byte(body), &refusal)
			if status != tc.status || !strings.Contains(refusal.Error, tc.names) {
				t.Errorf("%s: %d %s; want %d naming %q", name, status, strings.TrimSpace(body), tc.status, tc.names)
			}
		}
		if stored, err := e.store.Events(context.Background(), "riverside-homes", time.Time{}, 10); err != nil || len(stored) != 0 {
			t.Fatalf("refused requests stored %d events (%v)", len(stored), err)
		}

		// Structured, binary (as the CloudEvents SDK's client sends one) and batched.
		status, body := post(structured, event("R-1", "T-1"))
		accepted(status, body, 1, 1)
		binary := http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"R-2"},
			"Ce-Source": {"https://repairs.riverside.example/jobs"}, "Ce-Type": {"uk.org.riverside.repair.completed"}}
		status, body = post(binary, `{"tenancy":"T-2","mobile":"+447700900123","contractor":"Cardiff Gas Ltd"}`)
		accepted(status, body, 1, 1)
		status, body = post(batch, "["+event("R-3", "T-3")+","+event("R-1", "T-1")+","+event("R-4", "T-4")+"]")
		accepted(status, body, 3, 2)
		// The same delivery again: acknowledged, nothing changes.
		status, body = post(structured, strings.Replace(event("R-1", "T-1"), "Dyfed Plumbing", "changed", 1))
		accepted(status, body, 1, 0)

		stored, err := e.store.Events(context.Background(), "riverside-homes", time.Time{}, 10)
		if err != nil || len(stored) != 4 {
			t.Fatalf("stored %d events, want 4 (%v)", len(stored), err)
		}
		byID := map[string]map[string]string{}
		for _, ev := range stored {
			byID[ev.ID] = ev.Fields
		}
		if byID["R-1"]["contractor"] != "Dyfed Plumbing" || byID["R-1"]["priority"] != "2" || byID["R-2"]["mobile"] != "+447700900123" {
			t.Errorf("stored fields: %v", byID)
		}
		// Types no campaign takes (another type; the same type from another source) are
		// acknowledged, counted, and not kept.
		tenancy := strings.Replace(event("N-1", "T-5"), "uk.org.riverside.repair.completed", "uk.org.riverside.tenancy.started", 1)
		elsewhere := strings.Replace(event("N-2", "T-6"), "https://repairs.riverside.example/jobs", "https://other.example/jobs", 1)
		status, body = post(batch, "["+tenancy+","+elsewhere+","+event("R-5", "T-7")+"]")
		var got responseapi.EventsAccepted
		if status != http.StatusAccepted || json.Unmarshal([]byte(body), &got) != nil || got != (responseapi.EventsAccepted{Events: 3, New: 1, Ignored: 2}) {
			t.Errorf("types no campaign takes: %d %s; want 202 with 3 events, 1 new, 2 ignored", status, body)
		}
		if stored, err := e.store.Events(context.Background(), "riverside-homes", time.Time{}, 10); err != nil || len(stored) != 5 {
			t.Errorf("stored %d events, want 5: the ignored ones are not kept (%v)", len(stored), err)
		}
		mustContain(t, e.scrape(), `survey_collector_events_ignored_total{namespace="riverside-homes"} 2`)

		// Another namespace's credential cannot post here, nor this one there.
		other := apitoken.Credential([]byte(apiToken), apitoken.Events, "lakeside")
		if status, _ := e.send(http.MethodPost, path, []byte(event("R-9", "T-9")), http.Header{"Authorization": {"Bearer " + other},
			"Content-Type": {"application/cloudevents+json"}}); status != http.StatusForbidden {
			t.Errorf("lakeside's credential: %d, want 403", status)
		}
	})
}

// A touch-point campaign's round trip through the API: the manager registers it; its events
// fall due after the delay; a sender lists them and records its decisions with the
// invitations they made, and then they are due no more. What a sender may not do is refused.
func TestTouchPointRoutes(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		const ns, typ = "riverside-homes", "uk.org.riverside.repair.completed"
		e.api(http.MethodPut, responseapi.RoutePutTouchPoints.Path(uid), responseapi.TouchPointsRegistration{Namespace: ns,
			Campaign: "post-repair", Delay: "2h", MaxAge: "72h", Events: []responseapi.EventType{{Type: typ}}}, http.StatusOK, nil)
		for name, reg := range map[string]responseapi.TouchPointsRegistration{
			"no namespace":    {Campaign: "c", Delay: "0s", MaxAge: "1h"},
			"a bad delay":     {Namespace: ns, Campaign: "c", Delay: "soon", MaxAge: "1h"},
			"a negative age":  {Namespace: ns, Campaign: "c", Delay: "0s", MaxAge: "-1h"},
			"an empty type":   {Namespace: ns, Campaign: "c", Delay: "0s", MaxAge: "1h", Events: []responseapi.EventType{{}}},
			"17 event types":  {Namespace: ns, Campaign: "c", Delay: "0s", MaxAge: "1h", Events: make([]responseapi.EventType, 17)},
			"a control char.": {Namespace: ns, Campaign: "c", Delay: "0s", MaxAge: "1h", Events: []responseapi.EventType{{Type: "a\tb"}}},
		} {
			var refusal responseapi.ErrorBody
			e.api(http.MethodPut, responseapi.RoutePutTouchPoints.Path(uid), reg, http.StatusBadRequest, &refusal)
			if refusal.Error == "" {
				t.Errorf("%s: refused without saying why", name)
			}
		}
		sender := apitoken.Credential([]byte(apiToken), apitoken.Sender, ns)
		call := func(method, path, credential string, body any, want int, out any) {
			t.Helper()
			raw, _ := json.Marshal(body)
			if body == nil {
				raw = nil
			}
			status, got := e.send(method, path, raw, http.Header{"Authorization": {"Bearer " + credential}})
			if status != want {
				t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
			}
			if out != nil {
				reflect.ValueOf(out).Elem().SetZero() // a field the answer omits is not the last answer's
				if err := json.Unmarshal([]byte(got), out); err != nil {
					t.Fatal(err)
				}
			}
		}
		happened := e.now
		for _, id := range []string{"R-1", "R-2"} {
			ev := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"jobs","type":%q,"time":%q,"data":{"tenancy":"T-%s","email":"t@example.org"}}`,
				id, typ, happened.Format(time.RFC3339), id)
			status, body := e.send(http.MethodPost, responseapi.RouteEvents.Path(ns), []byte(ev), http.Header{"Authorization": {"Bearer " + apiToken},
				"Content-Type": {"application/cloudevents+json"}})
			if status != http.StatusAccepted {
				t.Fatalf("posting %s: %d %s", id, status, body)
			}
		}
		var due responseapi.TouchPointsDue
		call(http.MethodGet, responseapi.RouteDueTouchPoints.Path(ns, uid), sender, nil, http.StatusOK, &due)
		if due.Due != 0 || due.Next == nil || !due.Next.Equal(happened.Add(2*time.Hour)) {
			t.Errorf("before the delay: %+v; want none due, the next at %s", due, happened.Add(2*time.Hour))
		}
		e.now = happened.Add(2 * time.Hour)
		call(http.MethodGet, responseapi.RouteDueTouchPoints.Path(ns, uid), sender, nil, http.StatusOK, &due)
		if due.Due != 2 || due.Next != nil {
			t.Errorf("after the delay: %+v; want 2 due", due)
		}
		var events responseapi.DueEvents
		call(http.MethodGet, responseapi.RouteDueEvents.Path(ns, uid), sender, nil, http.StatusOK, &events)
		if len(events.Events) != 2 || events.Events[0].ID != "R-1" || events.Events[0].Fields["tenancy"] != "T-R-1" || events.Events[0].TooOld {
			t.Fatalf("due events: %+v", events)
		}

		// R-1 invites T-R-1 in the wave; R-2's person is in no segment.
		inv := responseapi.Invitation{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: "T-R-1", Namespace: ns, Segment: "general-needs", Channel: "email"}
		decisions := []responseapi.Decision{
			{Source: "jobs", ID: "R-1", Outcome: "invited", Due: events.Events[0].Due, WaveID: inv.WaveID, RecipientKey: inv.RecipientKey, Segment: "general-needs"},
			{Source: "jobs", ID: "R-2", Outcome: "no-segment", Due: events.Events[1].Due},
		}
		// Refused, and nothing recorded: an outcome that is none; an invitation under another
		// namespace; another namespace's sender; a campaign not registered.
		bad := append([]responseapi.Decision{}, decisions...)
		bad[1].Outcome = "lost"
		call(http.MethodPost, responseapi.RouteDecide.Path(ns, uid), sender, responseapi.DecideRequest{Decisions: bad, Invitations: []responseapi.Invitation{inv}}, http.StatusBadRequest, nil)
		elsewhere := inv
		elsewhere.Namespace = "lakeside"
		call(http.MethodPost, responseapi.RouteDecide.Path(ns, uid), sender, responseapi.DecideRequest{Decisions: decisions, Invitations: []responseapi.Invitation{elsewhere}}, http.StatusBadRequest, nil)
		lakeside := apitoken.Credential([]byte(apiToken), apitoken.Sender, "lakeside")
		call(http.MethodPost, responseapi.RouteDecide.Path(ns, uid), lakeside, responseapi.DecideRequest{Decisions: decisions}, http.StatusForbidden, nil)
		call(http.MethodGet, responseapi.RouteDueEvents.Path("lakeside", uid), lakeside, nil, http.StatusNotFound, nil)
		call(http.MethodGet, responseapi.RouteDueEvents.Path(ns, "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"), sender, nil, http.StatusNotFound, nil)
		call(http.MethodGet, responseapi.RouteDueTouchPoints.Path(ns, uid), sender, nil, http.StatusOK, &due)
		if due.Due != 2 {
			t.Fatalf("after refused decisions: %+v; want both still due", due)
		}

		var reserved responseapi.ReserveRequest
		for range 2 { // a retried Job: the same answer, nothing more
			call(http.MethodPost, responseapi.RouteDecide.Path(ns, uid), sender, responseapi.DecideRequest{Decisions: decisions, Invitations: []responseapi.Invitation{inv}}, http.StatusOK, &reserved)
			if len(reserved.Invitations) != 1 || reserved.Invitations[0].State != "reserved" || reserved.Invitations[0].RecipientKey != "T-R-1" {
				t.Fatalf("decide: %+v", reserved)
			}
		}
		// R-1 is due until its invitation is sent (a sender that died would leave it reserved).
		call(http.MethodGet, responseapi.RouteDueTouchPoints.Path(ns, uid), sender, nil, http.StatusOK, &due)
		if due.Due != 1 {
			t.Errorf("after deciding: %+v; want R-1 due until it is sent", due)
		}
		call(http.MethodPost, responseapi.RouteMark.Path(), sender, responseapi.Mark{CampaignUID: uid, WaveID: inv.WaveID, RecipientKey: inv.RecipientKey, State: "sent"}, http.StatusOK, nil)
		call(http.MethodGet, responseapi.RouteDueTouchPoints.Path(ns, uid), sender, nil, http.StatusOK, &due)
		if due.Due != 0 {
			t.Errorf("after sending: %+v; want none due", due)
		}
	})
}

// The outcomes a sender may send are those the store records, no more and no fewer.
func TestEventOutcomesAgree(t *testing.T) {
	api := []string{responseapi.OutcomeContacted, responseapi.OutcomeInvalid, responseapi.OutcomeInvited, responseapi.OutcomeNoSegment,
		responseapi.OutcomeNotSampled, responseapi.OutcomeOptedOut, responseapi.OutcomeTooOld, responseapi.OutcomeUnreachable}
	var stored []string
	for _, o := range store.EventOutcomes() {
		stored = append(stored, string(o))
	}
	if !reflect.DeepEqual(api, stored) {
		t.Errorf("responseapi's outcomes %v; the store's %v", api, stored)
	}
}
