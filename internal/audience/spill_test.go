package audience

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A scan that must keep its records on disk and cannot says where it needed to write, and
// blames no line of the file; one that fits in memory needs no disk.
func TestSpillNeedsATemporaryDirectory(t *testing.T) {
	defer func(n int) { spillAfter = n }(spillAfter)
	spillAfter = 2
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	p := mustCompile(t, spec(), header)
	_, _, err := p.Scan(strings.NewReader(population(3)), "w")
	var le *LineError
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("three records, no temporary directory: %v", err)
	}
	sel, _, err := p.Scan(strings.NewReader(population(2)), "w")
	if err != nil || sel.spill != nil {
		t.Errorf("two records: %v", err)
	}
}

// A write to the temporary directory that fails (a full disk) is kept and reported when the
// pass ends, naming the directory; the files go all the same.
func TestSpillReportsAFailedWrite(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	s.records.Close()
	if s.records, err = os.Open(s.records.Name()); err != nil { // read-only: its writes fail
		t.Fatal(err)
	}
	for i := range 2 * recordsBuffer / 9 {
		s.add(uint64(i), i+2, 0, false, 0)
	}
	var pe *os.PathError
	if _, err := s.finish(); err == nil || !strings.Contains(err.Error(), "TMPDIR") || !errors.As(err, &pe) || pe.Op != "write" {
		t.Errorf("finish after a failed write: %v", err)
	}
	s.remove()
	if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A spilled scan reads its records' file back 64 KiB at a time, and a record of a sampled
// segment (17 bytes: id hash, segment, sampling hash) may straddle the end of a read: it is
// read whole wherever the end falls. Census records (9 bytes) first shift the end through
// every offset of a sampled record; the file is over 64 KiB each time.
func TestSpilledRecordsStraddleTheReadBuffer(t *testing.T) {
	defer func(n int) { spillAfter = n }(spillAfter)
	spillAfter = 2
	t.Setenv("TMPDIR", t.TempDir())
	s := spec()
	s.Segments[1].Percent = 50 // shared ownership: sampled
	s.Segments[2].Match = `attrs.tenure == "general-needs"`
	p := mustCompile(t, s, header)
	threshold := uint64(float64(50) / 100 * math.MaxUint64) // as Scan works it out
	const sampled = recordsBuffer/17 + 200
	for lead := range 17 {
		var b strings.Builder
		b.WriteString(strings.Join(header, ",") + "\n")
		want := map[string]bool{}
		for i := range lead { // census: 9 bytes each
			key := fmt.Sprintf("C-%02d", i)
			fmt.Fprintf(&b, "%s,c%d@example.org,,general-needs,40\n", key, i)
			want[key] = true
		}
		for i := range sampled { // sampled: 17 bytes each
			key := fmt.Sprintf("S-%05d", i)
			fmt.Fprintf(&b, "%s,s%d@example.org,,shared-ownership,40\n", key, i)
			want[key] = hash("w", key) <= threshold
		}
		fmt.Fprintf(&b, "C-last,last@example.org,,general-needs,40\n") // and a census record to end
		want["C-last"] = true
		stats, got := scan(t, p, b.String(), "w")
		if stats.Records != lead+sampled+1 || 9*(lead+1)+17*sampled <= recordsBuffer {
			t.Fatalf("%d census records first: %d records", lead, stats.Records)
		}
		kept, n := keys(got), 0
		for key, keep := range want {
			if kept[key] != keep {
				t.Errorf("%d census records first: %s kept %v, want %v", lead, key, kept[key], keep)
			}
			if keep {
				n++
			}
		}
		if len(got) != n {
			t.Errorf("%d census records first: %d kept, want %d", lead, len(got), n)
		}
	}
}
