// Package audience turns an audience file into the people a wave asks: it streams CSV or JSON
// Lines (UTF-8, with or without a byte-order mark, LF or CRLF) without holding the file in
// memory, assigns each person to the first segment whose CEL match is true, picks the channel
// each is reached by, and samples each segment deterministically from the wave's seed.
//
// Bad input is reported with its line number and never with the data on that line (the file
// holds personal data, and errors end up in Job termination messages and logs).
package audience

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is the file format of an audience.
type Format string

const (
	// CSV has a header row naming the columns.
	CSV Format = "CSV"
	// JSONLines has one JSON object per line, with string, number or boolean values.
	JSONLines Format = "JSONLines"
)

// Record is one person as read: their columns (all as strings) and the line they are on. A
// record is valid only until the callback returns: the reader reuses its storage for the next
// one (maps.Clone what Map returns to keep it).
type Record struct {
	Line int
	// Attrs are the columns by name: set for JSON Lines; for CSV, nil until Map fills it.
	Attrs map[string]string
	// A CSV record's fields, and the index of each column (shared by every record).
	fields  []string
	columns map[string]int
	scratch map[string]string
	// names are the columns a reader asked for by number (slot); for CSV, pos holds each one's
	// index in fields (-1: no such column), found once in the header. Shared by every record.
	names []string
	pos   []int
}

// slot is the value of the column the reader asked for as names[k], and whether the record has
// it: for CSV by index, without a look-up by name.
func (r *Record) slot(k int) (string, bool) {
	if r.pos != nil {
		if i := r.pos[k]; i >= 0 {
			return r.fields[i], true
		}
		return "", false
	}
	return r.Get(r.names[k])
}

// Get is one column's value, and whether the record has the column.
func (r *Record) Get(name string) (string, bool) {
	if r.Attrs != nil || r.columns == nil {
		v, ok := r.Attrs[name]
		return v, ok
	}
	i, ok := r.columns[name]
	if !ok {
		return "", false
	}
	return r.fields[i], true
}

// Map is every column by name. For CSV it fills a map the reader reuses for every record: most
// records are decided from a few columns (Get), and never need one.
func (r *Record) Map() map[string]string {
	if r.Attrs == nil && r.columns != nil {
		for name, i := range r.columns {
			r.scratch[name] = r.fields[i]
		}
		r.Attrs = r.scratch
	}
	return r.Attrs
}

// LineError is bad input at a line of the file. Its message never quotes the data.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func lineErr(line int, format string, args ...any) error {
	return &LineError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// Read streams the records of an audience file to fn, in order. It stops at the first bad line
// or at the first error fn returns. Columns names the columns every record must have (the id and
// contact columns): a CSV header without one of them is refused at line 1; a JSON object lacking
// one is refused at its line.
func Read(r io.Reader, format Format, required []string, fn func(Record) error) error {
	return read(r, format, required, nil, false, func(rec *Record) error { return fn(*rec) })
}

// read is Read whose records also hand out the columns named by number (Record.slot), and
// whose records are one Record, reused: fn must not keep it. checked says that a first pass
// read the same file whole and found it valid: a CSV file that is no longer UTF-8 is then
// ErrChanged.
func read(r io.Reader, format Format, required, names []string, checked bool, fn func(*Record) error) error {
	switch format {
	case CSV:
		u := &utf8Reader{r: r}
		return readCSV(withoutBOM(u), u, required, names, checked, fn)
	case JSONLines:
		return readJSONLines(withoutBOM(r), required, names, fn)
	}
	return fmt.Errorf("unknown audience format %q: use CSV or JSONLines", format)
}

// withoutBOM buffers r, past a byte-order mark at its start.
func withoutBOM(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, err := br.Peek(3); err == nil && bytes.Equal(head, bom) {
		_, _ = br.Discard(3)
	}
	return br
}

// utf8Reader passes a reader's bytes through and checks them for UTF-8 as they go, in bulk: a
// CSV file's delimiters, quotes and line ends are ASCII, so its fields are all UTF-8 when its
// bytes are, and one check of each read costs a fraction of one per field. A rune split
// between two reads is checked whole.
type utf8Reader struct {
	r       io.Reader
	tail    []byte // the start of a rune the last read ended in
	invalid bool   // a byte read so far is not UTF-8
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if !u.invalid {
		u.check(p[:n], err == io.EOF)
	}
	return n, err
}

