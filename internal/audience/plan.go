package audience

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"math"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
)

// Segment is a group of the audience: who belongs (a CEL expression over attrs; empty matches
// everyone left), the channels that reach them in order of preference, and the sample.
type Segment struct {
	Name     string
	Match    string
	Channels []string
	// Percent (1-100) or Count (>= 1) of the segment to ask; both zero is a census.
	Percent int
	Count   int
}

// Spec says how to read and divide an audience.
type Spec struct {
	Format   Format
	IDField  string
	Segments []Segment
	// ContactColumns maps each channel to the column holding its contact (email or phone).
	ContactColumns map[string]string
}

// Plan is a compiled Spec.
type Plan struct {
	spec     Spec
	programs []cel.Program // nil: matches everyone
	// reads are the attributes each segment's match reads, so that a scan evaluates it once
	// per distinct tuple of their values; nil when the match reads attrs as a whole (size,
	// in, a computed key), which it then evaluates for every record.
	reads    [][]string
	required []string
}

// memo remembers, during one pass, each segment's match for the tuples of attribute values it
// has evaluated: an audience has few distinct tuples of the attributes a segment reads (a
// tenure, an age band), so most records need no evaluation.
type memo struct {
	seen []map[string]bool
	key  []byte
}

// maxMemo bounds each segment's remembered tuples (a match on a unique column, such as a date
// of birth, would otherwise remember every record); past it, new tuples are evaluated and not
// remembered.
const maxMemo = 1 << 14

func (p *Plan) newMemo() *memo {
	return &memo{seen: make([]map[string]bool, len(p.programs))}
}

var env = func() *cel.Env {
	e, err := cel.NewEnv(cel.Variable("attrs", cel.MapType(cel.StringType, cel.StringType)), ext.Strings())
	if err != nil {
		panic(err)
	}
	return e
}()

// CompileExpression compiles a boolean CEL expression over attrs. When columns is not nil, a
// reference to an attribute outside it (attrs.agee, attrs["agee"]) is an error.
func CompileExpression(expr string, columns []string) (cel.Program, error) {
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if checked.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("the expression gives %s; it must give true or false", checked.OutputType())
	}
	if columns != nil {
		known := map[string]bool{}
		for _, c := range columns {
			known[c] = true
		}
		for _, name := range fieldsOf(checked, "attrs") {
			if !known[name] {
				return nil, fmt.Errorf("attrs has no column %q; the audience's columns are %v", name, columns)
			}
		}
	}
	return env.Program(checked)
}

// fieldsOf lists the keys an expression reads of a map: the map is the identifier `root`
// ("attrs"), or a path of selects from one ("response.answers"). Both attrs.age and
// attrs["age"] count.
func fieldsOf(checked *cel.Ast, root string) []string {
	var out []string
	for _, e := range ast.MatchDescendants(ast.NavigateAST(checked.NativeRep()), ast.AllMatcher()) {
		switch e.Kind() {
		case ast.SelectKind:
			sel := e.AsSelect()
			if pathOf(sel.Operand()) == root {
				out = append(out, sel.FieldName())
			}
		case ast.CallKind:
			call := e.AsCall()
			args := call.Args()
			if call.FunctionName() == operators.Index && len(args) == 2 && pathOf(args[0]) == root && args[1].Kind() == ast.LiteralKind {
				if s, ok := args[1].AsLiteral().(types.String); ok {
					out = append(out, string(s))
				}
			}
		}
	}
	return out
}

// pathOf renders an identifier or a chain of selects ("response.answers"), or "".
func pathOf(e ast.Expr) string {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent()
	case ast.SelectKind:
		if p := pathOf(e.AsSelect().Operand()); p != "" {
			return p + "." + e.AsSelect().FieldName()
		}
	}
	return ""
}

