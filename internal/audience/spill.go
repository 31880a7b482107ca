package audience

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// spillAfter is how many records a scan keeps in memory (9 bytes each, and 16 more briefly
// for the duplicate check). Past it, the scan writes what it keeps of each record to files in
// a temporary directory (TMPDIR), so that the sender's memory does not grow with the audience.
// A variable so that tests take both ways on small files.
var spillAfter = 1 << 18

// spillParts is how many files the duplicate check spreads the ids over, by their hash's top
// spillBits: each is checked on its own, in memory (its 16 bytes an entry, and a table of 8 to
// 16 bytes an entry: at ten million records, 5 MB at most).
const (
	spillBits  = 6
	spillParts = 1 << spillBits
)

// spill holds the first pass's per-record state on disk:
//   - records: each record's id hash (8 bytes), segment (1 byte, -1 for none) and, in a sampled
//     segment, its sampling hash (8 bytes), in file order, for the second pass to read in step;
//   - ids-NNN: each record's id hash and line (16 bytes), by the hash's top bits, for the
//     duplicate check; removed once it is done.
type spill struct {
	dir     string
	records *os.File
	w       *bufio.Writer
	parts   [spillParts]*os.File
	partW   [spillParts]*bufio.Writer
	counts  [spillParts]int
	entry   [17]byte
}

// errSpill words a failure to use the temporary directory.
func errSpill(err error) error {
	return fmt.Errorf("the audience has more than %d records, and a scan keeps what it needs of each in a temporary directory "+
		"(TMPDIR, or /tmp; the sender Job mounts an emptyDir there): %w", spillAfter, err)
}

func newSpill() (s *spill, err error) {
	dir, err := os.MkdirTemp("", "survey-audience-")
	if err != nil {
		return nil, errSpill(err)
	}
	s = &spill{dir: dir}
	defer func() {
		if err != nil {
			s.remove()
			s = nil
		}
	}()
	if s.records, err = os.Create(filepath.Join(dir, "records")); err != nil {
		return nil, errSpill(err)
	}
	s.w = bufio.NewWriterSize(s.records, 64<<10)
	for i := range s.parts {
		if s.parts[i], err = os.Create(filepath.Join(dir, fmt.Sprintf("ids-%03d", i))); err != nil {
			return nil, errSpill(err)
		}
		s.partW[i] = bufio.NewWriterSize(s.parts[i], 8<<10)
	}
	return s, nil
}

// add writes one record's state. Write errors are kept by the writers, and reported by finish.
func (s *spill) add(id uint64, line int, segment int8, sampled bool, sample uint64) {
	binary.LittleEndian.PutUint64(s.entry[:8], id)
	s.entry[8] = byte(segment)
	n := 9
	if sampled {
		binary.LittleEndian.PutUint64(s.entry[9:], sample)
		n = 17
	}
	_, _ = s.w.Write(s.entry[:n])
	p := id >> (64 - spillBits)
	binary.LittleEndian.PutUint64(s.entry[8:], uint64(line))
	_, _ = s.partW[p].Write(s.entry[:16])
	s.counts[p]++
}

// finish flushes the records' file and runs the duplicate check over the ids' files, which it
// removes: the earliest line whose id an earlier line has, or nil.
func (s *spill) finish() (*LineError, error) {
	if err := s.w.Flush(); err != nil {
		return nil, errSpill(err)
	}
	if err := s.records.Close(); err != nil {
		return nil, errSpill(err)
	}
	s.records = nil
	var first *LineError
	var buf []byte
	var slots []int32
	for i, f := range s.parts {
		if err := s.partW[i].Flush(); err != nil {
			return nil, errSpill(err)
		}
		buf = slices.Grow(buf[:0], 16*s.counts[i])[:16*s.counts[i]]
		if _, err := f.ReadAt(buf, 0); err != nil {
			return nil, errSpill(err)
		}
		f.Close()
		s.parts[i] = nil
		if err := os.Remove(f.Name()); err != nil {
			return nil, errSpill(err)
		}
		// A part's entries are in file order: its first repeat is its earliest duplicate line,
		// and the earliest of the parts' is the file's.
		var dup, of int
		if dup, of, slots = firstRepeat(buf, slots); dup < 0 {
			continue
		}
		line := int(binary.LittleEndian.Uint64(buf[16*dup+8:]))
		if first == nil || line < first.Line {
			first = &LineError{Line: line, Msg: fmt.Sprintf("the id is the same as on line %d", binary.LittleEndian.Uint64(buf[16*of+8:]))}
		}
	}
	return first, nil
}

