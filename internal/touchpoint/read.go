// Package touchpoint reads touch-point events: CloudEvents 1.0 over HTTP (binary, structured
// and batched), each carrying one person and the touch point's attributes as a flat JSON
// object, the way an audience file carries them as a row. It is the parser of outside input
// for the response service's event route (docs/touchpoints.md): it refuses, naming the event
// and the attribute or field, whatever it will not keep, and it never holds more than the
// body it is given.
package touchpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/surveyops/survey-operator/internal/jsontext"
	"github.com/surveyops/survey-operator/internal/survey"
)

// Bounds of what is read.
const (
	// MaxEventBytes bounds one event: its JSON in structured mode or in a batch, its data in
	// binary mode.
	MaxEventBytes = 64 << 10
	// MaxBatch bounds the events of a batch.
	MaxBatch = 1000
	// MaxBodyBytes bounds a request's body: a batch is read whole, within it.
	MaxBodyBytes = 8 << 20
	// MaxFields bounds the fields of an event's data; MaxFieldName and MaxFieldValue their
	// names and values.
	MaxFields     = 64
	MaxFieldName  = 63
	MaxFieldValue = 1024
	// maxAttribute bounds id, source, type and subject: the first three are the keys an event
	// is stored under.
	maxAttribute = 253
)

// Event is one touch point, as it was received and checked.
type Event struct {
	// Source and ID identify it: the same pair delivered again is the same event.
	Source, ID string
	// Type is what happened, such as "uk.org.riverside.repair.completed".
	Type string
	// Subject is the event's subject, if it has one (a repair's job number).
	Subject string
	// Time is when it happened, as the producer says; zero when it does not.
	Time time.Time
	// Fields are the data's fields, each as text: the person (an id, contacts, a language)
	// and the touch point's attributes (a repair type, a contractor), which a campaign maps
	// as it maps an audience's columns.
	Fields map[string]string
}

