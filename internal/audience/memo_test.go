package audience

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestReadsOf(t *testing.T) {
	for expr, want := range map[string][]string{
		`attrs.tenure == "shared-ownership"`:                      {"tenure"},
		`int(attrs.age) >= 65 && attrs["age band"] != "unknown"`:  {"age", "age band"},
		`has(attrs.mobile) || attrs.tenure.startsWith("general")`: {"mobile", "tenure"},
		`size(attrs) > 2`:                    nil, // the whole map
		`"mobile" in attrs`:                  nil,
		`attrs[attrs.which] == "1"`:          nil, // a computed key
		`attrs.exists(k, k.startsWith("x"))`: nil,
	} {
		if got := readsOf(expr); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: reads %v, want %v", expr, got, want)
		}
	}
}

// A scan remembers each segment's match per tuple of the attributes it reads: it must decide
// exactly what evaluating every record decides, errors included, whatever the records.
func TestRememberedMatchesEqualEvaluation(t *testing.T) {
	s := Spec{Format: CSV, IDField: "id", ContactColumns: map[string]string{"email": "email"}, Segments: []Segment{
		{Name: "older", Match: `int(attrs.age) >= 65`, Channels: []string{"email"}},
		{Name: "mobile", Match: `has(attrs.mobile) && attrs.mobile != ""`, Channels: []string{"email"}},
		{Name: "shared", Match: `attrs["tenure"] == "shared-ownership" || size(attrs) > 5`, Channels: []string{"email"}},
		{Name: "everyone", Channels: []string{"email"}},
	}}
	p, err := Compile(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	m := p.newMemo()
	for i := range 5000 {
		attrs := map[string]string{"id": fmt.Sprint(i), "email": "a@example.org"}
		if v := pick("70", "40", "65", "", "x", "-"); v != "-" {
			attrs["age"] = v // "" and "x" fail int(); "-" leaves it out
		}
		if v := pick("+447700900001", "", "-"); v != "-" {
			attrs["mobile"] = v
		}
		attrs["tenure"] = pick("general-needs", "shared-ownership")
		if rng.IntN(4) == 0 {
			attrs["extra"], attrs["more"] = "1", "2"
		}
		rec := Record{Line: i + 2, Attrs: attrs, names: p.names}
		seg1, ch1, c1, err1 := p.assign(&rec, m)
		seg2, ch2, c2, err2 := p.assign(&rec, nil)
		if seg1 != seg2 || ch1 != ch2 || c1 != c2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("record %v: remembered %d %s %v, evaluated %d %s %v", attrs, seg1, ch1, err1, seg2, ch2, err2)
		}
	}
	if n := len(m.seen[0]); n == 0 || n > 3 {
		t.Errorf("the age match remembered %d tuples; the records have 3 that evaluate", n)
	}
	if m.seen[2] != nil {
		t.Error("a match that reads attrs as a whole was remembered")
	}
}

// The second pass takes each record's segment and sampling hash from the first: a file that
// changed between them is refused, not half-applied.
func TestSelectRefusesAChangedFile(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		p := mustCompile(t, spec(), header)
		data := population(20)
		sel, _, err := p.Scan(strings.NewReader(data), "w")
		if err != nil {
			t.Fatal(err)
		}
		defer sel.Close()
		for name, changed := range map[string]string{
			"a line more":    data + "T-999999,x@example.org,,general-needs,40\n",
			"a line less":    data[:strings.LastIndex(strings.TrimSuffix(data, "\n"), "\n")+1],
			"another person": strings.Replace(data, "T-000003", "T-777777", 1),
			// The first pass found every byte UTF-8.
			"an email no longer UTF-8": strings.Replace(data, "p3@example.org", "p3@\xffexample.org", 1),
		} {
			if err := p.Select(strings.NewReader(changed), sel, func(Invitee) error { return nil }); !errors.Is(err, ErrChanged) {
				t.Errorf("%s: %v, want ErrChanged", name, err)
			}
		}
		n := 0
		if err := p.Select(strings.NewReader(data), sel, func(Invitee) error { n++; return nil }); err != nil || n != 20 {
			t.Errorf("the same file: %d people, %v", n, err)
		}
	})
}

