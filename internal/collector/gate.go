package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/jsontext"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/token"
)

// The gate: one layer that every request passes before its handler runs, and so before any
// store call. Each route is registered with what it may receive (gateRoute); the gate refuses
// the rest with a 4xx:
//
//   - the body, bounded server-wide: routes that take none (GET, HEAD, DELETE, static files)
//     refuse any, the others take at most their own limit (http.MaxBytesReader), so that no
//     handler can read more, however it reads;
//   - multipart bodies, which no route takes: parsing one spills files to disk;
//   - every path value, which must be an identifier (ValidID);
//   - every query name and value, and every header value, which must be plain text: valid
//     UTF-8, no NUL or other control character, bounded.
//
// Past the gate, JSON bodies are decoded strictly (decodeStrict), link tokens' unverified claims
// are checked as identifiers before they are used to find a key (verify), and text from
// parsed mail goes through plainText. The store maps what PostgreSQL refuses as invalid input to
// store.ErrBadInput, answered 400, as the last line behind the gate.

// gateRoute is what one route may receive.
type gateRoute struct {
	pattern string // as the mux registers it: "POST /s/{token}"
	// body is the most the route reads from a body; 0: it takes no body.
	body int64
	// wildcards are the pattern's path values.
	wildcards []string
}

// Bounds of what passes the gate.
const (
	// MaxIDBytes bounds an identifier (a link token is bounded by token.MaxLength): a campaign's UID, a
	// wave's id, a namespace, a FollowUp's UID; the store's names' bound (gated.MaxName).
	MaxIDBytes = gated.MaxName
	// maxQueryValue bounds a query name or value; maxQueryValues their number.
	maxQueryValue  = 1024
	maxQueryValues = 32
	// maxHeaderValue bounds one header value (net/http bounds them all at 1 MB).
	maxHeaderValue = 8 << 10
)

// newGateRoute describes a route: its pattern and the most it reads from a body.
func newGateRoute(pattern string, body int64) gateRoute {
	g := gateRoute{pattern: pattern, body: body}
	rest := pattern
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			break
		}
		name := strings.TrimSuffix(rest[open+1:open+end], "...")
		if name != "$" {
			g.wildcards = append(g.wildcards, name)
		}
		rest = rest[open+end+1:]
	}
	return g
}

// ValidID reports whether s is an identifier: 1 to MaxIDBytes of ASCII letters, digits and
// - . _ ~ (the characters of a link token, a UID, a wave id, a namespace).
func ValidID(s string) bool { return len(s) <= MaxIDBytes && idChars(s) }

// validToken reports whether s may be a link token: an identifier's characters, and at most
// token.MaxLength of them (a token carries the person's id, up to 200 bytes, and the wave's,
// segment's and channel's names: longer than other identifiers).
func validToken(s string) bool { return len(s) <= token.MaxLength && idChars(s) }

// validPathValue reports whether a path value passes the gate: a token where the route names
// one ({token}), an identifier everywhere else.
func validPathValue(name, v string) bool {
	if name == "token" {
		return validToken(v)
	}
	return ValidID(v)
}

// idChars reports whether s is 1 or more ASCII letters, digits and - . _ ~.
func idChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// plainText reports whether s is plain text of at most max bytes: valid UTF-8, no NUL and no
// control character but tab, line feed and carriage return.
func plainText(s string, max int) bool { return len(s) <= max && survey.PlainText(s) }

// gated is h behind the gate for rt. API routes (paths under /api/) answer refusals as JSON,
// pages as a page.
func (s *Server) gated(rt gateRoute, h http.Handler) http.Handler {
	api := strings.Contains(rt.pattern, " /api/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(status int, msg string) {
			if api {
				writeJSONError(w, status, msg)
				return
			}
			s.message(w, status, http.StatusText(status), msg)
		}
		if status, msg := gate(rt, r); status != 0 {
			refuse(status, msg)
			return
		}
		if rt.body == 0 {
			r.Body = http.MaxBytesReader(w, r.Body, 0)
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, rt.body)
		}
		h.ServeHTTP(w, r)
	})
}

// gate checks a request against its route: a status and a message to refuse it with, or 0.
func gate(rt gateRoute, r *http.Request) (int, string) {
	if r.ContentLength > rt.body || (rt.body == 0 && r.ContentLength < 0 && len(r.TransferEncoding) > 0) {
		if rt.body == 0 {
			return http.StatusRequestEntityTooLarge, "this address takes no body"
		}
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", rt.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || strings.HasPrefix(mt, "multipart/") {
			return http.StatusUnsupportedMediaType, "multipart and unparseable bodies are not accepted"
		}
	}
	for _, name := range rt.wildcards {
		if !validPathValue(name, r.PathValue(name)) {
			return http.StatusBadRequest, "the address holds an invalid " + name
		}
	}
	query := r.URL.Query()
	if len(query) > maxQueryValues {
		return http.StatusBadRequest, "too many query parameters"
	}
	for name, values := range query {
		if !plainText(name, maxQueryValue) {
			return http.StatusBadRequest, "a query parameter's name is not plain text"
		}
		for _, v := range values {
			if !plainText(v, maxQueryValue) {
				return http.StatusBadRequest, "query parameter " + strconv.Quote(name) + " is not plain text of at most 1,024 bytes"
			}
		}
	}
	for name, values := range r.Header {
		for _, v := range values {
			if !plainText(v, maxHeaderValue) {
				return http.StatusBadRequest, "header " + name + " is not plain text"
			}
		}
	}
	return 0, ""
}

