package audience

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// writeAudience writes an n-row audience file, streaming, and returns its path.
func writeAudience(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "audience.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "tenancy_ref,email,mobile,tenure,age")
	tenures := []string{"general-needs", "shared-ownership", "supported", "older-persons", "leasehold"}
	for i := range n {
		fmt.Fprintf(w, "T-%07d,resident%d@example.org,+4477009%05d,%s,%d\n", i, i, i%100000, tenures[i%5], 18+i%80)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

// benchRows is the size of the 1M-row benchmarks' file: 1,000,000 lines, or 10,000 with
// BENCH_SMALL=1 (make bench-smoke, which checks that they still run).
func benchRows() int {
	if os.Getenv("BENCH_SMALL") == "1" {
		return 10_000
	}
	return 1_000_000
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}

// BenchmarkScanSelect1MRows streams a 1,000,000-row file through segmenting, sampling (both
// passes) and reports the process's peak RSS; run it alone (-run '^$' -bench ScanSelect1M) so
// that the peak is its own. BenchmarkBaselineCSVRead1MRows reads the same file with
// encoding/csv and does nothing else.
func BenchmarkScanSelect1MRows(b *testing.B) {
	path := writeAudience(b, benchRows())
	p := benchPlan(b)
	for b.Loop() {
		scanSelect(b, p, path)
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func BenchmarkBaselineCSVRead1MRows(b *testing.B) {
	path := writeAudience(b, benchRows())
	for b.Loop() {
		csvRead(b, path)
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

// BenchmarkScanSelectAgainstCSVRead1MRows does both in each op, which going first in turn, so
// that the machine's noise (it moves single runs of either by a quarter) falls on both alike,
// and reports the ratio of their times (the goal: at most 4).
func BenchmarkScanSelectAgainstCSVRead1MRows(b *testing.B) {
	path := writeAudience(b, benchRows())
	p := benchPlan(b)
	var scan, bare time.Duration
	for i := 0; b.Loop(); i++ {
		both := []func(){
			func() { start := time.Now(); scanSelect(b, p, path); scan += time.Since(start) },
			func() { start := time.Now(); csvRead(b, path); bare += time.Since(start) },
		}
		both[i%2]()
		both[1-i%2]()
	}
	b.ReportMetric(float64(scan)/float64(b.N)/1e6, "scan-ms")
	b.ReportMetric(float64(bare)/float64(b.N)/1e6, "csv-ms")
	b.ReportMetric(float64(scan)/float64(bare), "time-ratio")
}

// benchPlan is the plan of the 1M-row benchmarks: three segments, one sampled by count and one
// by percent.
func benchPlan(b *testing.B) *Plan {
	s := spec()
	s.Segments[1].Count = 50000
	s.Segments[2].Percent = 30
	p, err := Compile(s, header)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// scanSelect runs both passes over the file at path.
func scanSelect(b *testing.B, p *Plan, path string) {
	f, _ := os.Open(path)
	sel, _, err := p.Scan(f, "wave")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer sel.Close()
	f, _ = os.Open(path)
	defer f.Close()
	if err := p.Select(f, sel, func(Invitee) error { return nil }); err != nil {
		b.Fatal(err)
	}
}

// csvRead reads the file at path with encoding/csv and does nothing else.
func csvRead(b *testing.B, path string) {
	f, _ := os.Open(path)
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = true
	for {
		if _, err := r.Read(); err == io.EOF {
			return
		} else if err != nil {
			b.Fatal(err)
		}
	}
}
