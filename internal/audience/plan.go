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
	"runtime"
	"slices"
	"sort"
	"strings"
	"unicode"

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
	// LanguageColumn holds each person's language, if the list has one.
	LanguageColumn string
}

// Plan is a compiled Spec.
type Plan struct {
	spec     Spec
	programs []cel.Program // nil: matches everyone
	// reads are the attributes each segment's match reads, so that a scan evaluates it once
	// per distinct tuple of their values; nil when the match reads attrs as a whole (size,
	// in, a computed key), which it then evaluates for every record.
	reads [][]string
	// wholeReads is every attribute the matches read, when each reads only attributes it
	// names: a scan then decides a record's segment once per distinct tuple of them (nil
	// otherwise).
	wholeReads []string
	required   []string
	// channels are the campaign's channels, in name order.
	channels []string
	// names are the columns the plan reads, which records hand out by number (Record.slot):
	// the id's, each channel's contact column, and those the matches read.
	names    []string
	idSlot   int
	langSlot int     // -1: no language column
	contact  []int   // the slot of each channel's contact column, by channel (channels' order)
	reachOf  [][]int // each segment's channels, as indexes of channels, in order of preference
	readSlot [][]int // the slots of reads
	whole    []int   // the slots of wholeReads
}

// memo remembers, during one pass, each segment's match for the tuples of attribute values it
// has evaluated: an audience has few distinct tuples of the attributes a segment reads (a
// tenure, an age band), so most records need no evaluation.
type memo struct {
	seen []map[string]bool
	// segments is the segment of each tuple of the plan's whole reads, when it has them.
	segments map[string]int
	key      []byte
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
	for ch := range spec.ContactColumns {
		p.channels = append(p.channels, ch)
	}
	sort.Strings(p.channels)
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
	p.slots()
	return p, nil
}