// Compile checks and compiles a Spec. columns are the audience's columns when known (a CSV
// header), so that a match naming a column that does not exist is refused before anything is
// sent; nil for JSON Lines, where such a match fails at the first line that lacks the field.
// Errors name the field of the SurveyCampaign they come from.
func Compile(spec Spec, columns []string) (*Plan, error) {
	if spec.IDField == "" {
		return nil, fmt.Errorf("spec.audience.source.idField is empty")
	}
	p := &Plan{spec: spec, required: []string{spec.IDField}}
	for i, s := range spec.Segments {
		if len(s.Channels) == 0 {
			return nil, fmt.Errorf("spec.audience.segments[%d].channels is empty", i)
		}
		for _, ch := range s.Channels {
			if _, ok := spec.ContactColumns[ch]; !ok {
				return nil, fmt.Errorf("spec.audience.segments[%d].channels: no channel %q", i, ch)
			}
		}
		if s.Match == "" {
			p.programs, p.reads = append(p.programs, nil), append(p.reads, nil)
			continue
		}
		prg, err := CompileExpression(s.Match, columns)
		if err != nil {
			return nil, fmt.Errorf("spec.audience.segments[%d].match: %w", i, err)
		}
		p.programs = append(p.programs, prg)
		p.reads = append(p.reads, readsOf(s.Match))
	}
	return p, nil
}

// readsOf lists the attributes a match reads, or nil when it reads attrs otherwise than by a
// literal name (attrs.x, attrs["x"], has(attrs.x)): as a whole, or by a computed key.
func readsOf(expr string) []string {
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil
	}
	fields := map[string]bool{}
	for _, e := range ast.MatchDescendants(ast.NavigateAST(checked.NativeRep()), ast.AllMatcher()) {
		if e.Kind() != ast.IdentKind || e.AsIdent() != "attrs" {
			continue
		}
		parent, ok := e.Parent()
		switch {
		case ok && parent.Kind() == ast.SelectKind:
			fields[parent.AsSelect().FieldName()] = true
		case ok && parent.Kind() == ast.CallKind && parent.AsCall().FunctionName() == operators.Index &&
			len(parent.AsCall().Args()) == 2 && parent.AsCall().Args()[1].Kind() == ast.LiteralKind:
			s, isString := parent.AsCall().Args()[1].AsLiteral().(types.String)
			if !isString {
				return nil
			}
			fields[string(s)] = true
		default:
			return nil
		}
	}
	out := make([]string, 0, len(fields))
	for f := range fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Required lists the columns every record must have: the id column.
func (p *Plan) Required() []string { return p.required }

// Segments are the names of the plan's segments, in the order they are matched.
func (p *Plan) Segments() []string {
	out := make([]string, len(p.spec.Segments))
	for i, s := range p.spec.Segments {
		out[i] = s.Name
	}
	return out
}

// Invitee is one person chosen for the wave.
type Invitee struct {
	Key     string
	Segment string
	Channel string
	Contact string
	Attrs   map[string]string
	Line    int
}

// Stats count what a scan of the audience found, by reason: nothing personal.
type Stats struct {
	Records     int
	BySegment   map[string]int // people in each segment
	Unsegmented int            // matched no segment
	Unreachable int            // no contact for any of the segment's channels
	Selected    map[string]int // people sampled from each segment
	// UnreachableBySegment splits Unreachable by segment.
	UnreachableBySegment map[string]int
}

// Selection is what the first pass decides: the hash threshold each segment's sample keeps.
type Selection struct {
	seed      string
	threshold []uint64 // keep a person when their hash is at most this
	// segments holds each record's segment, in file order (-1: none, or no channel reaches
	// them), and samples its sampling hash, so that the second pass neither segments nor
	// hashes again; ids a 32-bit hash of each record's id, to notice a file that changed
	// between the passes. 13 bytes a record.
	segments []int8
	samples  []uint64
	ids      []uint32
}

// ErrChanged is an audience that changed between the two passes over it.
var ErrChanged = errors.New("the audience changed while it was being read: start the wave again")

// assign returns the segment of a record (-1 for none) and the channel and contact reaching
// it ("" when no channel can).
func (p *Plan) assign(rec *Record, m *memo) (segment int, channel, contact string, err error) {
	for i, prg := range p.programs {
		matched := prg == nil
		if prg != nil {
			if matched, err = p.match(i, rec, m); err != nil {
				return -1, "", "", err
			}
		}
		if !matched {
			continue
		}
		channel, contact := p.reach(i, rec)
		return i, channel, contact, nil
	}
	return -1, "", "", nil
}

