package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testenv"
	"github.com/surveyops/survey-operator/internal/token"
)

// BenchmarkThousandCampaigns runs the manager binary against envtest and a response service on
// SQLite with BENCH_CAMPAIGNS (1000) campaigns all due at the same minute. It reports the time
// from the due time to each Job's arrival at a watch (p50, p99), the manager's CPU seconds and
// peak RSS, and then, with every Job complete and every wave collecting, the API writes the
// manager makes in BENCH_SETTLE (10m): the goal is 0. Run it with hack/bench.sh or
//
//	go test -run '^$' -bench ThousandCampaigns -benchtime 1x -timeout 60m ./cmd/manager/
func BenchmarkThousandCampaigns(b *testing.B) {
	n := envInt("BENCH_CAMPAIGNS", 1000)
	settle, err := time.ParseDuration(envOr("BENCH_SETTLE", "10m"))
	if err != nil {
		b.Fatal(err)
	}
	env, cfg, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The response service.
	dir := b.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "survey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys, _ := token.NewKeyRing(token.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte("bench-api-token-0123456789")})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tokenFile := filepath.Join(dir, "api-token")
	must(b, os.WriteFile(tokenFile, []byte("bench-api-token-0123456789"), 0o600))

	// The objects campaigns refer to.
	const ns = "bench"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "survey-system"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-token-keys", Namespace: "survey-system"}, Data: map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "survey-api-token", Namespace: "survey-system"}, Data: map[string][]byte{"token": []byte("bench-api-token-0123456789")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tenants", Namespace: ns}, Data: map[string][]byte{"tenants.csv": []byte("ref,email\nT-1,a@example.org\n")}},
	} {
		must(b, k8s.Create(ctx, o))
	}

	// The manager.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(b, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	bin := filepath.Join(dir, "manager")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	logs, err := os.Create(filepath.Join(dir, "manager.log"))
	must(b, err)
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kubeconfig, "--health-probe-bind-address", "0", "--metrics-bind-address", "0",
		"--collector-url", ts.URL, "--public-url", "https://listen.example.org", "--api-token-file", tokenFile,
		"--credentials-namespace", "survey-system")
	cmd.Stdout, cmd.Stderr = logs, logs
	must(b, cmd.Start())
	defer func() {
		cancel()
		_ = cmd.Wait()
		if b.Failed() {
			out, _ := os.ReadFile(logs.Name())
			b.Logf("manager log (tail):\n%s", tail(out, 4000))
		}
	}()

	// Watch Jobs arrive.
	var mu sync.Mutex
	seen := map[string]time.Time{}
	w, err := cs.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	must(b, err)
	go func() {
		for ev := range w.ResultChan() {
			if j, ok := ev.Object.(*batchv1.Job); ok && ev.Type == watch.Added {
				mu.Lock()
				seen[j.Name] = time.Now()
				mu.Unlock()
			}
		}
	}()

	// n campaigns due at the same minute, at least a minute after they are all created.
	start := time.Now()
	due := start.Add(time.Duration(n)*15*time.Millisecond + time.Minute).Truncate(time.Minute).Add(time.Minute)
	for i := range n {
		c := &v1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("campaign-%04d", i), Namespace: ns},
			Spec: v1alpha1.SurveyCampaignSpec{
				Survey: v1alpha1.Survey{Title: "Survey", Questions: []v1alpha1.Question{{ID: "q1", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied are you?"}}},
				Audience: v1alpha1.Audience{Source: v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"},
					IDField: "ref", Contact: v1alpha1.ContactColumns{Email: "email"}},
					Segments: []v1alpha1.Segment{{Name: "all", Channels: []string{"email"}}}},
				Channels: []v1alpha1.Channel{{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org"}, From: "s@example.org"}}},
				Schedule: &v1alpha1.Schedule{Cron: fmt.Sprintf("%d %d * * *", due.UTC().Minute(), due.UTC().Hour()), TimeZone: "UTC", ResponseWindow: "336h"},
			}}
		must(b, k8s.Create(ctx, c))
	}
	b.Logf("%d campaigns created in %s; due at %s", n, time.Since(start).Round(time.Millisecond), due.Format(time.TimeOnly))
	cpu0 := cpuSeconds(b, cmd.Process.Pid)

	deadline := due.Add(15 * time.Minute)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d Jobs after 15 minutes", got, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cpuDue := cpuSeconds(b, cmd.Process.Pid) - cpu0
	var lat []time.Duration
	mu.Lock()
	for _, t := range seen {
		lat = append(lat, t.Sub(due))
	}
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]

	// Every Job completes; the waves collect; then the manager settles.
	var jobs batchv1.JobList
	must(b, k8s.List(ctx, &jobs, client.InNamespace(ns)))
	now := metav1.Now()
	for i := range jobs.Items {
		j := &jobs.Items[i]
		j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		must(b, k8s.Status().Update(ctx, j))
	}
	waitCollecting(b, ctx, k8s, ns, n)
	time.Sleep(5 * time.Second) // let the last status writes land
	writes0 := writes(b, ctx, cs)
	cpu1 := cpuSeconds(b, cmd.Process.Pid)
	time.Sleep(settle)
	settledWrites := writes(b, ctx, cs) - writes0
	cpuSettled := cpuSeconds(b, cmd.Process.Pid) - cpu1
	peak := peakRSS(b, cmd.Process.Pid)

	b.ReportMetric(p50.Seconds(), "p50-due-to-job-s")
	b.ReportMetric(p99.Seconds(), "p99-due-to-job-s")
	b.ReportMetric(cpuDue, "cpu-s-until-all-jobs")
	b.ReportMetric(cpuSettled, "cpu-s-settled")
	b.ReportMetric(peak, "peak-rss-MiB")
	b.ReportMetric(float64(settledWrites), "api-writes-settled")
	b.Logf("%d campaigns: due→Job p50 %s, p99 %s; manager CPU %.1f s until every Job, %.1f s in %s settled; peak RSS %.0f MiB; API writes while settled: %d",
		n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), cpuDue, cpuSettled, settle, peak, settledWrites)
}

func waitCollecting(b *testing.B, ctx context.Context, k8s client.Client, ns string, n int) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		var list v1alpha1.SurveyCampaignList
		must(b, k8s.List(ctx, &list, client.InNamespace(ns)))
		collecting := 0
		for _, c := range list.Items {
			if len(c.Status.Waves) > 0 && c.Status.Waves[0].Phase == v1alpha1.WaveCollecting {
				collecting++
			}
		}
		if collecting == n {
			return
		}
		time.Sleep(time.Second)
	}
	b.Fatal("the waves did not all reach Collecting")
}

var requestLine = regexp.MustCompile(`^apiserver_request_total\{(.*)\} ([0-9.e+]+)$`)

// writes sums the API server's count of writes to the resources the manager writes.
func writes(b *testing.B, ctx context.Context, cs *kubernetes.Clientset) int {
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	must(b, err)
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := requestLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := m[1]
		write := false
		for _, v := range []string{`verb="POST"`, `verb="PUT"`, `verb="PATCH"`, `verb="DELETE"`, `verb="APPLY"`} {
			write = write || strings.Contains(labels, v)
		}
		ours := false
		for _, r := range []string{`resource="surveycampaigns"`, `resource="jobs"`, `resource="secrets"`, `resource="events"`} {
			ours = ours || strings.Contains(labels, r)
		}
		if write && ours {
			v, _ := strconv.ParseFloat(m[2], 64)
			total += int(v)
		}
	}
	return total
}

func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(b, err)
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ)
}

func peakRSS(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return fallback
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
