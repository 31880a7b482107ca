package touchpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

var repairDone = time.Date(2026, 11, 30, 14, 5, 0, 0, time.UTC)

// repair is a repair-completed event, as a housing repairs system would send it.
func repair(id string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("https://repairs.riverside.example/jobs")
	e.SetType("uk.org.riverside.repair.completed")
	e.SetSubject("job-" + id)
	e.SetTime(repairDone)
	if err := e.SetData(event.ApplicationJSON, map[string]any{
		"tenancy": "T-000123-01", "email": "a.tenant@example.org", "language": "cy",
		"repairType": "plumbing", "contractor": "Dyfed Plumbing", "priority": 2, "emergency": false,
	}); err != nil {
		panic(err)
	}
	return e
}

// requestOf is the request the CloudEvents SDK's client sends for events: binary mode for
// one, a batch for several.
func requestOf(t *testing.T, events ...event.Event) (http.Header, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if len(events) == 1 {
		req, err = cehttp.NewHTTPRequestFromEvent(context.Background(), "http://collector/x", events[0])
	} else {
		req, err = cehttp.NewHTTPRequestFromEvents(context.Background(), "http://collector/x", events)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return req.Header, body
}

func structuredOf(t *testing.T, e event.Event) (http.Header, []byte) {
	t.Helper()
	body, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Content-Type": {event.ApplicationCloudEventsJSON}}, body
}

func TestReadEachMode(t *testing.T) {
	want := Event{Source: "https://repairs.riverside.example/jobs", ID: "R-1", Type: "uk.org.riverside.repair.completed",
		Subject: "job-R-1", Time: repairDone, Fields: map[string]string{"tenancy": "T-000123-01", "email": "a.tenant@example.org",
			"language": "cy", "repairType": "plumbing", "contractor": "Dyfed Plumbing", "priority": "2", "emergency": "false"}}
	check := func(t *testing.T, got []Event, n int) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%d events, want %d", len(got), n)
		}
		for i, g := range got {
			w := want
			w.ID, w.Subject = fmt.Sprintf("R-%d", i+1), fmt.Sprintf("job-R-%d", i+1)
			if fmt.Sprint(g) != fmt.Sprint(w) || !g.Time.Equal(w.Time) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}
	t.Run("binary", func(t *testing.T) {
		got, err := Read(requestOf(t, repair("R-1")))
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, 1)
	})
	t.Run("structured", func(t *testing.T) {
		got, err := Read(structuredOf(t, repair("R-1")))
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, 1)
	})
	t.Run("batch", func(t *testing.T) {
		got, err := Read(requestOf(t, repair("R-1"), repair("R-2"), repair("R-3")))
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, 3)
	})
}

