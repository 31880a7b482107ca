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
	path := writeAudience(b, 1_000_000)
	s := spec()
	s.Segments[1].Count = 50000
	s.Segments[2].Percent = 30
	p, err := Compile(s, header)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, _ := os.Open(path)
		sel, _, err := p.Scan(f, "wave")
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		f, _ = os.Open(path)
		n := 0
		if err := p.Select(f, sel, func(Invitee) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func BenchmarkBaselineCSVRead1MRows(b *testing.B) {
	path := writeAudience(b, 1_000_000)
	for b.Loop() {
		f, _ := os.Open(path)
		r := csv.NewReader(bufio.NewReader(f))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}