// match evaluates segment i's match on a record, or remembers it for the record's tuple of the
// attributes it reads (a tuple that fails to evaluate is never remembered: each line reports
// its own error).
func (p *Plan) match(i int, rec *Record, m *memo) (bool, error) {
	reads := p.reads[i]
	var key string
	if reads != nil && m != nil {
		k := m.key[:0]
		for _, f := range reads {
			v, present := rec.Get(f)
			if !present {
				k = append(k, 0)
				continue
			}
			k = binary.AppendUvarint(append(k, 1), uint64(len(v)))
			k = append(k, v...)
		}
		m.key = k
		if matched, ok := m.seen[i][string(k)]; ok {
			return matched, nil
		}
		key = string(k)
	}
	out, _, err := p.programs[i].Eval(map[string]any{"attrs": rec.Map()})
	if err != nil {
		return false, lineErr(rec.Line, "spec.audience.segments[%d].match cannot be evaluated: %s", i, evalError(err))
	}
	matched := out == types.True
	if reads != nil && m != nil {
		if m.seen[i] == nil {
			m.seen[i] = map[string]bool{}
		}
		if len(m.seen[i]) < maxMemo {
			m.seen[i][key] = matched
		}
	}
	return matched, nil
}

// evalError words a CEL runtime error without the data that caused it: a missing column is
// named (a column name is not personal data); anything else, such as a conversion of this
// line's value that failed, is described without quoting the value.
func evalError(err error) string {
	if key, ok := strings.CutPrefix(err.Error(), "no such key: "); ok {
		return fmt.Sprintf("this line has no field %q", key)
	}
	return "it fails on this line's values (a conversion such as int() of a value that is not a number?)"
}

// idSeed seeds the duplicate check's hash: it need only be stable within one scan.
var idSeed = maphash.MakeSeed()

// hash is a stable 64-bit hash of the seed and a key.
func hash(seed, key string) uint64 {
	sum := sha256.Sum256([]byte(seed + "\x00" + key))
	return binary.BigEndian.Uint64(sum[:8])
}

// Shard is the shard (0..shards-1) of a recipient key for an indexed Job: stable across waves
// and runs, so that shards never overlap.
func Shard(key string, shards int) int {
	if shards <= 1 {
		return 0
	}
	return int(hash("shard", key) % uint64(shards))
}