// Error is an event, or a request, that is refused: which event (its index in a batch; 0 for
// a single one), which attribute or data field, and why, with the HTTP status to answer.
type Error struct {
	Status int
	// Index is the event's index in a batch (0 for a single event); -1 for the request.
	Index int
	// Attribute is the CloudEvents attribute ("id", "specversion") or "data.<field>"; empty
	// when the problem is not one attribute's.
	Attribute string
	Reason    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		fmt.Fprintf(&b, "event %d: ", e.Index)
	}
	if e.Attribute != "" {
		b.WriteString(e.Attribute + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

func refuse(status, index int, attribute, format string, args ...any) *Error {
	return &Error{Status: status, Index: index, Attribute: attribute, Reason: fmt.Sprintf(format, args...)}
}

// Read reads the events of one request, given its headers and its body (at most
// MaxBodyBytes): a single event in binary mode (ce-* headers, the data as the body) or in
// structured mode (application/cloudevents+json), or a batch
// (application/cloudevents-batch+json). All are checked before any is returned: one refused
// event refuses the request, and the error (an *Error) names it.
func Read(header http.Header, body []byte) ([]Event, error) {
	if len(body) > MaxBodyBytes {
		return nil, refuse(http.StatusRequestEntityTooLarge, -1, "", "the body is larger than %d bytes", MaxBodyBytes)
	}
	mediaType, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil && header.Get("Content-Type") != "" {
		return nil, refuse(http.StatusUnsupportedMediaType, -1, "", "the content type cannot be read")
	}
	switch mediaType {
	case event.ApplicationCloudEventsBatchJSON:
		return readBatch(body)
	case event.ApplicationCloudEventsJSON:
		if len(body) > MaxEventBytes {
			return nil, refuse(http.StatusRequestEntityTooLarge, 0, "", "an event is at most %d bytes", MaxEventBytes)
		}
		e, err := structured(body, 0)
		if err != nil {
			return nil, err
		}
		return []Event{e}, nil
	}
	if header.Get("Ce-Specversion") == "" {
		return nil, refuse(http.StatusBadRequest, 0, "specversion", "missing: a CloudEvent in binary mode has a ce-specversion header (or send application/cloudevents+json)")
	}
	if len(body) > MaxEventBytes {
		return nil, refuse(http.StatusRequestEntityTooLarge, 0, "", "an event is at most %d bytes", MaxEventBytes)
	}
	if err := checkText(body, 0, "data"); err != nil {
		return nil, err
	}
	if ct := header.Get("Content-Type"); ct != "" && mediaType != "application/json" {
		return nil, refuse(http.StatusBadRequest, 0, "datacontenttype", "data must be JSON (application/json)")
	}
	msg := cehttp.NewMessage(header, io.NopCloser(bytes.NewReader(body)))
	defer func() { _ = msg.Finish(nil) }()
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		// The SDK's words may quote what was sent: they are not passed on.
		return nil, refuse(http.StatusBadRequest, 0, "", "not a CloudEvent: its ce- headers cannot be read")
	}
	e, err := check(ev, 0)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// readBatch reads a JSON array of structured events.
func readBatch(body []byte) ([]Event, error) {
	if err := checkText(body, -1, ""); err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, refuse(http.StatusBadRequest, -1, "", "a batch is a JSON array of events")
	}
	if len(raw) == 0 {
		return nil, refuse(http.StatusBadRequest, -1, "", "a batch holds 1 to %d events, not none", MaxBatch)
	}
	if len(raw) > MaxBatch {
		return nil, refuse(http.StatusRequestEntityTooLarge, -1, "", "a batch holds 1 to %d events, not %d", MaxBatch, len(raw))
	}
	out := make([]Event, len(raw))
	for i, r := range raw {
		if len(r) > MaxEventBytes {
			return nil, refuse(http.StatusRequestEntityTooLarge, i, "", "an event is at most %d bytes", MaxEventBytes)
		}
		e, err := structured(r, i)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// structured reads one event in the JSON format.
func structured(data []byte, index int) (Event, error) {
	if err := checkText(data, index, ""); err != nil {
		return Event{}, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return Event{}, refuse(http.StatusBadRequest, index, "", "an event is a JSON object")
	}
	if _, ok := probe["specversion"]; !ok {
		return Event{}, refuse(http.StatusBadRequest, index, "specversion", "missing")
	}
	if _, ok := probe["data_base64"]; ok {
		return Event{}, refuse(http.StatusBadRequest, index, "data_base64", "data must be JSON, not binary")
	}
	// Checked here, so that the SDK's words, which may quote what was sent, are never passed
	// on: datacontenttype, then the attributes' names and types, and data's, in name order.
	if ct, ok := probe["datacontenttype"]; ok {
		var s string
		_ = json.Unmarshal(ct, &s)
		if mt, _, err := mime.ParseMediaType(s); err != nil || mt != "application/json" {
			return Event{}, refuse(http.StatusBadRequest, index, "datacontenttype", "data must be JSON (application/json)")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(probe)) {
		v := probe[k]
		if !attributeName(k) {
			return Event{}, refuse(http.StatusBadRequest, index, "", "an attribute's name is 1 to 20 lower-case letters and digits (the CloudEvents spec), not %s", quoteName(k))
		}
		switch {
		case k == "data":
			if t := jsonKind(v); t != '{' && t != 'n' {
				return Event{}, refuse(http.StatusBadRequest, index, "data", "must be a JSON object")
			}
		case jsonKind(v) != '"':
			return Event{}, refuse(http.StatusBadRequest, index, k, "must be a string")
		}
	}
	ev := event.New()
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, refuse(http.StatusBadRequest, index, "", "not a CloudEvent: its attributes cannot be read (a time must be RFC 3339)")
	}
	return check(&ev, index)
}

// check checks a decoded event's attributes and reads its data.
func check(ev *event.Event, index int) (Event, error) {
	if ev.SpecVersion() != event.CloudEventsVersionV1 {
		return Event{}, refuse(http.StatusBadRequest, index, "specversion", "must be %q", event.CloudEventsVersionV1)
	}
	if err := ev.Validate(); err != nil {
		var verr event.ValidationError
		if errors.As(err, &verr) {
			// The first attribute by name, so that the message does not change from one
			// request to the next.
			first := ""
			for k := range verr {
				if first == "" || k < first {
					first = k
				}
			}
			return Event{}, refuse(http.StatusBadRequest, index, first, "%s", plain(verr[first].Error()))
		}
		return Event{}, refuse(http.StatusBadRequest, index, "", "%s", plain(err.Error()))
	}
	e := Event{Source: ev.Source(), ID: ev.ID(), Type: ev.Type(), Subject: ev.Subject(), Time: ev.Time()}
	for _, a := range []struct {
		name, value string
		max         int
	}{{"id", e.ID, maxAttribute}, {"source", e.Source, maxAttribute}, {"type", e.Type, maxAttribute}, {"subject", e.Subject, maxAttribute}} {
		if len(a.value) > a.max || !name(a.value) {
			return Event{}, refuse(http.StatusBadRequest, index, a.name, "at most %d bytes of text without control characters", a.max)
		}
	}
	if ct := ev.DataContentType(); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return Event{}, refuse(http.StatusBadRequest, index, "datacontenttype", "data must be JSON (application/json)")
		}
	}
	fields, err := readData(ev.Data(), index)
	if err != nil {
		return Event{}, err
	}
	e.Fields = fields
	return e, nil
}

// readData reads an event's data: a flat JSON object whose values are strings, numbers or
// booleans (each kept as text), as a row of an audience file.
func readData(data []byte, index int) (map[string]string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, refuse(http.StatusBadRequest, index, "data", "missing: the person and the touch point's attributes, as a JSON object")
	}
	if err := checkText(data, index, "data"); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, refuse(http.StatusBadRequest, index, "data", "must be a JSON object")
	}
	if dec.More() {
		return nil, refuse(http.StatusBadRequest, index, "data", "must be one JSON object")
	}
	if len(obj) > MaxFields {
		return nil, refuse(http.StatusBadRequest, index, "data", "at most %d fields", MaxFields)
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		if k == "" || len(k) > MaxFieldName || !name(k) {
			return nil, refuse(http.StatusBadRequest, index, "data", "a field's name is 1 to %d bytes of text without control characters", MaxFieldName)
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = strconv.FormatBool(v)
		case nil:
			continue // a null is an absent field
		default:
			return nil, refuse(http.StatusBadRequest, index, "data."+k, "must be a string, a number or a boolean, not an object or a list")
		}
		if len(s) > MaxFieldValue || !plainText(s) {
			return nil, refuse(http.StatusBadRequest, index, "data."+k, "at most %d bytes of text without control characters", MaxFieldValue)
		}
		out[k] = s
	}
	return out, nil
}