// errNotStrict is a JSON body that decodes, but not strictly.
var errNotStrict = errors.New("invalid JSON body")

// decodeStrict decodes one JSON value into v strictly: valid UTF-8; no \u0000 and no lone
// surrogate among its escapes (encoding/json would store U+FFFD for one); no field v does not
// have, and each key exactly as v spells it (encoding/json matches keys without regard to
// case, so "ID" would fill "id"); nothing after the value.
func decodeStrict(data []byte, v any) error {
	if err := checkEscapes(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errNotStrict, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: more than one value", errNotStrict)
	}
	var raw any
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: %w", errNotStrict, err)
	}
	return exactKeys(raw, reflect.TypeOf(v), "")
}

// checkEscapes refuses \u0000 and lone surrogates in a JSON text's strings (jsontext.Check).
func checkEscapes(data []byte) error {
	if err := jsontext.Check(data); err != nil {
		return fmt.Errorf("%w: %w", errNotStrict, err)
	}
	return nil
}

// exactKeys checks that every key of the decoded JSON raw is spelled exactly as a field of t
// (its json tag, else its name), level by level.
func exactKeys(raw any, t reflect.Type, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil // a struct decoded from something else is encoding/json's to refuse
		}
		fields := jsonFields(t)
		for k, v := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%w: unknown field %q%s (keys are case-sensitive)", errNotStrict, k, at)
			}
			if err := exactKeys(v, ft, " in "+strconv.Quote(k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if list, ok := raw.([]any); ok {
			for _, v := range list {
				if err := exactKeys(v, t.Elem(), at); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if obj, ok := raw.(map[string]any); ok {
			for _, v := range obj {
				if err := exactKeys(v, t.Elem(), at); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonFields are a struct type's JSON keys and their types, embedded structs' included.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// What a handler may read of a request, and how: only through these, so that nothing it reads
// has not passed the gate (the lint rule request-input-through-the-gate in .golangci.yml
// forbids r.PathValue, r.URL.Query, r.Header.Get, r.ParseForm, r.Form, r.PostForm and
// encoding/json's decoders everywhere else in this package). Each checks again what the gate
// checked, so that a value read here is an identifier or plain text even on a route someone
// registered past the gate.

// pathID is a path value: an identifier (ValidID; a link token for {token}), or "" when it
// is not one.
func pathID(r *http.Request, name string) string {
	if v := r.PathValue(name); validPathValue(name, v) {
		return v
	}
	return ""
}

// pathName is a path value as a gated.Name, for the store: the zero Name, which the store
// refuses, when it is not an identifier.
func pathName(r *http.Request, name string) gated.Name {
	n, _ := gated.ParseName(pathID(r, name))
	return n
}

// nameOf is s, a value the service has verified or read from the store (a link token's claims,
// once its signature is checked; a wave's namespace), as a gated.Name: the zero Name, which
// the store refuses, when it is not one.
func nameOf(s string) gated.Name {
	n, _ := gated.ParseName(s)
	return n
}

// textOf is s, text the service wrote itself (a reason), as a gated.Text: the zero Text when it
// is not plain text.
func textOf(s string) gated.Text {
	t, _ := gated.ParseText(s)
	return t
}

// queryValue is a query parameter's first value: plain text of at most maxQueryValue bytes,
// or "".
func queryValue(r *http.Request, name string) string {
	if v := r.URL.Query().Get(name); plainText(v, maxQueryValue) {
		return v
	}
	return ""
}

// headerValue is a request header's first value: plain text of at most maxHeaderValue bytes,
// or "".
func headerValue(r *http.Request, name string) string {
	if v := r.Header.Get(name); plainText(v, maxHeaderValue) {
		return v
	}
	return ""
}

// errFormNotPlain is a posted form with a name or value that is not plain text.
var errFormNotPlain = errors.New("a form field is not plain text")

// parseForm reads a posted form (URL-encoded; the gate refuses multipart), within the route's
// body bound, and checks every field's name, and every value but the answers': plain text. On
// GET and HEAD it reads nothing. Read the fields with formValue and postedValues.
//
// An answer's value (a field survey.FieldName names) is bounded here, and checked as text by
// the survey's own reader (survey.ReadForm, before anything is stored), which gives the form
// back with the question named ("unusual characters"), so that a respondent who pasted a
// control character loses none of their answers.
func parseForm(r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if err := r.ParseForm(); err != nil {
		r.PostForm = url.Values{} // what it read before the error is unchecked
		return err
	}
	for name, values := range r.PostForm {
		if !plainText(name, maxQueryValue) {
			r.PostForm = url.Values{}
			return errFormNotPlain
		}
		answer := strings.HasPrefix(name, survey.FieldName(""))
		for _, v := range values {
			if answer && len(v) <= maxFormValue {
				continue
			}
			if !plainText(v, maxFormValue) {
				r.PostForm = url.Values{}
				return errFormNotPlain
			}
		}
	}
	return nil
}

// maxFormValue bounds one form value (a written answer is bounded lower by its question).
const maxFormValue = 32 << 10

// postedValues are a posted form's values of a field (several for a multiple choice's boxes),
// once parseForm has checked them; nil before, or on GET.
func postedValues(r *http.Request, field string) []string { return r.PostForm[field] }

// formValue is a posted form's first value of a field, or "".
func formValue(r *http.Request, field string) string {
	if v := postedValues(r, field); len(v) > 0 {
		return v[0]
	}
	return ""
}
