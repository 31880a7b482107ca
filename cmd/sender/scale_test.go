package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/testsmtp"
)

// BenchmarkMillionInvitations sends waves of BENCH_INVITATIONS (10,000, 100,000 and 1,000,000)
// invitations end to end: the sender binary reads the audience file, records the frame, reserves
// each invitation in the ledger, sends it to an SMTP sink and records its outcome; the ledger is
// the response service binary on SQLite. Each size gets a new store and service. It reports, for
// each size, the sender's time and messages per second, the sender's and the service's peak RSS,
// and the store's size (the database file after the service has stopped): how each grows with
// the audience. The sink discards what it receives and counts it. It is not part of make test;
// run it with hack/bench.sh scale MillionInvitations, or
//
//	go test -run '^$' -bench MillionInvitations -benchtime 1x -timeout 90m ./cmd/sender/
//
// BENCH_SMALL=1 (make bench-smoke) sends one wave of 1,000 instead, to check that it still runs.
func BenchmarkMillionInvitations(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if os.Getenv("BENCH_SMALL") == "1" {
		sizes = []int{1_000}
	}
	if v := os.Getenv("BENCH_INVITATIONS"); v != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("BENCH_INVITATIONS: %q is not a count", f)
			}
			sizes = append(sizes, n)
		}
	}
	dir := b.TempDir()
	senderBin, collectorBin := filepath.Join(dir, "sender"), filepath.Join(dir, "collector")
	for bin, pkg := range map[string]string{senderBin: ".", collectorBin: "../collector"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	keysDir := filepath.Join(dir, "keys")
	must(b, os.Mkdir(keysDir, 0o700))
	must(b, os.WriteFile(filepath.Join(keysDir, "2026-11"), bytes.Repeat([]byte{7}, 32), 0o600))
	const apiToken = "scale-bench-api-token-0123"
	apiTokenFile := filepath.Join(dir, "api-token")
	must(b, os.WriteFile(apiTokenFile, []byte(apiToken+"\n"), 0o600))
	sink := testsmtp.Start(b, "None", func(k *testsmtp.Sink) { k.Discard = true })

	type row struct {
		n                                int
		seconds, perSecond               float64
		senderMiB, collectorMiB, storeMB float64
	}
	var rows []row
	for _, n := range sizes {
		b.Logf("%d invitations: writing the audience", n)
		run := filepath.Join(dir, strconv.Itoa(n))
		must(b, os.Mkdir(run, 0o700))
		audienceFile := filepath.Join(run, "tenants.csv")
		writeAudience(b, audienceFile, n)

		// The response service on a new store.
		addr := freeAddr(b)
		base := "http://" + addr
		dbFile := filepath.Join(run, "survey.db")
		coll := exec.Command(collectorBin, "--store", "sqlite://"+dbFile, "--token-keys-dir", keysDir,
			"--api-token-file", apiTokenFile, "--listen", addr, "--metrics-listen", "", "--public-url", "https://listen.example.org")
		collLog, err := os.Create(filepath.Join(run, "collector.log"))
		must(b, err)
		coll.Stdout, coll.Stderr = collLog, collLog
		must(b, coll.Start())
		waitReady(b, base)
		uid := fmt.Sprintf("5e1d0c2b-0000-4000-8000-%012d", n)
		now := time.Now().UTC()
		api := responseapi.NewClient(base, apiToken, nil)
		must(b, api.PutWave(context.Background(), uid, "2026-q4", responseapi.WaveRegistration{Namespace: "riverside", Campaign: "tsm",
			Definition: survey.Definition{Title: "How are we doing?", Questions: []survey.Question{
				{ID: "tp01", Kind: "CSAT", Text: "Taking everything into account, how satisfied or dissatisfied are you with the service provided by your landlord?"}}},
			OpensAt: now.Add(-time.Minute), ClosesAt: now.Add(28 * 24 * time.Hour)}))

		cfg := jobfile.Config{CampaignUID: uid, WaveID: "2026-q4", Namespace: "riverside", Campaign: "tsm", Title: "How are we doing?",
			PublicURL: "https://listen.example.org", Expiry: now.Add(28 * 24 * time.Hour), Seed: "2026-q4",
			Audience: jobfile.AudienceConfig{File: audienceFile, Format: "CSV", IDField: "tenancy_ref", Segments: []audience.Segment{
				{Name: "low-cost-rental", Match: `attrs.tenure == "LCRA"`, Channels: []string{"email"}},
				{Name: "low-cost-home-ownership", Channels: []string{"email"}}}},
			Channels: []jobfile.ChannelConfig{{Name: "email", ContactField: "email",
				Email: &jobfile.Email{Host: "127.0.0.1", Port: sink.Port, TLS: "None", From: "listening@riverside.example"}}},
			CollectorURL: base, APITokenFile: apiTokenFile, TokenKeysDir: keysDir}
		data, _ := json.Marshal(cfg)
		jobFile := filepath.Join(run, "job.json")
		must(b, os.WriteFile(jobFile, data, 0o600))

		received0 := sink.Received.Load()
		send := exec.Command(senderBin, "--job", jobFile, "--termination-log", filepath.Join(run, "termination"), "--progress-every", "1m")
		var out bytes.Buffer
		send.Stdout, send.Stderr = &out, &out
		start := time.Now()
		err = send.Run()
		elapsed := time.Since(start)
		sum, ok := jobfile.Termination(out.String())
		if err != nil || !ok || sum.Sent != n {
			b.Fatalf("%d invitations: sender %v, summary %+v\n%s", n, err, sum, tail(out.Bytes(), 4000))
		}
		if got := sink.Received.Load() - received0; got != int64(n) {
			b.Fatalf("%d invitations: the sink received %d messages", n, got)
		}
		senderPeak := float64(send.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		collectorPeak := peakRSS(b, coll.Process.Pid)
		must(b, coll.Process.Signal(syscall.SIGTERM))
		if err := coll.Wait(); err != nil {
			b.Fatalf("the response service: %v", err)
		}
		size := int64(0)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if fi, err := os.Stat(dbFile + suffix); err == nil {
				size += fi.Size()
			}
		}
		r := row{n: n, seconds: elapsed.Seconds(), perSecond: float64(n) / elapsed.Seconds(),
			senderMiB: senderPeak, collectorMiB: collectorPeak, storeMB: float64(size) / 1e6}
		rows = append(rows, r)
		b.Logf("%d invitations: %.1f s, %.0f messages/s; peak RSS sender %.0f MiB, response service %.0f MiB; store %.1f MB (%.0f bytes an invitation)",
			n, r.seconds, r.perSecond, r.senderMiB, r.collectorMiB, r.storeMB, float64(size)/float64(n))
		must(b, os.Remove(audienceFile))
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(dbFile + suffix)
		}
	}

	var table strings.Builder
	table.WriteString("\n| invitations | time | messages/s | time per invitation (× the first size's) | sender peak RSS | response service peak RSS | store |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		unit := (r.seconds / float64(r.n)) / (rows[0].seconds / float64(rows[0].n))
		fmt.Fprintf(&table, "| %d | %.1f s | %.0f | %.2f | %.0f MiB | %.0f MiB | %.1f MB |\n", r.n, r.seconds, r.perSecond, unit, r.senderMiB, r.collectorMiB, r.storeMB)
		b.ReportMetric(r.seconds, fmt.Sprintf("s-%d", r.n))
		b.ReportMetric(r.perSecond, fmt.Sprintf("messages/s-%d", r.n))
		b.ReportMetric(r.senderMiB, fmt.Sprintf("sender-peak-MiB-%d", r.n))
		b.ReportMetric(r.collectorMiB, fmt.Sprintf("collector-peak-MiB-%d", r.n))
		b.ReportMetric(r.storeMB, fmt.Sprintf("store-MB-%d", r.n))
	}
	b.Log(table.String())
}

// writeAudience writes n tenancies: a reference, an email address and a tenure (about 85% low
// cost rental, the rest shared ownership), as a housing provider's extract has them.
func writeAudience(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	must(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "tenancy_ref,email,tenure,area")
	areas := []string{"North", "South", "East", "West", "Central"}
	for i := range n {
		tenure := "LCRA"
		if i%7 == 3 {
			tenure = "LCHO"
		}
		fmt.Fprintf(w, "T-%07d,tenant%07d@example.org,%s,%s\n", i, i, tenure, areas[i%len(areas)])
	}
	must(b, w.Flush())
	must(b, f.Close())
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits for the response service to answer /readyz, for 30 s at most.
func waitReady(b *testing.B, base string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the response service at %s did not become ready: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func peakRSS(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if f, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(f)[0], 64)
			return kb / 1024
		}
	}
	return 0
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
