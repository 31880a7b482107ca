package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
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
		// Another namespace's credential cannot post here, nor this one there.
		other := apitoken.Credential([]byte(apiToken), apitoken.Events, "lakeside")
		if status, _ := e.send(http.MethodPost, path, []byte(event("R-9", "T-9")), http.Header{"Authorization": {"Bearer " + other},
			"Content-Type": {"application/cloudevents+json"}}); status != http.StatusForbidden {
			t.Errorf("lakeside's credential: %d, want 403", status)
		}
	})
}
