package audience

import (
	"errors"
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
