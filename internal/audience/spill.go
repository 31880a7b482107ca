package audience

import (
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
	buf     []byte // records' bytes not yet written
	parts   [spillParts]*os.File
	partBuf [spillParts][]byte
	counts  [spillParts]int
	err     error // the first write that failed
}

// Buffer sizes: the records' file is written and read 64 KiB at a time, each ids' file 8 KiB.
const (
	recordsBuffer = 64 << 10
	partBuffer    = 8 << 10
)

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
	s.buf = make([]byte, 0, recordsBuffer)
	for i := range s.parts {
		if s.parts[i], err = os.Create(filepath.Join(dir, fmt.Sprintf("ids-%03d", i))); err != nil {
			return nil, errSpill(err)
		}
		s.partBuf[i] = make([]byte, 0, partBuffer)
	}
	return s, nil
}

// add writes one record's state (through buffers: the first error is kept, and reported by
// finish).
func (s *spill) add(id uint64, line int, segment int8, sampled bool, sample uint64) {
	if len(s.buf) > recordsBuffer-17 {
		s.buf = s.write(s.records, s.buf)
	}
	s.buf = append(binary.LittleEndian.AppendUint64(s.buf, id), byte(segment))
	if sampled {
		s.buf = binary.LittleEndian.AppendUint64(s.buf, sample)
	}
	p := id >> (64 - spillBits)
	b := s.partBuf[p]
	if len(b) > partBuffer-16 {
		b = s.write(s.parts[p], b)
	}
	s.partBuf[p] = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b, id), uint64(line))
	s.counts[p]++
}

// write writes b to f unless a write failed before, and returns b emptied.
func (s *spill) write(f *os.File, b []byte) []byte {
	if s.err == nil {
		_, s.err = f.Write(b)
	}
	return b[:0]
}

// finish flushes the records' file and runs the duplicate check over the ids' files, which it
// removes: the earliest line whose id an earlier line has, or nil.
func (s *spill) finish() (*LineError, error) {
	s.buf = s.write(s.records, s.buf)
	for i, f := range s.parts {
		s.partBuf[i] = s.write(f, s.partBuf[i])
	}
	if s.err != nil {
		return nil, errSpill(s.err)
	}
	if err := s.records.Close(); err != nil {
		return nil, errSpill(err)
	}
	s.records = nil
	var first *LineError
	var buf []byte
	var slots []int32
	for i, f := range s.parts {
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
	back   []byte // the records' file, read ahead
	buf    []byte // what of back is not decoded yet
	eof    bool
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
	c.f, c.back = f, make([]byte, recordsBuffer)
	return c, nil
}

// next is the next record's id hash, segment and sampling hash (0 outside a sampled segment);
// ok is false past the last record.
func (c *cursor) next() (id uint64, segment int, sample uint64, ok bool, err error) {
	sel := c.sel
	if c.f == nil {
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
	if len(c.buf) < 17 && !c.eof {
		// Keep what is left of the last read, and read up to the buffer's end.
		n := copy(c.back, c.buf)
		m, err := io.ReadFull(c.f, c.back[n:])
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			c.eof = true
		case err != nil:
			return 0, 0, 0, false, errSpill(err)
		}
		c.buf = c.back[:n+m]
	}
	if len(c.buf) == 0 && c.i == sel.records {
		return 0, 0, 0, false, nil
	}
	if len(c.buf) < 9 {
		return 0, 0, 0, false, errSpill(io.ErrUnexpectedEOF)
	}
	c.i++
	id, segment, n := binary.LittleEndian.Uint64(c.buf), int(int8(c.buf[8])), 9
	if segment >= 0 && sel.sampled[segment] {
		if len(c.buf) < 17 {
			return 0, 0, 0, false, errSpill(io.ErrUnexpectedEOF)
		}
		sample, n = binary.LittleEndian.Uint64(c.buf[9:]), 17
	}
	c.buf = c.buf[n:]
	return id, segment, sample, true, nil
}

func (c *cursor) close() {
	if c.f != nil {
		c.f.Close()
	}
}