// checkText refuses JSON text that is not UTF-8, or that escapes a NUL or a lone surrogate
// (jsontext.Check).
func checkText(data []byte, index int, attribute string) error {
	if err := jsontext.Check(data); err != nil {
		return refuse(http.StatusBadRequest, index, attribute, "%s", err.Error())
	}
	return nil
}

// name reports whether s is text without control characters (not even a tab or a line break).
func name(s string) bool { return survey.PlainText(s) && !strings.ContainsAny(s, "\t\n\r") }

// plainText reports whether s is valid UTF-8 with no control character but tab and line
// breaks (survey.PlainText).
func plainText(s string) bool { return survey.PlainText(s) }

// attributeName reports whether k is a CloudEvents attribute's name: 1 to 20 lower-case ASCII
// letters and digits.
func attributeName(k string) bool {
	if k == "" || len(k) > 20 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// quoteName quotes an attribute's name that is not one, when it is short text (a name, not
// data), or says only that it is not.
func quoteName(k string) string {
	if len(k) <= 20 && name(k) {
		return strconv.Quote(k)
	}
	return "this one"
}

// jsonKind is the first byte of a JSON value: '{', '[', '"', 'n' (null), 't' or 'f', or a digit
// or '-' for a number.
func jsonKind(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// plain is an error message from a library made safe to show: control characters replaced,
// and bounded.
func plain(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
