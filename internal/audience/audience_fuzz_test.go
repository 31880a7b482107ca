package audience

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The audience file holds personal data, so an error may say only this: a line number, one
// of these messages, numbers, and (quoted) the name of a column or field, which is not
// personal data. Each message is written with Q where a quoted name stands.
var lineMessages = func() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, m := range []string{
		// read.go
		`the file is empty: a header row naming the columns is required`,
		`column \d+ of the header is not valid UTF-8`,
		`column \d+ of the header has no name`,
		`the header names the column Q twice`,
		`the header has no column Q`,
		`column Q is not valid UTF-8`,
		`wrong number of fields`,
		`a quote is misplaced`,
		`cannot be read as CSV`,
		`not valid UTF-8`,
		`not a JSON object`,
		`field Q is not a string, number or boolean`,
		`has no field Q`,
		`longer than \d+ bytes`,
		// plan.go
		`the id column Q is empty`,
		`the id column Q holds an id longer than \d+ bytes`,
		`the id column Q holds an id with a control character \(a NUL, a tab, a line break or another\)`,
		`spec\.audience\.segments\[\d+\]\.match cannot be evaluated: this line has no field Q`,
		`spec\.audience\.segments\[\d+\]\.match cannot be evaluated: it fails on this line's values \(a conversion such as int\(\) of a value that is not a number\?\)`,
		`the id is the same as on line \d+`,
	} {
		out = append(out, regexp.MustCompile("^"+m+"$"))
	}
	return out
}()

// quoted finds the strings a message quotes (%q).
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// lineCount is how many lines data has, the last one with or without its line end (an empty
// file has one, empty).
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) == 0 || data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// namesIn are the names an error about data may quote: the CSV header's columns, or the
// fields of the JSON object on the error's line; and names, the columns the caller gave.
func namesIn(data []byte, format Format, line int, names ...string) []string {
	data = bytes.TrimPrefix(data, bom)
	switch format {
	case CSV:
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord, r.LazyQuotes = -1, true
		header, _ := r.Read()
		for _, h := range header {
			names = append(names, strings.TrimSpace(h))
		}
	case JSONLines:
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, maxLine+1)
		for n := 1; sc.Scan(); n++ {
			if n == line {
				var obj map[string]any
				_ = json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &obj)
				names = slices.AppendSeq(names, maps.Keys(obj))
				break
			}
		}
	}
	return names
}

// checkLineError fails unless err, an error about data, is a LineError at a line data has,
// worded as one of lineMessages with nothing from the file but the names namesIn allows.
func checkLineError(t *testing.T, data []byte, format Format, err error, names ...string) *LineError {
	t.Helper()
	var le *LineError
	if !errors.As(err, &le) || le != err {
		t.Fatalf("%s %q: the error %v is not a LineError", format, data, err)
	}
	if le.Line < 1 || le.Line > lineCount(data) {
		t.Fatalf("%s %q: %v: the file has %d lines", format, data, err, lineCount(data))
	}
	allowed := namesIn(data, format, le.Line, names...)
	msg := quoted.ReplaceAllStringFunc(le.Msg, func(q string) string {
		name, uerr := strconv.Unquote(q)
		if uerr != nil || !slices.Contains(allowed, name) {
			t.Fatalf("%s %q: %v quotes %s, which is no column's name (%q)", format, data, err, q, allowed)
		}
		return "Q"
	})
	if !slices.ContainsFunc(lineMessages, func(m *regexp.Regexp) bool { return m.MatchString(msg) }) {
		t.Fatalf("%s %q: %q is not one of the messages an error about the file may have", format, data, le.Msg)
	}
	return le
}

// chunks reads at most n bytes at a time, so that runes and lines are cut between reads.
type chunks struct {
	r io.Reader
	n int
}

