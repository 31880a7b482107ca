package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/survey"
	"github.com/surveyops/survey-operator/internal/tests3"
	"github.com/surveyops/survey-operator/internal/testsmtp"
)

// The sender binary reading its audience from a real S3 server (versitygw on this machine),
// against a real response service binary on SQLite and an SMTP sink that counts and discards,
// as BenchmarkMillionInvitations runs it. Both benchmarks are run by
//
//	hack/bench.sh 5 'SenderS3AgainstDisk1M|ShardsFromS3' ./cmd/sender/
//
// and BENCH_SMALL=1 (make bench-smoke) shrinks them to check that they still run.

// BenchmarkSenderS3AgainstDisk1M runs the sender binary on a wave of a 1,000,000-line audience
// (10,000 with BENCH_SMALL=1) once read from the object store and once from the same file on
// local disk, which going first in turn each op. Its two segments are sampled (250 people each,
// 500 sent), so that the run is the two passes over the whole file, the frame, and a small send:
// its time is mostly the reading. It reports each one's time, their ratio (s3/disk) and each
// one's peak RSS, the largest of all ops (the goal: under 64 MiB from S3).
func BenchmarkSenderS3AgainstDisk1M(b *testing.B) {
	lines, sample := 1_000_000, 250
	if os.Getenv("BENCH_SMALL") == "1" {
		lines, sample = 10_000, 25
	}
	r := newObjectBench(b)
	file, etag := r.putAudience("tenants.csv", lines)
	base, stop := r.collector("1m")
	defer stop()
	fromS3 := r.objectSource("tenants.csv", etag)
	fromDisk := jobfile.AudienceConfig{File: file}

	var s3Time, diskTime time.Duration
	var s3Peak, diskPeak float64
	for i := 0; b.Loop(); i++ {
		s3 := func() {
			res := r.wave(base, fmt.Sprintf("s3-%d", i), fromS3, sample, 1, false)
			s3Time += res.wall
			s3Peak = max(s3Peak, res.peakMiB)
		}
		disk := func() {
			res := r.wave(base, fmt.Sprintf("disk-%d", i), fromDisk, sample, 1, false)
			diskTime += res.wall
			diskPeak = max(diskPeak, res.peakMiB)
		}
		if i%2 == 0 {
			s3()
			disk()
		} else {
			disk()
			s3()
		}
	}
	b.ReportMetric(s3Time.Seconds()/float64(b.N), "s3-s")
	b.ReportMetric(diskTime.Seconds()/float64(b.N), "disk-s")
	b.ReportMetric(s3Peak, "s3-peak-MiB")
	b.ReportMetric(diskPeak, "disk-peak-MiB")
	b.ReportMetric(float64(s3Time)/float64(diskTime), "time-ratio")
}

