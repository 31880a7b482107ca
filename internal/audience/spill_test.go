package audience

import (
	"errors"
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