// When every match names the attributes it reads, a scan decides a record's segment once per
// tuple of all of them: the same segments as evaluating each record, errors included.
func TestRememberedSegmentsEqualEvaluation(t *testing.T) {
	s := Spec{Format: CSV, IDField: "id", ContactColumns: map[string]string{"email": "email", "sms": "mobile"}, Segments: []Segment{
		{Name: "older", Match: `int(attrs.age) >= 65`, Channels: []string{"sms", "email"}},
		{Name: "shared", Match: `attrs["tenure"] == "shared-ownership" && has(attrs.mobile)`, Channels: []string{"sms"}},
		{Name: "everyone", Channels: []string{"email"}},
	}}
	p, err := Compile(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.wholeReads, []string{"age", "mobile", "tenure"}) {
		t.Fatalf("whole reads %v", p.wholeReads)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	m := p.newMemo()
	for i := range 5000 {
		attrs := map[string]string{"id": fmt.Sprint(i)}
		if v := pick("70", "40", "", "x", "-"); v != "-" {
			attrs["age"] = v
		}
		if v := pick("+447700900001", "", "-"); v != "-" {
			attrs["mobile"] = v
		}
		if v := pick("a@example.org", "", "-"); v != "-" {
			attrs["email"] = v
		}
		attrs["tenure"] = pick("general-needs", "shared-ownership")
		rec := Record{Line: i + 2, Attrs: attrs, names: p.names}
		seg1, ch1, c1, err1 := p.assign(&rec, m)
		seg2, ch2, c2, err2 := p.assign(&rec, nil)
		if seg1 != seg2 || ch1 != ch2 || c1 != c2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("record %v: remembered %d %s %s %v, evaluated %d %s %s %v", attrs, seg1, ch1, c1, err1, seg2, ch2, c2, err2)
		}
	}
	if n := len(m.segments); n == 0 || n > 4*3*2 {
		t.Errorf("remembered %d tuples; the records have at most 24", n)
	}
}

// The bulk check of a file's bytes agrees with utf8.Valid on the whole, however the reads cut
// it: random texts of ASCII, runes of every length, stray continuation bytes, bad lead bytes
// and runes cut short, read a byte at a time, in halves, and whole.
func TestUTF8ReaderAgreesWithValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pieces := [][]byte{[]byte("a,b\n"), []byte("é"), []byte("€"), []byte("😀"), {0x80}, {0xC0}, {0xFF}, {0xE2, 0x82}, {0xF0, 0x9F, 0x98}, {0xED, 0xA0, 0x80}}
	chunkings := map[string]func(io.Reader) io.Reader{"bytes": iotest.OneByteReader, "halves": iotest.HalfReader,
		"whole": func(r io.Reader) io.Reader { return r }, "EOF with data": iotest.DataErrReader}
	invalid := 0
	for range 3000 {
		var text []byte
		for range rng.IntN(12) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(3) > 0 {
				p = pieces[rng.IntN(4)] // mostly valid, so that both answers come up
			}
			text = append(text, p...)
		}
		want := !utf8.Valid(text)
		if want {
			invalid++
		}
		for name, chunk := range chunkings {
			u := &utf8Reader{r: chunk(bytes.NewReader(text))}
			if _, err := io.Copy(io.Discard, u); err != nil {
				t.Fatal(err)
			}
			if u.invalid != want {
				t.Fatalf("%q read as %s: invalid %v, want %v", text, name, u.invalid, want)
			}
		}
	}
	if invalid < 300 || invalid > 2700 {
		t.Errorf("%d of 3,000 texts invalid: the test hardly tries one of the answers", invalid)
	}
}
