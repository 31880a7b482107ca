package touchpoint

import (
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
)

// FuzzRead: whatever arrives, Read returns events that are whole and plain, or an *Error with
// a 4xx to answer; it never panics.
func FuzzRead(f *testing.F) {
	for _, e := range []event.Event{repair("R-1")} {
		body, _ := e.MarshalJSON()
		f.Add(event.ApplicationCloudEventsJSON, "", body)
		f.Add(event.ApplicationCloudEventsBatchJSON, "", append(append([]byte("["), body...), ']'))
		f.Add("application/json", "1.0", e.Data())
	}
	f.Add(event.ApplicationCloudEventsJSON, "", []byte(`{"specversion":"1.0","id":"\ud800","source":"s","type":"t","data":{"a":1}}`))
	f.Add("application/json", "1.0", []byte(`{"a":{"b":1}}`))
	f.Add("text/plain; charset", "1.0", []byte("x"))
	f.Fuzz(func(t *testing.T, contentType, specversion string, body []byte) {
		h := http.Header{"Content-Type": {contentType}}
		if specversion != "" {
			h.Set("Ce-Specversion", specversion)
			h.Set("Ce-Id", "R-1")
			h.Set("Ce-Source", "https://repairs.example/jobs")
			h.Set("Ce-Type", "repair.completed")
		}
		events, err := Read(h, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || events != nil {
				t.Fatalf("a refusal that is not an *Error with a 4xx: %v (%d events)", err, len(events))
			}
			if !utf8.ValidString(e.Error()) {
				t.Fatalf("the refusal is not text: %q", e.Error())
			}
			return
		}
		if len(events) == 0 || len(events) > MaxBatch {
			t.Fatalf("%d events", len(events))
		}
		for _, e := range events {
			if e.ID == "" || e.Source == "" || e.Type == "" || !name(e.ID) || !name(e.Source) || !name(e.Type) || !name(e.Subject) {
				t.Fatalf("an event's attributes: %+v", e)
			}
			if len(e.Fields) == 0 && e.Fields == nil {
				t.Fatalf("an event without data: %+v", e)
			}
			for k, v := range e.Fields {
				if !name(k) || len(k) > MaxFieldName || !plainText(v) || len(v) > MaxFieldValue {
					t.Fatalf("a field that is not plain: %q=%q", k, v)
				}
			}
		}
	})
}