func (u *utf8Reader) check(b []byte, eof bool) {
	if len(u.tail) > 0 {
		k := min(len(b), utf8.UTFMax-len(u.tail))
		r := append(u.tail, b[:k]...)
		if !utf8.FullRune(r) {
			u.tail, u.invalid = r, eof
			return
		}
		_, size := utf8.DecodeRune(r) // 1 for a lead byte the next bytes do not complete
		if !utf8.Valid(r[:size]) {
			u.invalid = true
			return
		}
		b = b[size-len(u.tail):]
		u.tail = u.tail[:0]
	}
	// The start of a rune that the read cut short waits for the next.
	start := len(b)
	for start > 0 && len(b)-start < utf8.UTFMax-1 && b[start-1]&0xC0 == 0x80 {
		start--
	}
	if start > 0 && b[start-1] >= 0xC0 && !utf8.FullRune(b[start-1:]) {
		start--
		u.tail = append(u.tail[:0], b[start:]...)
		b = b[:start]
	}
	if !utf8.Valid(b) || eof && len(u.tail) > 0 {
		u.invalid = true
	}
}

// readCSV reads a CSV file; u is the reader under r, which says whether the bytes read so far
// are UTF-8. Until one is not, the fields need no check of their own.
func readCSV(r io.Reader, u *utf8Reader, required, names []string, checked bool, fn func(*Record) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return lineErr(1, "the file is empty: a header row naming the columns is required")
	}
	if err != nil {
		return csvErr(err)
	}
	columns := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if !utf8.ValidString(h) {
			return lineErr(1, "column %d of the header is not valid UTF-8", i+1)
		}
		if h == "" {
			return lineErr(1, "column %d of the header has no name", i+1)
		}
		if seen[h] {
			return lineErr(1, "the header names the column %q twice", h)
		}
		seen[h] = true
		columns[i] = h
	}
	for _, c := range required {
		if !seen[c] {
			return lineErr(1, "the header has no column %q", c)
		}
	}
	// Records hand out their fields by column index; one map serves every record that needs one
	// (a map per record was a fifth of a scan). Every record has every column, so each
	// overwrites all of it.
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[c] = i
	}
	scratch := make(map[string]string, len(columns))
	pos := make([]int, len(names))
	for k, name := range names {
		pos[k] = -1
		if i, ok := index[name]; ok {
			pos[k] = i
		}
	}
	rec := Record{columns: index, scratch: scratch, names: names, pos: pos}
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvErr(err)
		}
		line, _ := cr.FieldPos(0) // only for a record read: a quote left open at the end is none
		if u.invalid {
			if checked {
				return ErrChanged
			}
			for i, f := range fields {
				if !utf8.ValidString(f) {
					return lineErr(line, "column %q is not valid UTF-8", columns[i])
				}
			}
		}
		rec.Line, rec.fields, rec.Attrs = line, fields, nil
		if err := fn(&rec); err != nil {
			return err
		}
	}
}

// csvErr reports a CSV parse error by line and kind, without the data.
func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, csv.ErrFieldCount):
			return lineErr(pe.Line, "wrong number of fields")
		case errors.Is(pe.Err, csv.ErrQuote), errors.Is(pe.Err, csv.ErrBareQuote):
			return lineErr(pe.Line, "a quote is misplaced")
		}
		return lineErr(pe.Line, "cannot be read as CSV")
	}
	return err
}

// maxLine bounds one JSON line.
const maxLine = 1 << 20

func readJSONLines(r *bufio.Reader, required, names []string, fn func(*Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if !utf8.Valid(text) {
			return lineErr(line, "not valid UTF-8")
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || dec.More() {
			return lineErr(line, "not a JSON object")
		}
		attrs := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				attrs[k] = v
			case json.Number:
				attrs[k] = v.String()
			case bool:
				attrs[k] = fmt.Sprint(v)
			case nil:
				attrs[k] = ""
			default:
				return lineErr(line, "field %q is not a string, number or boolean", k)
			}
		}
		for _, c := range required {
			if _, ok := attrs[c]; !ok {
				return lineErr(line, "has no field %q", c)
			}
		}
		if err := fn(&Record{Line: line, Attrs: attrs, names: names}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return lineErr(line+1, "longer than %d bytes", maxLine)
		}
		return err
	}
	return nil
}