// firstRepeat finds, in entries of 16 bytes (an id hash, then a line), the first entry whose id
// an earlier one has, and that earlier one: dup is -1 when there is none. It puts the ids in an
// open-addressing table (slots, reused), indexed by their low bits: they are hashes already, and
// a part holds the ids of the same top bits. Linear in the entries, where sorting a part took
// twice as long as the rest of the check.
func firstRepeat(entries []byte, slots []int32) (dup, of int, _ []int32) {
	n := len(entries) / 16
	size := 1
	for size < 2*n {
		size <<= 1
	}
	slots = slices.Grow(slots[:0], size)[:size]
	for i := range slots {
		slots[i] = -1
	}
	id := func(i int32) uint64 { return binary.LittleEndian.Uint64(entries[16*i:]) }
	mask := uint64(size - 1)
	for i := range int32(n) {
		h := id(i)
		for j := h & mask; ; j = (j + 1) & mask {
			k := slots[j]
			if k < 0 {
				slots[j] = i
				break
			}
			if id(k) == h {
				return int(i), int(k), slots
			}
		}
	}
	return -1, -1, slots
}

// remove closes and deletes every file.
func (s *spill) remove() {
	if s.records != nil {
		s.records.Close()
	}
	for _, f := range s.parts {
		if f != nil {
			f.Close()
		}
	}
	_ = os.RemoveAll(s.dir)
}

// cursor reads the first pass's state of each record in file order, from memory or from the
// records' file.
type cursor struct {
	sel    *Selection
	i      int // records read
	sample int // sampling hashes read from memory
	f      *os.File
	r      *bufio.Reader
}

func (sel *Selection) cursor() (*cursor, error) {
	c := &cursor{sel: sel}
	if sel.spill == nil {
		return c, nil
	}
	f, err := os.Open(filepath.Join(sel.spill.dir, "records"))
	if err != nil {
		return nil, errSpill(err)
	}
	c.f, c.r = f, bufio.NewReaderSize(f, 64<<10)
	return c, nil
}

// next is the next record's id hash, segment and sampling hash (0 outside a sampled segment);
// ok is false past the last record.
func (c *cursor) next() (id uint64, segment int, sample uint64, ok bool, err error) {
	sel := c.sel
	if c.r == nil {
		if c.i >= len(sel.ids) {
			return 0, 0, 0, false, nil
		}
		id, segment = sel.ids[c.i], int(sel.segments[c.i])
		c.i++
		if segment >= 0 && sel.sampled[segment] {
			sample = sel.samples[c.sample]
			c.sample++
		}
		return id, segment, sample, true, nil
	}
	b, err := c.r.Peek(9)
	if len(b) < 9 {
		if len(b) == 0 && errors.Is(err, io.EOF) && c.i == sel.records {
			return 0, 0, 0, false, nil
		}
		return 0, 0, 0, false, errSpill(cmp.Or(err, io.ErrUnexpectedEOF))
	}
	c.i++
	id, segment = binary.LittleEndian.Uint64(b), int(int8(b[8]))
	n := 9
	if segment >= 0 && sel.sampled[segment] {
		if b, err = c.r.Peek(17); len(b) < 17 {
			return 0, 0, 0, false, errSpill(cmp.Or(err, io.ErrUnexpectedEOF))
		}
		sample, n = binary.LittleEndian.Uint64(b[9:]), 17
	}
	_, _ = c.r.Discard(n)
	return id, segment, sample, true, nil
}

func (c *cursor) close() {
	if c.f != nil {
		c.f.Close()
	}
}