// slots numbers the columns the plan reads.
func (p *Plan) slots() {
	slotOf := func(name string) int {
		if k := slices.Index(p.names, name); k >= 0 {
			return k
		}
		p.names = append(p.names, name)
		return len(p.names) - 1
	}
	p.idSlot = slotOf(p.spec.IDField)
	p.langSlot = -1
	if p.spec.LanguageColumn != "" {
		p.langSlot = slotOf(p.spec.LanguageColumn)
	}
	for _, ch := range p.channels {
		p.contact = append(p.contact, slotOf(p.spec.ContactColumns[ch]))
	}
	for _, s := range p.spec.Segments {
		var idx []int
		for _, ch := range s.Channels {
			idx = append(idx, slices.Index(p.channels, ch))
		}
		p.reachOf = append(p.reachOf, idx)
	}
	whole := map[string]bool{}
	memoable := true
	for i, prg := range p.programs {
		var slots []int
		for _, f := range p.reads[i] {
			slots = append(slots, slotOf(f))
			whole[f] = true
		}
		p.readSlot = append(p.readSlot, slots)
		if prg != nil && p.reads[i] == nil {
			memoable = false // a match reads attrs as a whole: each segment is remembered on its own
		}
	}
	if !memoable {
		return
	}
	p.wholeReads = slices.Sorted(maps.Keys(whole))
	p.whole = make([]int, len(p.wholeReads))
	for i, f := range p.wholeReads {
		p.whole[i] = slotOf(f)
	}
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

// Channels are a segment's channels, in order of preference (nil for no such segment).
func (p *Plan) Channels(segment string) []string {
	for _, s := range p.spec.Segments {
		if s.Name == segment {
			return s.Channels
		}
	}
	return nil
}

// Invitee is one person chosen for the wave.
type Invitee struct {
	Key     string
	Segment string
	// Channel and Contact are how the person is reached: the first of the segment's channels
	// with a contact in their record.
	Channel string
	Contact string
	// Contacts are the person's contact for every channel of the campaign that has one in their
	// record: to reach them another way (an address that bounced, an invitation an earlier run
	// reserved through another channel). Nothing else of the record is kept but their language
	// (LanguageColumn's value, "" without one).
	Contacts Contacts
	Language string
	Line     int
}

// Contacts are a person's contacts by channel.
type Contacts struct {
	channels []string // in name order, shared by every person of a plan
	values   []string // "" where the person has none
}

// ContactsOf makes Contacts from a map of channel to contact.
func ContactsOf(m map[string]string) Contacts {
	var c Contacts
	for _, ch := range slices.Sorted(maps.Keys(m)) {
		c.channels, c.values = append(c.channels, ch), append(c.values, m[ch])
	}
	return c
}

// Of is the contact for a channel ("" for none).
func (c Contacts) Of(channel string) string {
	if i, found := slices.BinarySearch(c.channels, channel); found {
		return c.values[i]
	}
	return ""
}

// Map is every contact by channel.
func (c Contacts) Map() map[string]string {
	out := map[string]string{}
	for i, ch := range c.channels {
		if c.values[i] != "" {
			out[ch] = c.values[i]
		}
	}
	return out
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

// Selection is what the first pass decides: the hash threshold each segment's sample keeps,
// and what it keeps of each record for the second pass. Close it when done.
type Selection struct {
	seed      string
	threshold []uint64 // keep a person when their hash is at most this
	records   int
	// segments holds each record's segment, in file order (-1: none, or no channel reaches
	// them), so that the second pass does not segment again; ids a hash of each record's id,
	// which finds duplicates and notices a file that changed between the passes: 9 bytes a
	// record. samples holds the sampling hash of each record of a sampled segment, in file
	// order (8 bytes more for those only: a census needs none). Past spillAfter records, all
	// three are in spill's files instead, and these are nil.
	segments []int8
	ids      []uint64
	samples  []uint64
	spill    *spill
	sampled  []bool // by segment: its records have a sampling hash
}

// Close removes the files of a Selection that holds its records on disk.
func (sel *Selection) Close() {
	if sel != nil && sel.spill != nil {
		sel.spill.remove()
		sel.spill = nil
	}
}

// keep records what the second pass needs of a record: in memory, or, past spillAfter
// records, on disk, starting with those it held.
func (sel *Selection) keep(lines *lineIndex, id uint64, line int, segment int8, sample uint64) error {
	if sel.spill == nil && len(sel.ids) == spillAfter {
		s, err := newSpill()
		if err != nil {
			return err
		}
		c, _ := sel.cursor() // in memory: no error
		for i := 0; ; i++ {
			id, seg, h, ok, _ := c.next()
			if !ok {
				break
			}
			s.add(id, lines.line(i), int8(seg), seg >= 0 && sel.sampled[seg], h)
		}
		sel.spill, sel.ids, sel.segments, sel.samples, *lines = s, nil, nil, nil, lineIndex{}
	}
	sampled := segment >= 0 && sel.sampled[segment]
	if sel.spill != nil {
		sel.spill.add(id, line, segment, sampled, sample)
		return nil
	}
	lines.add(len(sel.ids), line)
	sel.ids = grow(sel.ids, id)
	sel.segments = grow(sel.segments, segment)
	if sampled {
		sel.samples = grow(sel.samples, sample)
	}
	return nil
}

// ErrChanged is an audience that changed between the two passes over it.
var ErrChanged = errors.New("the audience changed while it was being read: start the wave again")

// assign returns the segment of a record (-1 for none) and the channel and contact reaching
// it ("" when no channel can).
func (p *Plan) assign(rec *Record, m *memo) (segment int, channel, contact string, err error) {
	if m != nil && p.wholeReads != nil {
		// One look-up decides the segment of every record with a tuple seen before.
		k := appendTuple(m.key[:0], rec, p.whole)
		m.key = k
		seg, ok := m.segments[string(k)]
		if !ok {
			if seg, err = p.segmentOf(rec, nil); err != nil {
				return -1, "", "", err
			}
			if m.segments == nil {
				m.segments = map[string]int{}
			}
			if len(m.segments) < maxMemo {
				m.segments[string(k)] = seg
			}
		}
		if seg < 0 {
			return -1, "", "", nil
		}
		channel, contact := p.reach(seg, rec)
		return seg, channel, contact, nil
	}
	seg, err := p.segmentOf(rec, m)
	if err != nil || seg < 0 {
		return -1, "", "", err
	}
	channel, contact = p.reach(seg, rec)
	return seg, channel, contact, nil
}

// appendTuple appends the values of fields in a record to k, each marked present or absent,
// with its length: two different tuples never make the same key.
func appendTuple(k []byte, rec *Record, slots []int) []byte {
	for _, f := range slots {
		v, present := rec.slot(f)
		if !present {
			k = append(k, 0)
			continue
		}
		k = binary.AppendUvarint(append(k, 1), uint64(len(v)))
		k = append(k, v...)
	}
	return k
}

// segmentOf is the first segment whose match is true for a record (-1 for none), each match
// remembered on its own in m (nil: evaluated).
func (p *Plan) segmentOf(rec *Record, m *memo) (int, error) {
	for i, prg := range p.programs {
		matched := prg == nil
		if prg != nil {
			var err error
			if matched, err = p.match(i, rec, m); err != nil {
				return -1, err
			}
		}
		if matched {
			return i, nil
		}
	}
	return -1, nil
}

// match evaluates segment i's match on a record, or remembers it for the record's tuple of the
// attributes it reads (a tuple that fails to evaluate is never remembered: each line reports
// its own error).
func (p *Plan) match(i int, rec *Record, m *memo) (bool, error) {
	reads := p.reads[i]
	var key string
	if reads != nil && m != nil {
		k := appendTuple(m.key[:0], rec, p.readSlot[i])
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

// radixSort sorts a in place (and returns it): four passes of 16 bits, through a buffer of
// its size.
func radixSort(a []uint64) []uint64 {
	if len(a) < 12<<10 { // below, comparisons cost less than four passes over 65,536 counters
		slices.Sort(a)
		return a
	}
	buf := make([]uint64, len(a))
	var count [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		clear(count[:])
		for _, v := range a {
			count[(v>>shift)&0xffff]++
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, v := range a {
			d := (v >> shift) & 0xffff
			buf[count[d]] = v
			count[d]++
		}
		a, buf = buf, a
	}
	return a
}

// grow appends v to s, doubling its capacity when full: the per-record slices of a scan reach
// millions of entries, which growing by a quarter would copy many times.
func grow[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(cap(s), 1024))
	}
	return append(s, v)
}

// idSeed seeds the duplicate check's hash: it need only be stable within one scan.
var idSeed = maphash.MakeSeed()

// percentThreshold is the hash at most which a person is in a sample of percent (1-99).
func percentThreshold(percent int) uint64 { return uint64(float64(percent) / 100 * math.MaxUint64) }

// hash is a stable 64-bit hash of the seed and a key.
func hash(seed, key string) uint64 {
	return hashBytes([]byte(seed + "\x00" + key))
}

// hashBytes is hash of seed, a zero byte and key, written out.
func hashBytes(b []byte) uint64 {
	sum := sha256.Sum256(b)
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
// computable), counts, and decides each segment's sample from the wave's seed. It keeps 9
// bytes per person (the id's hash and the segment) and 8 more for each person in a sampled
// segment (the sampling hash): in memory up to spillAfter records, in a temporary directory
// past them. Memory holds 8 bytes for each person sampled by count, never the records.
func (p *Plan) Scan(r io.Reader, seed string) (*Selection, Stats, error) {
	segments := p.spec.Segments
	heaps := make([]*maxHeap, len(segments))
	sizes := make([]int, len(segments))       // reachable people of each segment
	bySegment := make([]int, len(segments))   // people of each segment
	unreachable := make([]int, len(segments)) // of them, no channel reaches
	selected := make([]int, len(segments))    // sampled by percent, or in a census
	sampled := make([]bool, len(segments))    // the segment needs each person's sampling hash
	sel := &Selection{seed: seed, threshold: make([]uint64, len(segments)), sampled: sampled}
	for i, s := range segments {
		sel.threshold[i] = math.MaxUint64
		if s.Count == 0 && s.Percent > 0 && s.Percent < 100 {
			sel.threshold[i] = percentThreshold(s.Percent)
		}
		sampled[i] = s.Count > 0 || sel.threshold[i] != math.MaxUint64
	}
	var lines lineIndex // each record's line, to name the lines of a duplicate id
	var buf []byte      // the sampling hash's input
	records, unsegmented := 0, 0
	m := p.newMemo()
	err := read(r, p.spec.Format, p.required, p.names, false, func(rec *Record) error {
		records++
		key, _ := rec.slot(p.idSlot)
		if key == "" {
			return lineErr(rec.Line, "the id column %q is empty", p.spec.IDField)
		}
		if msg := badID(key); msg != "" {
			return lineErr(rec.Line, "the id column %q %s", p.spec.IDField, msg)
		}
		id := maphash.String(idSeed, key)
		seg, channel, _, err := p.assign(rec, m)
		if err != nil {
			return err
		}
		if seg < 0 {
			unsegmented++
			return sel.keep(&lines, id, rec.Line, -1, 0)
		}
		bySegment[seg]++
		if channel == "" {
			unreachable[seg]++
			return sel.keep(&lines, id, rec.Line, -1, 0)
		}
		var h uint64 // a census keeps everyone: no hash needed
		if sampled[seg] {
			buf = append(append(append(buf[:0], seed...), 0), key...)
			h = hashBytes(buf)
		}
		if err := sel.keep(&lines, id, rec.Line, int8(seg), h); err != nil {
			return err
		}
		sizes[seg]++
		k := segments[seg].Count
		if k == 0 {
			if h <= sel.threshold[seg] {
				selected[seg]++
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
	// A duplicate id before the line that stopped the scan (if one did) is the error to report.
	stop := math.MaxInt
	var le *LineError
	if errors.As(err, &le) && le.Line > 0 {
		stop = le.Line
	}
	if err == nil || stop < math.MaxInt {
		var dup *LineError
		if sel.spill != nil {
			var serr error
			if dup, serr = sel.spill.finish(); serr != nil {
				err = serr
			}
		} else {
			dup = firstDuplicate(sel.ids, &lines)
			if len(sel.ids) >= 1<<16 {
				// The check's 16 bytes a line are garbage now. Collected at once, they do not set
				// the heap's next target: left, the second pass's garbage would grow to twice their
				// size (at 262,144 lines, a 6 MB heap peak instead of 3; only the sender scans, once).
				runtime.GC()
			}
		}
		if dup != nil && dup.Line < stop {
			err = dup
		}
	}
	sel.records = records
	stats := Stats{Records: records, Unsegmented: unsegmented, BySegment: map[string]int{}, Selected: map[string]int{},
		UnreachableBySegment: map[string]int{}}
	for i, s := range segments {
		stats.Selected[s.Name] = selected[i]
		if bySegment[i] > 0 {
			stats.BySegment[s.Name] = bySegment[i]
		}
		if unreachable[i] > 0 {
			stats.UnreachableBySegment[s.Name] = unreachable[i]
			stats.Unreachable += unreachable[i]
		}
	}
	if err != nil {
		sel.Close()
		return nil, stats, err
	}
	for i, s := range segments {
		if s.Count > 0 {
			if heaps[i] != nil && heaps[i].Len() >= s.Count {
				sel.threshold[i] = (*heaps[i])[0]
			}
			stats.Selected[s.Name] = min(s.Count, sizes[i])
		}
	}
	return sel, stats, nil
}

// firstDuplicate finds the earliest line whose id hash an earlier line has, from the hashes of
// the records in file order and their lines: a sorted copy finds the hashes that repeat (a
// radix sort costs a fifth of a map of a million entries), and one more pass, only when there
// are any, the lines.
func firstDuplicate(ids []uint64, lines *lineIndex) *LineError {
	sorted := radixSort(slices.Clone(ids))
	repeated := map[uint64]bool{}
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			repeated[sorted[i]] = true
		}
	}
	if len(repeated) == 0 {
		return nil
	}
	first := map[uint64]int{}
	for i, h := range ids {
		if !repeated[h] {
			continue
		}
		if line, seen := first[h]; seen {
			return &LineError{Line: lines.line(i), Msg: fmt.Sprintf("the id is the same as on line %d", line)}
		}
		first[h] = lines.line(i)
	}
	return nil
}

// lineIndex gives the line of each record from where the records stop following each other
// line by line (a record over several lines, blank lines skipped): usually nothing to hold,
// where a line per record took 4 bytes a record.
type lineIndex struct {
	next   int         // the line the next record has when it follows its predecessor
	breaks []lineBreak // the records that do not, in order
}

type lineBreak struct{ record, line int }

func (x *lineIndex) add(record, line int) {
	if record == 0 || line != x.next {
		x.breaks = append(x.breaks, lineBreak{record, line})
	}
	x.next = line + 1
}

// line is the line of record i (0-based, in file order).
func (x *lineIndex) line(i int) int {
	j, _ := slices.BinarySearchFunc(x.breaks, i, func(b lineBreak, i int) int { return b.record - i })
	if j == len(x.breaks) || x.breaks[j].record != i {
		j-- // the last break before i
	}
	b := x.breaks[j]
	return b.line + i - b.record
}

// Select is the second pass: it streams the people the Selection keeps, in file order. It
// takes each record's segment from the first pass, and fails with ErrChanged when the file is
// not the one the first pass read.
func (p *Plan) Select(r io.Reader, sel *Selection, fn func(Invitee) error) error {
	c, err := sel.cursor()
	if err != nil {
		return err
	}
	defer c.close()
	n := 0
	err = read(r, p.spec.Format, p.required, p.names, true, func(rec *Record) error {
		n++
		key, _ := rec.slot(p.idSlot)
		id, seg, h, ok, err := c.next()
		switch {
		case err != nil:
			return err
		case !ok || maphash.String(idSeed, key) != id:
			return ErrChanged
		case seg < 0, sel.sampled[seg] && h > sel.threshold[seg]:
			return nil
		}
		channel, contact := p.reach(seg, rec)
		return fn(Invitee{Key: key, Segment: p.spec.Segments[seg].Name, Channel: channel, Contact: contact, Contacts: p.contacts(rec),
			Language: p.language(rec), Line: rec.Line})
	})
	if err == nil && n != sel.records {
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
			if v := inv.Contacts.Of(ch); v != "" && !skip(ch) {
				inv.Channel, inv.Contact = ch, v
				return inv, true
			}
		}
	}
	return inv, false
}

// language is a record's language column ("" without one).
func (p *Plan) language(rec *Record) string {
	if p.langSlot < 0 {
		return ""
	}
	v, _ := rec.slot(p.langSlot)
	return strings.TrimSpace(v)
}

// contacts are a record's contacts by channel.
func (p *Plan) contacts(rec *Record) Contacts {
	c := Contacts{channels: p.channels, values: make([]string, len(p.channels))}
	for i, k := range p.contact {
		c.values[i], _ = rec.slot(k)
	}
	return c
}

// reach is the first of a segment's channels with a contact in a record, and the contact; ""
// when none has one.
func (p *Plan) reach(seg int, rec *Record) (channel, contact string) {
	for _, ch := range p.reachOf[seg] {
		if v, _ := rec.slot(p.contact[ch]); v != "" {
			return p.channels[ch], v
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
	return read(r, p.spec.Format, p.required, p.names, false, func(rec *Record) error {
		key, _ := rec.slot(p.idSlot)
		if !keys[key] {
			return nil
		}
		for _, ch := range channels {
			if v, _ := rec.Get(p.spec.ContactColumns[ch]); v != "" {
				return fn(Invitee{Key: key, Channel: ch, Contact: v, Contacts: p.contacts(rec), Language: p.language(rec), Line: rec.Line})
			}
		}
		return nil
	})
}

// MaxIDBytes bounds a person's id. Its links carry it: a follow-up's case link as the
// FollowUp's UID, a slash and the id, in a field of at most 255 bytes (internal/token); and the
// ledger refuses an id over 253 bytes. A file holding a longer id fails its first pass, at its
// line, before anything is sent, instead of sending links that cannot work.
const MaxIDBytes = 200

// badID says what is wrong with an id (already valid UTF-8), or "": it is at most MaxIDBytes
// and holds no control character (NUL, tab, a line break, DEL, C1), which the ledger refuses and
// which would make one person's id look like another's in an export. The id itself is never
// quoted: it may be personal data.
func badID(id string) string {
	if len(id) > MaxIDBytes {
		return fmt.Sprintf("holds an id longer than %d bytes", MaxIDBytes)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return "holds an id with a control character (a NUL, a tab, a line break or another)"
		}
	}
	return ""
}