// BenchmarkShardsFromS3 sends one wave of 100,000 people (BENCH_SHARD_PEOPLE; 1,000 with
// BENCH_SMALL=1) read from the object store with 1, 2 and 4 shards: as many sender binaries at
// once, as an Indexed Job's pods would be, each with its JOB_COMPLETION_INDEX, each reading
// the whole object in both passes. A fourth run sends with 4 shards one after another (an
// Indexed Job of parallelism 1): the cost of the shards themselves (each reads the whole file
// twice, starts, records its frame) apart from that of running at once on the same cores.
// Every run has a new response service and store. Each op does the four, starting with a
// different one each time. It reports each run's wall time and total CPU time (user and
// system) of the senders, the response service and the S3 server, each part's, the senders'
// largest peak RSS, and the ratios of 4 shards' total CPU and wall time to 1 shard's (the
// issue's goal: CPU grows by no more than 10%).
// BENCH_PERF=DIR runs each sender under perf record (its CPU clock, 999 samples a second,
// with call graphs), a file for each run and shard in DIR, to see where the CPU goes: perf
// report -i FILE --sort sym. Its times and peaks are then perf's too. BENCH_SENDER_ENV adds
// variables to the senders' environment (such as GOMAXPROCS=1), to try settings of the Job.
func BenchmarkShardsFromS3(b *testing.B) {
	people := 100_000
	if os.Getenv("BENCH_SMALL") == "1" {
		people = 1_000
	}
	if v := os.Getenv("BENCH_SHARD_PEOPLE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_SHARD_PEOPLE: %q is not a count", v)
		}
		people = n
	}
	r := newObjectBench(b)
	_, etag := r.putAudience("tenants.csv", people)
	src := r.objectSource("tenants.csv", etag)

	type config struct {
		shards int
		inTurn bool
	}
	configs := []config{{1, false}, {2, false}, {4, false}, {4, true}}
	label := func(c config) string {
		if c.inTurn {
			return fmt.Sprintf("%dshards-in-turn", c.shards)
		}
		return fmt.Sprintf("%dshards", c.shards)
	}
	type total struct {
		wall, senders, collector, store time.Duration
		peakMiB                         float64
	}
	totals := map[config]*total{}
	for _, c := range configs {
		totals[c] = &total{}
	}
	for i := 0; b.Loop(); i++ {
		for j := range configs {
			c := configs[(i+j)%len(configs)]
			run := fmt.Sprintf("op%d-%s", i, label(c))
			base, stop := r.collector(run)
			store0 := r.s3.CPU()
			res := r.wave(base, run, src, 0, c.shards, c.inTurn)
			res.store = r.s3.CPU() - store0
			res.collector = stop()
			if res.sent != people {
				b.Fatalf("%s sent %d invitations, want %d", label(c), res.sent, people)
			}
			t := totals[c]
			t.wall += res.wall
			t.senders += res.cpu
			t.collector += res.collector
			t.store += res.store
			t.peakMiB = max(t.peakMiB, res.peakMiB)
			how := fmt.Sprintf("%d shards at once", c.shards)
			switch {
			case c.shards == 1:
				how = "1 shard"
			case c.inTurn:
				how = fmt.Sprintf("%d shards one after another", c.shards)
			}
			b.Logf("%d people, %s: %.1f s; CPU: senders %.1f s (%.1f s of it in the kernel; %d context switches waiting, %d preempted), response service %.1f s, S3 server %.2f s; sender peak RSS %.0f MiB",
				people, how, res.wall.Seconds(), res.cpu.Seconds(), res.sys.Seconds(), res.switches, res.preempted,
				res.collector.Seconds(), res.store.Seconds(), res.peakMiB)
		}
	}
	n := float64(b.N)
	cpu := func(t *total) float64 { return (t.senders + t.collector + t.store).Seconds() / n }
	for _, c := range configs {
		t, l := totals[c], label(c)
		b.ReportMetric(t.wall.Seconds()/n, "wall-s-"+l)
		b.ReportMetric(cpu(t), "cpu-s-"+l)
		b.ReportMetric(t.senders.Seconds()/n, "senders-cpu-s-"+l)
		b.ReportMetric(t.collector.Seconds()/n, "collector-cpu-s-"+l)
		b.ReportMetric(t.store.Seconds()/n, "s3-cpu-s-"+l)
		b.ReportMetric(t.peakMiB, "sender-peak-MiB-"+l)
	}
	one, four, inTurn := totals[config{1, false}], totals[config{4, false}], totals[config{4, true}]
	b.ReportMetric(cpu(four)/cpu(one), "cpu-ratio-4:1")
	b.ReportMetric(float64(four.senders)/float64(one.senders), "senders-cpu-ratio-4:1")
	b.ReportMetric(float64(four.wall)/float64(one.wall), "wall-ratio-4:1")
	b.ReportMetric(cpu(inTurn)/cpu(one), "cpu-ratio-4-in-turn:1")
	b.ReportMetric(float64(inTurn.senders)/float64(one.senders), "senders-cpu-ratio-4-in-turn:1")
}

// objectBench is what both benchmarks share: the two binaries, the token keys and API token,
// the SMTP sink, and the S3 server with a bucket and a user that may only read it.
type objectBench struct {
	b                            *testing.B
	dir                          string
	senderBin, collectorBin      string
	keysDir, apiTokenFile        string
	sink                         *testsmtp.Sink
	s3                           *tests3.Server
	accessKeyFile, secretKeyFile string
}

const (
	objectBenchBucket = "exports"
	objectBenchToken  = "object-bench-api-token-0123"
)

