package sender

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/tests3"
)

// BenchmarkAudienceS3AgainstDisk1M reads a 1,000,000-line audience through the sender's two
// passes (the Job that Build makes of a job file: its source, then the plan's Scan, then its
// Select with the shard's filter, as a wave's run does, with nothing sent) once from an object
// in a real S3 server (versitygw on this machine, read with If-Match on the ETag, by a read-only
// user, as the Job reads it) and once from the same file on local disk. Each op does both, which
// going first in turn, so that the machine's noise falls on both alike, and reports the ratio of
// their times, s3/disk (the goal: at most 1.15), with the CPU time this process spent
// on each and the S3 server's on its reads. Both files are in the page cache: the difference
// is the S3 requests, the server's work and minio-go's, not a disk's. BENCH_SMALL=1 (make
// bench-smoke) reads 10,000 lines instead.
func BenchmarkAudienceS3AgainstDisk1M(b *testing.B) {
	lines := 1_000_000
	if os.Getenv("BENCH_SMALL") == "1" {
		lines = 10_000
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "tenants.csv")
	s := tests3.Start(b)
	s.Bucket(b, "exports")
	// The list is not kept in the benchmark's memory once it is in the file and the bucket.
	info := s.Put(b, "exports", "housing/tenants.csv", benchAudienceFile(b, file, lines))
	access, secret := s.Reader(b, "exports")
	disk := benchReadJob(b, dir, jobfile.AudienceConfig{File: file})
	obj := benchReadJob(b, dir, jobfile.AudienceConfig{ObjectStore: &jobfile.ObjectStore{
		Endpoint: s.Host, Bucket: "exports", Key: "housing/tenants.csv", Region: s.Region, Insecure: true, Addressing: "Path",
		AccessKeyFile: benchSecretFile(b, dir, "access-key", access), SecretKeyFile: benchSecretFile(b, dir, "secret-key", secret),
		ETag: info.ETag}})

	var fromS3, fromDisk, s3CPU, diskCPU, server time.Duration
	for i := 0; b.Loop(); i++ {
		both := []func(){
			func() {
				start, cpu, srv := time.Now(), selfCPU(), s.CPU()
				readPasses(b, obj, lines)
				fromS3 += time.Since(start)
				s3CPU += selfCPU() - cpu
				server += s.CPU() - srv
			},
			func() {
				start, cpu := time.Now(), selfCPU()
				readPasses(b, disk, lines)
				fromDisk += time.Since(start)
				diskCPU += selfCPU() - cpu
			},
		}
		both[i%2]()
		both[1-i%2]()
	}
	b.ReportMetric(float64(fromS3)/float64(b.N)/1e6, "s3-ms")
	b.ReportMetric(float64(fromDisk)/float64(b.N)/1e6, "disk-ms")
	b.ReportMetric(float64(lines)*float64(b.N)/fromS3.Seconds(), "s3-lines/s")
	b.ReportMetric(float64(s3CPU)/float64(b.N)/1e6, "s3-cpu-ms")
	b.ReportMetric(float64(diskCPU)/float64(b.N)/1e6, "disk-cpu-ms")
	b.ReportMetric(float64(server)/float64(b.N)/1e6, "s3-server-cpu-ms")
	b.ReportMetric(float64(fromS3)/float64(fromDisk), "time-ratio")
}

// benchAudienceFile writes n tenancies as BenchmarkMillionInvitations has them (a reference, an
// email address, a tenure and an area), and returns the file's bytes.
func benchAudienceFile(b *testing.B, path string, n int) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriterSize(&buf, 1<<20)
	fmt.Fprintln(w, "tenancy_ref,email,tenure,area")
	areas := []string{"North", "South", "East", "West", "Central"}
	for i := range n {
		tenure := "LCRA"
		if i%7 == 3 {
			tenure = "LCHO"
		}
		fmt.Fprintf(w, "T-%07d,tenant%07d@example.org,%s,%s\n", i, i, tenure, areas[i%len(areas)])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchSecretFile(b *testing.B, dir, name, value string) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchReadJob is the Job that Build makes of a wave's job file reading audience a: the
// segments of BenchmarkMillionInvitations (one by a CEL match on the tenure), one email
// channel. Nothing is sent, so the channel's relay and the response service are never called.
func benchReadJob(b *testing.B, dir string, a jobfile.AudienceConfig) Job {
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "2026-12"), bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		b.Fatal(err)
	}
	a.Format, a.IDField = "CSV", "tenancy_ref"
	a.Segments = []audience.Segment{
		{Name: "low-cost-rental", Match: `attrs.tenure == "LCRA"`, Channels: []string{"email"}},
		{Name: "low-cost-home-ownership", Channels: []string{"email"}}}
	job, err := Build(jobfile.Config{CampaignUID: "5e1d0c2b-0000-4000-8000-000000000001", WaveID: "2026-q4", Namespace: "riverside",
		Campaign: "tsm", Title: "How are we doing?", PublicURL: "https://listen.example.org", Expiry: time.Now().Add(28 * 24 * time.Hour),
		Seed: "2026-q4", Audience: a,
		Channels: []jobfile.ChannelConfig{{Name: "email", ContactField: "email",
			Email: &jobfile.Email{Host: "127.0.0.1", Port: 2525, TLS: "None", From: "listening@riverside.example"}}},
		CollectorURL: "http://127.0.0.1:1", APITokenFile: benchSecretFile(b, dir, "api-token", "bench-api-token-0123"), TokenKeysDir: keys}, 0)
	if err != nil {
		b.Fatal(err)
	}
	return job
}

// readPasses reads the audience as a wave's run does (run.send): the first pass validates,
// counts and samples, the second selects this shard's people, who would then be sent.
func readPasses(b *testing.B, job Job, lines int) {
	f, err := job.Open()
	if err != nil {
		b.Fatal(err)
	}
	sel, stats, err := job.Plan.Scan(f, job.Seed)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer sel.Close()
	if stats.Records != lines {
		b.Fatalf("the first pass read %d records, want %d", stats.Records, lines)
	}
	if f, err = job.Open(); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = job.Plan.Select(f, sel, func(inv audience.Invitee) error {
		if audience.Shard(inv.Key, job.Shards) != job.Shard {
			return nil
		}
		n++
		return nil
	})
	if err == nil && n != lines {
		err = errors.New("the second pass did not select everyone")
	}
	if err != nil {
		b.Fatal(err, n)
	}
}

// selfCPU is the CPU time (user and system) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