func (c *chunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

type readRecord struct {
	line  int
	attrs map[string]string
}

// readAll is every record Read gives, and its error.
func readAll(t *testing.T, r io.Reader, format Format, required []string) ([]readRecord, error) {
	var out []readRecord
	err := Read(r, format, required, func(rec Record) error {
		attrs := maps.Clone(rec.Map())
		for name, v := range attrs {
			if got, ok := rec.Get(name); !ok || got != v {
				t.Fatalf("line %d: Get(%q) = %q, %v; Map has %q", rec.Line, name, got, ok, v)
			}
		}
		out = append(out, readRecord{rec.Line, attrs})
		return nil
	})
	return out, err
}

// FuzzRead reads any file as CSV or JSON Lines, whole and in reads of a few bytes. Properties:
//   - both ways give the same records and the same error;
//   - each record is on a line the file has, after the one before, with the required
//     columns, and every value valid UTF-8;
//   - an error is a LineError at a line the file has, after the last record's, and says
//     nothing of the file but the names of its columns.
func FuzzRead(f *testing.F) {
	required := []string{"id", "email"}
	f.Fuzz(func(t *testing.T, data []byte, jsonLines bool, chunk uint8) {
		format := CSV
		if jsonLines {
			format = JSONLines
		}
		records, err := readAll(t, bytes.NewReader(data), format, required)
		again, aerr := readAll(t, &chunks{bytes.NewReader(data), int(chunk%16) + 1}, format, required)
		if !slices.EqualFunc(records, again, func(a, b readRecord) bool { return a.line == b.line && maps.Equal(a.attrs, b.attrs) }) ||
			(err == nil) != (aerr == nil) || err != nil && err.Error() != aerr.Error() {
			t.Fatalf("%s %q: whole, %d records and %v; in reads of %d bytes, %d records and %v",
				format, data, len(records), err, chunk%16+1, len(again), aerr)
		}
		last := 0
		for _, rec := range records {
			if rec.line <= last || rec.line > lineCount(data) || format == CSV && rec.line < 2 {
				t.Fatalf("%s %q: a record on line %d, after one on line %d, in %d lines", format, data, rec.line, last, lineCount(data))
			}
			last = rec.line
			for _, c := range required {
				if _, ok := rec.attrs[c]; !ok {
					t.Fatalf("%s %q: line %d has no %q", format, data, rec.line, c)
				}
			}
			for name, v := range rec.attrs {
				if !utf8.ValidString(name) || !utf8.ValidString(v) {
					t.Fatalf("%s %q: line %d: %q is %q, not UTF-8", format, data, rec.line, name, v)
				}
			}
		}
		if err != nil {
			if le := checkLineError(t, data, format, err, required...); le.Line <= last {
				t.Fatalf("%s %q: %v, after a record on line %d", format, data, err, last)
			}
		}
	})
}

// fuzzSpec divides an audience as a campaign does: a sampled segment, one sampled by count,
// one sampled at 100 per cent (everyone), and a census of everyone left.
func fuzzSpec(format Format) Spec {
	return Spec{
		Format:  format,
		IDField: "id",
		Segments: []Segment{
			{Name: "older", Match: `int(attrs.age) >= 65`, Channels: []string{"sms", "email"}, Percent: 50},
			{Name: "shared", Match: `attrs.tenure == "shared"`, Channels: []string{"email"}, Count: 2},
			{Name: "young", Match: `int(attrs.age) < 25`, Channels: []string{"sms"}, Percent: 100},
			{Name: "everyone", Channels: []string{"email", "sms"}},
		},
		ContactColumns: map[string]string{"email": "email", "sms": "mobile"},
		LanguageColumn: "lang",
	}
}

// FuzzScanSelect runs both passes of a wave over any file, its records in memory or (spill)
// on disk. Properties:
//   - Scan returns a Selection or an error, never both; an error says nothing of the file but
//     its columns' names, at a line the file has; it leaves no file behind;
//   - the counts add up: every record is in one segment or none, the unreachable are some of
//     a segment's, a sample is at most the segment's reachable people, a sample by count is
//     that many of them or all, a census or a sample of 100 per cent all;
//   - Select, over the same file, gives exactly the people the counts say, each once, in file
//     order, reached by the first of their segment's channels with a contact.
func FuzzScanSelect(f *testing.F) {
	plans := map[Format]*Plan{}
	for _, format := range []Format{CSV, JSONLines} {
		p, err := Compile(fuzzSpec(format), nil)
		if err != nil {
			f.Fatal(err)
		}
		plans[format] = p
	}
	tmp := f.TempDir()
	f.Setenv("TMPDIR", tmp)
	f.Fuzz(func(t *testing.T, data []byte, jsonLines bool, seed string, spilled bool) {
		format := CSV
		if jsonLines {
			format = JSONLines
		}
		p, spec := plans[format], fuzzSpec(format)
		if spilled {
			defer func(n int) { spillAfter = n }(spillAfter)
			spillAfter = 2
		}
		defer func() {
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Fatalf("%s %q: left behind %v", format, data, left)
			}
		}()
		sel, stats, err := p.Scan(bytes.NewReader(data), seed)
		if err != nil {
			if sel != nil {
				t.Fatalf("%s %q: a Selection and %v", format, data, err)
			}
			le := checkLineError(t, data, format, err, "id", "age", "tenure")
			var first int
			if n, _ := strings.CutPrefix(le.Msg, "the id is the same as on line "); n != le.Msg {
				if first, _ = strconv.Atoi(n); first < 1 || first >= le.Line {
					t.Fatalf("%s %q: %v", format, data, err)
				}
			}
			return
		}
		defer sel.Close()
		inSegments, unreachable := 0, 0
		for _, s := range spec.Segments {
			n, u, picked := stats.BySegment[s.Name], stats.UnreachableBySegment[s.Name], stats.Selected[s.Name]
			inSegments, unreachable = inSegments+n, unreachable+u
			if u > n || picked > n-u || s.Count > 0 && picked != min(s.Count, n-u) || s.Count == 0 && (s.Percent == 0 || s.Percent >= 100) && picked != n-u {
				t.Fatalf("%s %q: segment %s has %d, %d unreachable, %d selected", format, data, s.Name, n, u, picked)
			}
		}
		if stats.Records != inSegments+stats.Unsegmented || stats.Unreachable != unreachable {
			t.Fatalf("%s %q: the counts do not add up: %+v", format, data, stats)
		}

		bySegment, keys, last := map[string]int{}, map[string]bool{}, 0
		err = p.Select(bytes.NewReader(data), sel, func(inv Invitee) error {
			if inv.Line <= last || inv.Line > lineCount(data) || inv.Key == "" || keys[inv.Key] {
				t.Fatalf("%s %q: %q on line %d, after line %d", format, data, inv.Key, inv.Line, last)
			}
			last, keys[inv.Key] = inv.Line, true
			bySegment[inv.Segment]++
			i := slices.IndexFunc(spec.Segments, func(s Segment) bool { return s.Name == inv.Segment })
			if i < 0 {
				t.Fatalf("%s %q: segment %q", format, data, inv.Segment)
			}
			var want string
			for _, ch := range spec.Segments[i].Channels {
				if inv.Contacts.Of(ch) != "" {
					want = ch
					break
				}
			}
			if inv.Channel == "" || inv.Channel != want || inv.Contact == "" || inv.Contact != inv.Contacts.Of(inv.Channel) {
				t.Fatalf("%s %q: %q of %s reached by %q (%q), contacts %v", format, data, inv.Key, inv.Segment, inv.Channel, inv.Contact, inv.Contacts.Map())
			}
			if inv.Language != strings.TrimSpace(inv.Language) {
				t.Fatalf("%s %q: language %q", format, data, inv.Language)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s %q: Select after Scan: %v", format, data, err)
		}
		for _, s := range spec.Segments {
			if bySegment[s.Name] != stats.Selected[s.Name] {
				t.Fatalf("%s %q: Select gave %d of %s, Scan counted %d", format, data, bySegment[s.Name], s.Name, stats.Selected[s.Name])
			}
		}
	})
}