func newObjectBench(b *testing.B) *objectBench {
	r := &objectBench{b: b, dir: b.TempDir()}
	r.senderBin, r.collectorBin = filepath.Join(r.dir, "sender"), filepath.Join(r.dir, "collector")
	for bin, pkg := range map[string]string{r.senderBin: ".", r.collectorBin: "../collector"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	r.keysDir = filepath.Join(r.dir, "keys")
	must(b, os.Mkdir(r.keysDir, 0o700))
	must(b, os.WriteFile(filepath.Join(r.keysDir, "2026-12"), bytes.Repeat([]byte{7}, 32), 0o600))
	r.apiTokenFile = filepath.Join(r.dir, "api-token")
	must(b, os.WriteFile(r.apiTokenFile, []byte(objectBenchToken+"\n"), 0o600))
	r.sink = testsmtp.Start(b, "None", func(k *testsmtp.Sink) { k.Discard = true })
	r.s3 = tests3.Start(b)
	r.s3.Bucket(b, objectBenchBucket)
	access, secret := r.s3.Reader(b, objectBenchBucket)
	r.accessKeyFile, r.secretKeyFile = filepath.Join(r.dir, "access-key"), filepath.Join(r.dir, "secret-key")
	must(b, os.WriteFile(r.accessKeyFile, []byte(access+"\n"), 0o600))
	must(b, os.WriteFile(r.secretKeyFile, []byte(secret+"\n"), 0o600))
	return r
}

// putAudience writes an audience of n tenancies (as BenchmarkMillionInvitations has them) to a
// local file and to the bucket under key, and returns the file and the object's ETag. A file
// over 16 MiB goes up in parts, as exports are uploaded.
func (r *objectBench) putAudience(key string, n int) (file, etag string) {
	file = filepath.Join(r.dir, key)
	writeAudience(r.b, file, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	info, err := r.s3.Client(r.b).FPutObject(ctx, objectBenchBucket, key, file, minio.PutObjectOptions{ContentType: "text/csv"})
	if err != nil {
		r.b.Fatalf("putting %s: %v", key, err)
	}
	return file, info.ETag
}

// objectSource is the audience of a job file reading key, pinned to etag, with the read-only
// user's key pair.
func (r *objectBench) objectSource(key, etag string) jobfile.AudienceConfig {
	return jobfile.AudienceConfig{ObjectStore: &jobfile.ObjectStore{Endpoint: r.s3.Host, Bucket: objectBenchBucket, Key: key,
		Region: r.s3.Region, Insecure: true, Addressing: "Path", AccessKeyFile: r.accessKeyFile, SecretKeyFile: r.secretKeyFile, ETag: etag}}
}

// collector starts the response service binary on a new store in its own directory, and
// returns its address and a function that stops it and returns the CPU time it used.
func (r *objectBench) collector(name string) (string, func() time.Duration) {
	run := filepath.Join(r.dir, name)
	must(r.b, os.MkdirAll(run, 0o700))
	addr := freeAddr(r.b)
	coll := exec.Command(r.collectorBin, "--store", "sqlite://"+filepath.Join(run, "survey.db"), "--token-keys-dir", r.keysDir,
		"--api-token-file", r.apiTokenFile, "--listen", addr, "--metrics-listen", "", "--public-url", "https://listen.example.org")
	log, err := os.Create(filepath.Join(run, "collector.log"))
	must(r.b, err)
	coll.Stdout, coll.Stderr = log, log
	must(r.b, coll.Start())
	base := "http://" + addr
	waitReady(r.b, base)
	stopped := false
	return base, func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		defer log.Close()
		must(r.b, coll.Process.Signal(syscall.SIGTERM))
		if err := coll.Wait(); err != nil {
			r.b.Fatalf("the response service: %v", err)
		}
		_ = os.RemoveAll(run)
		return coll.ProcessState.UserTime() + coll.ProcessState.SystemTime()
	}
}

// waveResult is one wave's run: its wall time (from starting the first sender to the last
// one's exit), the senders' CPU time and largest peak RSS, and the invitations sent.
type waveResult struct {
	wall, cpu, collector, store time.Duration
	// sys is the part of cpu spent in the kernel; switches are the senders' context switches,
	// voluntary (waiting) and involuntary (preempted).
	sys                 time.Duration
	switches, preempted int64
	peakMiB             float64
	sent                int
}

// wave registers a new wave with the response service at base, as the manager does, and runs
// it with shards sender binaries at once (one after another when inTurn), each with its
// JOB_COMPLETION_INDEX. The segments are BenchmarkMillionInvitations's; sample, when not zero,
// samples each by count.
func (r *objectBench) wave(base, name string, src jobfile.AudienceConfig, sample, shards int, inTurn bool) waveResult {
	b := r.b
	uid := fmt.Sprintf("5e1d0c2b-0000-4000-8000-%012d", time.Now().UnixNano()%1e12)
	now := time.Now().UTC()
	api := responseapi.NewClient(base, objectBenchToken, nil)
	must(b, api.PutWave(context.Background(), uid, name, responseapi.WaveRegistration{Namespace: "riverside", Campaign: "tsm",
		Definition: survey.Definition{Title: "How are we doing?", Questions: []survey.Question{
			{ID: "tp01", Kind: "CSAT", Text: "Taking everything into account, how satisfied or dissatisfied are you with the service provided by your landlord?"}}},
		OpensAt: now.Add(-time.Minute), ClosesAt: now.Add(28 * 24 * time.Hour)}))
	src.Format, src.IDField = "CSV", "tenancy_ref"
	src.Segments = []audience.Segment{
		{Name: "low-cost-rental", Match: `attrs.tenure == "LCRA"`, Channels: []string{"email"}, Count: sample},
		{Name: "low-cost-home-ownership", Channels: []string{"email"}, Count: sample}}
	// Each pod as the manager configures it (campaign.SenderConfig): 4 SMTP connections, and
	// the sender's default of 8 workers.
	cfg := jobfile.Config{CampaignUID: uid, WaveID: name, Namespace: "riverside", Campaign: "tsm", Title: "How are we doing?",
		PublicURL: "https://listen.example.org", Expiry: now.Add(28 * 24 * time.Hour), Seed: name, Shards: shards, Audience: src,
		Channels: []jobfile.ChannelConfig{{Name: "email", ContactField: "email",
			Email: &jobfile.Email{Host: "127.0.0.1", Port: r.sink.Port, TLS: "None", From: "listening@riverside.example", Connections: 4}}},
		CollectorURL: base, APITokenFile: r.apiTokenFile, TokenKeysDir: r.keysDir}
	data, _ := json.Marshal(cfg)
	jobFile := filepath.Join(r.dir, name+".json")
	must(b, os.WriteFile(jobFile, data, 0o600))
	defer os.Remove(jobFile)

	received0 := r.sink.Received.Load()
	cmds := make([]*exec.Cmd, shards)
	outs := make([]bytes.Buffer, shards)
	perf := os.Getenv("BENCH_PERF")
	for shard := range shards {
		args := []string{r.senderBin, "--job", jobFile, "--termination-log", os.DevNull, "--progress-every", "1m"}
		if perf != "" {
			args = append([]string{"perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g",
				"-o", filepath.Join(perf, fmt.Sprintf("%s-shard%d.perf.data", name, shard)), "--"}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+strconv.Itoa(shard))
		cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("BENCH_SENDER_ENV"))...)
		cmd.Stdout, cmd.Stderr = &outs[shard], &outs[shard]
		cmds[shard] = cmd
	}
	var res waveResult
	var wg sync.WaitGroup
	errs := make([]error, shards)
	start := time.Now()
	peaks := make([]float64, shards)
	for shard, cmd := range cmds {
		must(b, cmd.Start())
		wg.Add(1)
		wait := func() {
			defer wg.Done()
			stop := watchPeakRSS(cmd.Process.Pid)
			errs[shard] = cmd.Wait()
			peaks[shard] = stop()
		}
		if inTurn {
			wait()
		} else {
			go wait()
		}
	}
	wg.Wait()
	res.wall = time.Since(start)
	for shard, cmd := range cmds {
		sum, ok := jobfile.Termination(outs[shard].String())
		if errs[shard] != nil || !ok || sum.Error != "" {
			b.Fatalf("wave %s, shard %d: %v, summary %+v\n%s", name, shard, errs[shard], sum, tail(outs[shard].Bytes(), 4000))
		}
		res.sent += sum.Sent
		res.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		res.sys += cmd.ProcessState.SystemTime()
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		res.switches += ru.Nvcsw
		res.preempted += ru.Nivcsw
		res.peakMiB = max(res.peakMiB, peaks[shard])
	}
	if got := r.sink.Received.Load() - received0; got != int64(res.sent) {
		b.Fatalf("wave %s: the senders sent %d invitations, the sink received %d", name, res.sent, got)
	}
	if sample > 0 && res.sent != 2*sample {
		b.Fatalf("wave %s: %d invitations sent, want the sample of %d", name, res.sent, 2*sample)
	}
	return res
}

// watchPeakRSS reads the peak RSS of process pid (VmHWM, its memory's high-water mark) every
// 10 ms until it exits; stop returns the last value read, in MiB. The peak that wait4 returns
// (ProcessState's Maxrss) cannot be used: Linux counts in it the RSS of the process that
// started the program, this benchmark's, as it was when the program was started.
func watchPeakRSS(pid int) (stop func() float64) {
	var peak float64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, ok := vmHWM(pid); ok {
				peak = max(peak, v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		<-finished
		return peak
	}
}

// vmHWM is process pid's VmHWM in MiB; false once it has exited.
func vmHWM(pid int) (float64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.Fields(f)[0], 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