// Each refusal names the event and the attribute or field, with the status to answer.
func TestReadRefusesNamingTheAttribute(t *testing.T) {
	without := func(attr string) func(map[string]any) {
		return func(m map[string]any) { delete(m, attr) }
	}
	set := func(attr string, v any) func(map[string]any) {
		return func(m map[string]any) { m[attr] = v }
	}
	// structured is an event in structured mode, changed by each mutation.
	structured := func(mutate ...func(map[string]any)) request {
		m := map[string]any{"specversion": "1.0", "id": "R-1", "source": "https://repairs.riverside.example/jobs",
			"type": "uk.org.riverside.repair.completed", "subject": "job-R-1", "time": repairDone.Format(time.RFC3339),
			"datacontenttype": "application/json", "data": map[string]any{"tenancy": "T-1", "email": "a@example.org"}}
		for _, f := range mutate {
			f(m)
		}
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return request{http.Header{"Content-Type": {event.ApplicationCloudEventsJSON}}, body}
	}
	raw := func(contentType, body string) request {
		return request{http.Header{"Content-Type": {contentType}}, []byte(body)}
	}
	binary := func(contentType, body string) request {
		return request{http.Header{"Content-Type": {contentType}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"R-1"},
			"Ce-Source": {"s"}, "Ce-Type": {"t"}}, []byte(body)}
	}
	big := strings.Repeat("x", MaxEventBytes)
	many := make([]event.Event, MaxBatch+1)
	for i := range many {
		many[i] = repair(fmt.Sprint("R-", i))
	}
	var batch request
	batch.header, batch.body = requestOf(t, many...)
	first := structured()
	second := raw(event.ApplicationCloudEventsBatchJSON, "["+string(first.body)+","+string(structured(set("id", " ")).body)+"]")
	noSpec := binary("application/json", `{"tenancy":"T-1"}`)
	noSpec.header.Del("Ce-Specversion")
	type refusal struct {
		request
		status    int
		index     int
		attribute string
	}
	for name, tc := range map[string]refusal{
		"no id":                       {structured(without("id")), 400, 0, "id"},
		"an empty id":                 {structured(set("id", "")), 400, 0, "id"},
		"no source":                   {structured(without("source")), 400, 0, "source"},
		"no type":                     {structured(without("type")), 400, 0, "type"},
		"no specversion":              {structured(without("specversion")), 400, 0, "specversion"},
		"specversion 0.3":             {structured(set("specversion", "0.3")), 400, 0, "specversion"},
		"an id with a tab":            {structured(set("id", "R\t1")), 400, 0, "id"},
		"a type of 254 bytes":         {structured(set("type", strings.Repeat("t", 254))), 400, 0, "type"},
		"no data":                     {structured(without("data")), 400, 0, "data"},
		"data that is a list":         {structured(set("data", []string{"T-1"})), 400, 0, "data"},
		"data with an object":         {structured(set("data", map[string]any{"tenancy": "T-1", "address": map[string]string{"line1": "1 Quay St"}})), 400, 0, "data.address"},
		"data with a control":         {structured(set("data", map[string]any{"tenancy": "T-1", "note": "a\u0007b"})), 400, 0, "data.note"},
		"data with a long value":      {structured(set("data", map[string]any{"tenancy": strings.Repeat("t", MaxFieldValue+1)})), 400, 0, "data.tenancy"},
		"binary data":                 {structured(without("data"), set("data_base64", "AAEC")), 400, 0, "data_base64"},
		"data that is not JSON":       {structured(set("datacontenttype", "text/plain"), set("data", "T-1")), 400, 0, "datacontenttype"},
		"invalid UTF-8":               {raw(event.ApplicationCloudEventsJSON, "{\"specversion\":\"1.0\",\"id\":\"R\xff\"}"), 400, 0, ""},
		"a NUL escape":                {raw(event.ApplicationCloudEventsJSON, `{"specversion":"1.0","id":"R\u0000"}`), 400, 0, ""},
		"a lone surrogate":            {raw(event.ApplicationCloudEventsJSON, `{"specversion":"1.0","id":"\ud800"}`), 400, 0, ""},
		"an event over 64 KiB":        {structured(set("data", map[string]any{"a": big[:1000], "c": big})), 413, 0, ""},
		"a batch over 1,000":          {batch, 413, -1, ""},
		"an empty batch":              {raw(event.ApplicationCloudEventsBatchJSON, `[]`), 400, -1, ""},
		"a source of 254 bytes":       {structured(set("source", strings.Repeat("s", 254))), 400, 0, "source"},
		"an id that is a number":      {structured(set("id", 42)), 400, 0, "id"},
		"a time that is not one":      {structured(set("time", "yesterday, around four")), 400, 0, ""},
		"an attribute in capitals":    {structured(set("ID", "R-2")), 400, 0, ""},
		"a batch that is not one":     {raw(event.ApplicationCloudEventsBatchJSON, `{"id":"R-1"}`), 400, -1, ""},
		"a batch's second event":      {second, 400, 1, "id"},
		"binary with no specversion":  {noSpec, 400, 0, "specversion"},
		"binary data over 64 KiB":     {binary("application/json", `{"a":"`+big+`"}`), 413, 0, ""},
		"binary data not UTF-8":       {binary("application/json", "{\"a\":\"\xff\"}"), 400, 0, "data"},
		"binary data of another type": {binary("text/plain", "T-1"), 400, 0, "datacontenttype"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Read(tc.header, tc.body)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("read %d events, error %v; want an *Error", len(got), err)
			}
			if e.Status != tc.status || e.Index != tc.index || e.Attribute != tc.attribute {
				t.Errorf("%v: status %d, event %d, attribute %q; want %d, %d, %q", e, e.Status, e.Index, e.Attribute, tc.status, tc.index, tc.attribute)
			}
			if got != nil {
				t.Errorf("a refused request gave %d events", len(got))
			}
			for _, secret := range []string{"a@example.org", "yesterday", "Quay St"} {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("the refusal quotes the data: %v", e)
				}
			}
		})
	}
}

// request is a request's headers and body.
type request struct {
	header http.Header
	body   []byte
}