// maxHeap keeps the k smallest hashes seen.
type maxHeap []uint64

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Scan is the first pass: it validates every line (ids present and unique, segments
// computable), counts, and decides each segment's sample from the wave's seed. Memory holds 8
// bytes per person for the duplicate check and 8 bytes per sampled person for counts, never
// the records.
func (p *Plan) Scan(r io.Reader, seed string) (*Selection, Stats, error) {
	stats := Stats{BySegment: map[string]int{}, Selected: map[string]int{}, UnreachableBySegment: map[string]int{}}
	heaps := make([]*maxHeap, len(p.spec.Segments))
	sizes := make([]int, len(p.spec.Segments))
	sel := &Selection{seed: seed, threshold: make([]uint64, len(p.spec.Segments))}
	for i, s := range p.spec.Segments {
		sel.threshold[i] = math.MaxUint64
		if s.Count == 0 && s.Percent > 0 && s.Percent < 100 {
			sel.threshold[i] = uint64(float64(s.Percent) / 100 * math.MaxUint64)
		}
		stats.Selected[s.Name] = 0
	}
	seen := map[uint64]int{}
	m := p.newMemo()
	err := Read(r, p.spec.Format, p.required, func(rec Record) error {
		stats.Records++
		key, _ := rec.Get(p.spec.IDField)
		if key == "" {
			return lineErr(rec.Line, "the id column %q is empty", p.spec.IDField)
		}
		idHash := maphash.String(idSeed, key)
		if first, dup := seen[idHash]; dup {
			return lineErr(rec.Line, "the id is the same as on line %d", first)
		}
		seen[idHash] = rec.Line
		seg, channel, _, err := p.assign(&rec, m)
		if err != nil {
			return err
		}
		sel.ids = append(sel.ids, uint32(idHash))
		if seg < 0 || channel == "" {
			sel.segments, sel.samples = append(sel.segments, -1), append(sel.samples, 0)
		} else {
			sel.segments, sel.samples = append(sel.segments, int8(seg)), append(sel.samples, hash(seed, key))
		}
		if seg < 0 {
			stats.Unsegmented++
			return nil
		}
		name := p.spec.Segments[seg].Name
		stats.BySegment[name]++
		if channel == "" {
			stats.Unreachable++
			stats.UnreachableBySegment[name]++
			return nil
		}
		sizes[seg]++
		h := sel.samples[len(sel.samples)-1]
		k := p.spec.Segments[seg].Count
		if k == 0 {
			if h <= sel.threshold[seg] {
				stats.Selected[name]++
			}
			return nil
		}
		if heaps[seg] == nil {
			heaps[seg] = &maxHeap{}
		}
		switch { // keep the k smallest hashes: bottom-k sampling in one pass
		case heaps[seg].Len() < k:
			heap.Push(heaps[seg], h)
		case h < (*heaps[seg])[0]:
			(*heaps[seg])[0] = h
			heap.Fix(heaps[seg], 0)
		}
		return nil
	})
	if err != nil {
		return nil, stats, err
	}
	for i, s := range p.spec.Segments {
		if s.Count > 0 {
			if heaps[i] != nil && heaps[i].Len() >= s.Count {
				sel.threshold[i] = (*heaps[i])[0]
			}
			stats.Selected[s.Name] = min(s.Count, sizes[i])
		}
	}
	return sel, stats, nil
}

// Select is the second pass: it streams the people the Selection keeps, in file order. It
// takes each record's segment from the first pass, and fails with ErrChanged when the file is
// not the one the first pass read.
func (p *Plan) Select(r io.Reader, sel *Selection, fn func(Invitee) error) error {
	n := 0
	err := Read(r, p.spec.Format, p.required, func(rec Record) error {
		i := n
		n++
		key, _ := rec.Get(p.spec.IDField)
		if i >= len(sel.ids) || uint32(maphash.String(idSeed, key)) != sel.ids[i] {
			return ErrChanged
		}
		seg := int(sel.segments[i])
		if seg < 0 || sel.samples[i] > sel.threshold[seg] {
			return nil
		}
		channel, contact := p.reach(seg, &rec)
		return fn(Invitee{Key: key, Segment: p.spec.Segments[seg].Name, Channel: channel, Contact: contact, Attrs: maps.Clone(rec.Map()), Line: rec.Line})
	})
	if err == nil && n != len(sel.ids) {
		return ErrChanged
	}
	return err
}

// Reroute reaches a person through the next of their segment's channels that has a contact in
// their record and that skip does not refuse (an address that bounced); false when none is
// left.
func (p *Plan) Reroute(inv Invitee, skip func(channel string) bool) (Invitee, bool) {
	for _, s := range p.spec.Segments {
		if s.Name != inv.Segment {
			continue
		}
		for _, ch := range s.Channels {
			if v := inv.Attrs[p.spec.ContactColumns[ch]]; v != "" && !skip(ch) {
				inv.Channel, inv.Contact = ch, v
				return inv, true
			}
		}
	}
	return inv, false
}

// Contact is a person's contact for a channel: the value of the channel's contact column.
func (p *Plan) Contact(channel string, attrs map[string]string) string {
	return attrs[p.spec.ContactColumns[channel]]
}

// reach is the first of a segment's channels with a contact in a record, and the contact; ""
// when none has one.
func (p *Plan) reach(seg int, rec *Record) (channel, contact string) {
	for _, ch := range p.spec.Segments[seg].Channels {
		if v, _ := rec.Get(p.spec.ContactColumns[ch]); v != "" {
			return ch, v
		}
	}
	return "", ""
}

// SortedCounts lists a count map in name order, for stable output.
func SortedCounts(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

// Lookup streams the audience for the people in keys (a follow-up's cases) and reaches each
// through the first of channels with a contact in their record. A person no longer in the
// audience, or with no contact for any of channels, is not given to fn.
func (p *Plan) Lookup(r io.Reader, keys map[string]bool, channels []string, fn func(Invitee) error) error {
	return Read(r, p.spec.Format, p.required, func(rec Record) error {
		key, _ := rec.Get(p.spec.IDField)
		if !keys[key] {
			return nil
		}
		for _, ch := range channels {
			if v, _ := rec.Get(p.spec.ContactColumns[ch]); v != "" {
				return fn(Invitee{Key: key, Channel: ch, Contact: v, Attrs: maps.Clone(rec.Map()), Line: rec.Line})
			}
		}
		return nil
	})
}
