package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testenv"
	"github.com/surveyops/survey-operator/internal/token"
)

// BenchmarkThousandCampaigns measures wave starts against what Kubernetes itself does for the
// same load, on the same envtest apiserver in the same run:
//
//  1. kube-controller-manager's CronJob controller (built by hack/k8s-build.sh, cached) with
//     BENCH_CAMPAIGNS (1000) CronJobs due at the same minute, twice, BENCH_GAP (3m) apart;
//  2. the manager binary, with a response service on SQLite, and as many campaigns due at the
//     same two minutes.
//
// For each due time it reports the time from the due time to each Job's arrival at a watch (p50,
// p99) and the API writes made per start, by resource, from just before the due time until every
// start is recorded in the status; then, once the benchmark has marked the Jobs complete, the
// writes made per Job completion. A campaign's first wave makes its two Secrets; the second must
// write none. Last, with every wave collecting, it counts the writes the manager makes in
// BENCH_SETTLE (10m): the goal is 0, BENCH_TOUCHPOINTS (100) idle touch-point campaigns
// included, which ask the response service every 30 s whether events are due. The CronJob controller runs once for each client budget of
// BENCH_KCM_BUDGETS (QPS/burst, default "50/100,100/200": kube-controller-manager's own, then
// the manager's).
// BENCH_MANAGER_FLAGS adds flags to the manager's (such as --max-concurrent-reconciles=8).
// BENCH_PROFILE=FILE skips the CronJob controller and writes a CPU profile of the manager over
// its second wave's starts (20 s from just before the due time) to FILE. Run it with
// hack/bench.sh scale ThousandCampaigns, or
//
//	go test -run '^$' -bench ThousandCampaigns -benchtime 1x -timeout 90m ./cmd/manager/
//
// BENCH_SMALL=1 (make bench-smoke) runs it small, to check that it still runs, in about a
// minute: 3 campaigns and 3 CronJobs (BENCH_CAMPAIGNS), all due at one time, the first minute
// at least 15 s away; the CronJob controller once, at the manager's budget, beside the manager
// instead of before it; 2 s to settle (BENCH_SETTLE). Its figures are not measurements: the
// two controllers' API writes are counted together.
func BenchmarkThousandCampaigns(b *testing.B) {
	small := os.Getenv("BENCH_SMALL") == "1"
	n := envInt("BENCH_CAMPAIGNS", 1000)
	settle, err := time.ParseDuration(envOr("BENCH_SETTLE", "10m"))
	must(b, err)
	gap, err := time.ParseDuration(envOr("BENCH_GAP", "3m"))
	must(b, err)
	budgets := envOr("BENCH_KCM_BUDGETS", "50/100,100/200")
	touchPoints := envInt("BENCH_TOUCHPOINTS", 100)
	rounds := 2 // due times
	if small {
		if os.Getenv("BENCH_PROFILE") != "" {
			b.Fatal("BENCH_PROFILE profiles the second due time, which a small run (BENCH_SMALL) does not have")
		}
		n = envInt("BENCH_CAMPAIGNS", 3)
		touchPoints = envInt("BENCH_TOUCHPOINTS", 2)
		settle, err = time.ParseDuration(envOr("BENCH_SETTLE", "2s"))
		must(b, err)
		budgets = envOr("BENCH_KCM_BUDGETS", "100/200")
		rounds, landing, lastWait = 1, time.Second, time.Minute
	}
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "k8s-build.sh"), "kube-controller-manager").Output()
	if err != nil {
		b.Fatalf("hack/k8s-build.sh kube-controller-manager: %v", err)
	}
	kcmBin := strings.TrimSpace(string(out))
	// The manager is built while the control plane starts, before any due time is set.
	dir := b.TempDir()
	bin := filepath.Join(dir, "manager")
	built := make(chan error, 1)
	var buildOut bytes.Buffer
	go func() {
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Stdout, build.Stderr = &buildOut, &buildOut
		built <- build.Run()
	}()
	env, cfg, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	if err := <-built; err != nil {
		b.Fatalf("go build: %v\n%s", err, buildOut.Bytes())
	}
	b.Cleanup(func() { _ = env.Stop() })
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	must(b, err)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(b, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))

	// 1. The CronJob controller, alone (skipped when profiling the manager); in a small run,
	// started now, due at the same time as the manager's campaigns, and measured with them.
	profile := os.Getenv("BENCH_PROFILE")
	var results []*startsResult
	var shared []time.Time
	var beside []*cronJobRun
	if small {
		shared = dueTimes(n, gap, rounds)
	}
	if profile == "" {
		for _, budget := range strings.Split(budgets, ",") {
			qps, burst, ok := strings.Cut(strings.TrimSpace(budget), "/")
			if !ok {
				b.Fatalf("BENCH_KCM_BUDGETS: %q is not QPS/burst", budget)
			}
			if small {
				beside = append(beside, startCronJobs(b, ctx, k8s, cs, kcmBin, kubeconfig, dir, n, shared, qps, burst))
				continue
			}
			run := startCronJobs(b, ctx, k8s, cs, kcmBin, kubeconfig, dir, n, dueTimes(n, gap, rounds), qps, burst)
			results = append(results, run.measure(b, ctx, k8s, cs, n))
		}
	}

	// 2. The manager, and its response service.
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "survey.db"))
	must(b, err)
	defer st.Close()
	keys, _ := token.NewKeyRing(token.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte("bench-api-token-0123456789")})
	must(b, err)
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

	logs, err := os.Create(filepath.Join(dir, "manager.log"))
	must(b, err)
	pprofAddr := ""
	if profile != "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(b, err)
		pprofAddr = l.Addr().String()
		l.Close()
	}
	args := []string{"--kubeconfig", kubeconfig, "--health-probe-bind-address", "0", "--metrics-bind-address", "0",
		"--collector-url", ts.URL, "--public-url", "https://listen.example.org", "--api-token-file", tokenFile,
		"--credentials-namespace", "survey-system", "--pprof-bind-address", pprofAddr}
	cmd := exec.CommandContext(ctx, bin, append(args, strings.Fields(os.Getenv("BENCH_MANAGER_FLAGS"))...)...)
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

	dues := shared
	if dues == nil {
		dues = dueTimes(n, gap, rounds)
	}
	start := time.Now()
	for i := range n {
		c := &v1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("campaign-%04d", i), Namespace: ns},
			Spec: v1alpha1.SurveyCampaignSpec{
				Survey: v1alpha1.Survey{Title: "Survey", Questions: []v1alpha1.Question{{ID: "q1", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied are you?"}}},
				Audience: v1alpha1.Audience{Source: v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"},
					IDField: "ref", Contact: v1alpha1.ContactColumns{Email: "email"}},
					Segments: []v1alpha1.Segment{{Name: "all", Channels: []string{"email"}}}},
				Channels: []v1alpha1.Channel{{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org"}, From: "s@example.org"}}},
				Schedule: &v1alpha1.Schedule{Cron: cronOf(dues), TimeZone: "UTC", ResponseWindow: "336h"},
			}}
		must(b, k8s.Create(ctx, c))
	}
	// Touch-point campaigns that no event reaches: they poll the response service every 30 s,
	// and must write nothing while they do (counted with the rest while the manager settles).
	for i := range touchPoints {
		c := &v1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("touchpoints-%04d", i), Namespace: ns},
			Spec: v1alpha1.SurveyCampaignSpec{
				Survey: v1alpha1.Survey{Title: "Survey", Questions: []v1alpha1.Question{{ID: "q1", Kind: v1alpha1.QuestionCSAT, Text: "How satisfied are you?"}}},
				Audience: v1alpha1.Audience{Source: v1alpha1.AudienceSource{IDField: "ref", Contact: v1alpha1.ContactColumns{Email: "email"},
					Events: &v1alpha1.EventsSource{Types: []v1alpha1.EventTypeSelector{{Type: "repair.completed"}}, Delay: "0s", MaxAge: "72h"}},
					Segments: []v1alpha1.Segment{{Name: "all", Channels: []string{"email"}}}},
				Channels: []v1alpha1.Channel{{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org"}, From: "s@example.org"}}},
				Schedule: &v1alpha1.Schedule{TimeZone: "UTC", ResponseWindow: "336h"},
			}}
		must(b, k8s.Create(ctx, c))
	}
	b.Logf("%d campaigns and %d idle touch-point campaigns created in %s; due at %s", n, touchPoints, time.Since(start).Round(time.Millisecond), timesOf(dues))
	if profile != "" {
		go func() {
			time.Sleep(time.Until(dues[1].Add(-time.Second)))
			resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/profile?seconds=20")
			if err != nil {
				b.Errorf("profiling the manager: %v", err)
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			_ = os.WriteFile(profile, data, 0o644)
		}()
	}
	cpu0 := cpuSeconds(b, cmd.Process.Pid)
	waves := func(k int, phases ...v1alpha1.WavePhase) int {
		var list v1alpha1.SurveyCampaignList
		must(b, k8s.List(ctx, &list, client.InNamespace(ns)))
		id, c := campaign.WaveID(dues[k]), 0
		for _, sc := range list.Items {
			for _, w := range sc.Status.Waves {
				if w.ID == id && (len(phases) == 0 || slices.Contains(phases, w.Phase)) {
					c++
				}
			}
		}
		return c
	}
	arrivals := watchJobs(b, ctx, cs, ns)
	for _, c := range beside {
		results = append(results, c.measure(b, ctx, k8s, cs, n))
	}
	ours := measureStarts(b, ctx, k8s, cs, "manager", ns, n, dues, arrivals,
		[]string{"surveycampaigns", "surveycampaigns/status", "jobs", "secrets", "events"},
		func(k int) int { return waves(k) },
		func(k int) int { return waves(k, v1alpha1.WaveCollecting) })
	cpuWaves := cpuSeconds(b, cmd.Process.Pid) - cpu0

	// Every wave collecting: the manager settles.
	writes0 := writes(b, ctx, cs)
	cpu1 := cpuSeconds(b, cmd.Process.Pid)
	time.Sleep(settle)
	settled := diff(writes(b, ctx, cs), writes0, []string{"surveycampaigns", "surveycampaigns/status", "jobs", "secrets", "events"})
	cpuSettled := cpuSeconds(b, cmd.Process.Pid) - cpu1
	peak := peakRSS(b, cmd.Process.Pid)

	for _, r := range append(results, ours) {
		for k := range dues {
			b.ReportMetric(r.p50[k].Seconds(), fmt.Sprintf("%s-wave%d-p50-due-to-job-s", r.name, k+1))
			b.ReportMetric(r.p99[k].Seconds(), fmt.Sprintf("%s-wave%d-p99-due-to-job-s", r.name, k+1))
			b.ReportMetric(float64(total(r.start[k]))/float64(n), fmt.Sprintf("%s-wave%d-writes-per-start", r.name, k+1))
			b.ReportMetric(float64(total(r.end[k]))/float64(n), fmt.Sprintf("%s-wave%d-writes-per-completion", r.name, k+1))
			b.Logf("%s, wave %d: due→Job p50 %s, p99 %s; API writes per start %.2f (%s); per Job completion %.2f (%s)",
				r.name, k+1, r.p50[k].Round(time.Millisecond), r.p99[k].Round(time.Millisecond),
				float64(total(r.start[k]))/float64(n), perObject(r.start[k], n), float64(total(r.end[k]))/float64(n), perObject(r.end[k], n))
		}
	}
	b.ReportMetric(cpuWaves, "manager-cpu-s-two-waves")
	b.ReportMetric(cpuSettled, "manager-cpu-s-settled")
	b.ReportMetric(peak, "manager-peak-rss-MiB")
	b.ReportMetric(float64(total(settled)), "manager-api-writes-settled")
	b.Logf("manager: CPU %.1f s over the two waves, %.1f s in %s settled; peak RSS %.0f MiB; API writes while settled: %d (%s)",
		cpuWaves, cpuSettled, settle, peak, total(settled), perObject(settled, 1))
}

// cronJobRun is kube-controller-manager's CronJob controller running with n CronJobs due at the
// same times, and a watch of their Jobs.
type cronJobRun struct {
	name, ns string
	dues     []time.Time
	log      string
	kcm      *exec.Cmd
	stop     context.CancelFunc
	arrivals *arrivals
}

// startCronJobs starts kube-controller-manager's CronJob controller alone with n CronJobs due at
// dues.
func startCronJobs(b *testing.B, ctx context.Context, k8s client.Client, cs *kubernetes.Clientset, kcmBin, kubeconfig, dir string,
	n int, dues []time.Time, qps, burst string) *cronJobRun {
	name := "cronjob-qps" + qps
	cronNS := name
	must(b, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cronNS}}))
	kcmLog, err := os.Create(filepath.Join(dir, name+".log"))
	must(b, err)
	kcmCtx, stopKCM := context.WithCancel(ctx)
	kcm := exec.CommandContext(kcmCtx, kcmBin, "--kubeconfig", kubeconfig, "--controllers", "cronjob-controller",
		"--leader-elect=false", "--secure-port=0",
		"--kube-api-qps", qps, "--kube-api-burst", burst)
	kcm.Stdout, kcm.Stderr = kcmLog, kcmLog
	must(b, kcm.Start())
	start := time.Now()
	for i := range n {
		must(b, k8s.Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cronjob-%04d", i), Namespace: cronNS},
			Spec: batchv1.CronJobSpec{Schedule: cronOf(dues), TimeZone: ptr.To("UTC"), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "send", Image: "survey-sender:bench"}}}}}}}}))
	}
	b.Logf("%d CronJobs created in %s; due at %s", n, time.Since(start).Round(time.Millisecond), timesOf(dues))
	return &cronJobRun{name: name, ns: cronNS, dues: dues, log: kcmLog.Name(), kcm: kcm, stop: stopKCM, arrivals: watchJobs(b, ctx, cs, cronNS)}
}

// measure measures the CronJobs' starts, then stops the controller and deletes them.
func (r *cronJobRun) measure(b *testing.B, ctx context.Context, k8s client.Client, cs *kubernetes.Clientset, n int) *startsResult {
	cronJobs := func(ok func(*batchv1.CronJob) bool) int {
		var list batchv1.CronJobList
		must(b, k8s.List(ctx, &list, client.InNamespace(r.ns)))
		c := 0
		for i := range list.Items {
			if ok(&list.Items[i]) {
				c++
			}
		}
		return c
	}
	cron := measureStarts(b, ctx, k8s, cs, r.name, r.ns, n, r.dues, r.arrivals, []string{"cronjobs", "cronjobs/status", "jobs", "events"},
		func(k int) int {
			return cronJobs(func(cj *batchv1.CronJob) bool {
				return cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(r.dues[k])
			})
		},
		func(int) int {
			return cronJobs(func(cj *batchv1.CronJob) bool {
				return len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil
			})
		})
	r.stop()
	_ = r.kcm.Wait()
	if b.Failed() {
		out, _ := os.ReadFile(r.log)
		b.Logf("kube-controller-manager log (tail):\n%s", tail(out, 4000))
	}
	// Out of the manager's caches.
	must(b, k8s.DeleteAllOf(ctx, &batchv1.CronJob{}, client.InNamespace(r.ns)))
	must(b, k8s.DeleteAllOf(ctx, &batchv1.Job{}, client.InNamespace(r.ns), client.PropagationPolicy(metav1.DeletePropagationBackground)))

	return cron
}

// startsResult is what measureStarts found for one controller.
type startsResult struct {
	name       string
	p50, p99   []time.Duration  // due → Job, by due time
	start, end []map[string]int // API writes by resource, for the starts and for the completions, by due time
}

// arrivals are the times at which Jobs of a namespace arrived at a watch.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

// watchJobs records, from now on, when each Job of namespace ns arrives.
func watchJobs(b *testing.B, ctx context.Context, cs *kubernetes.Clientset, ns string) *arrivals {
	a := &arrivals{}
	w, err := cs.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	must(b, err)
	b.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			if _, ok := ev.Object.(*batchv1.Job); ok && ev.Type == watch.Added {
				a.mu.Lock()
				a.times = append(a.times, time.Now())
				a.mu.Unlock()
			}
		}
	}()
	return a
}

// landing is how long the last API writes of a stretch are given to land before they are
// counted, and lastWait how long after the last due time the starts and completions may take
// (1 s and a minute in a small run).
var (
	landing  = 5 * time.Second
	lastWait = 15 * time.Minute
)

// measureStarts measures the starts of n objects of namespace ns at each of the due times, from
// the arrivals of their Jobs (watched since before the first due time). started(k) counts the
// objects whose status records their start at the k-th; once all do, the benchmark marks the
// Jobs complete and ended(k) counts the objects whose status has seen it. The API writes to
// resources are counted over each of those two stretches.
func measureStarts(b *testing.B, ctx context.Context, k8s client.Client, cs *kubernetes.Clientset, name, ns string, n int,
	dues []time.Time, arrived *arrivals, resources []string, started, ended func(k int) int) *startsResult {
	r := &startsResult{name: name}
	waitFor := func(what string, deadline time.Time, count func() int) {
		for {
			got := count()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: only %d of %d by %s (BENCH_GAP lengthens the time between the due times)", what, got, n, deadline.Format(time.TimeOnly))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	for k, due := range dues {
		deadline := due.Add(lastWait)
		if k+1 < len(dues) {
			deadline = dues[k+1].Add(-30 * time.Second)
		}
		time.Sleep(time.Until(due.Add(-3 * time.Second)))
		writes0 := writes(b, ctx, cs)
		var lat []time.Duration
		waitFor(fmt.Sprintf("%s wave %d: Jobs", name, k+1), deadline, func() int {
			arrived.mu.Lock()
			defer arrived.mu.Unlock()
			lat = lat[:0]
			for _, t := range arrived.times {
				if !t.Before(due) {
					lat = append(lat, t.Sub(due))
				}
			}
			return len(lat)
		})
		slices.Sort(lat)
		r.p50 = append(r.p50, lat[len(lat)/2])
		r.p99 = append(r.p99, lat[min(len(lat)-1, len(lat)*99/100)])
		waitFor(fmt.Sprintf("%s wave %d: starts recorded", name, k+1), deadline, func() int { return started(k) })
		time.Sleep(landing) // the last writes land
		writes1 := writes(b, ctx, cs)
		r.start = append(r.start, diff(writes1, writes0, resources))

		var jobs batchv1.JobList
		must(b, k8s.List(ctx, &jobs, client.InNamespace(ns)))
		now := metav1.Now()
		for i := range jobs.Items {
			j := &jobs.Items[i]
			if j.Status.CompletionTime != nil {
				continue
			}
			j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
			must(b, k8s.Status().Update(ctx, j))
		}
		waitFor(fmt.Sprintf("%s wave %d: completions seen", name, k+1), deadline, func() int { return ended(k) })
		time.Sleep(landing)
		r.end = append(r.end, diff(writes(b, ctx, cs), writes1, resources))
	}
	return r
}

// dueTimes are rounds (1 or 2) due times gap apart in the same hour, the first at least a minute
// after the n objects due then can have been created; a single due time (a small run's) is the
// first whole minute at least 15 s away.
func dueTimes(n int, gap time.Duration, rounds int) []time.Time {
	if rounds == 1 {
		return []time.Time{time.Now().UTC().Add(15 * time.Second).Truncate(time.Minute).Add(time.Minute)}
	}
	first := time.Now().UTC().Add(time.Duration(n)*15*time.Millisecond + time.Minute).Truncate(time.Minute).Add(time.Minute)
	if first.Add(gap).Hour() != first.Hour() {
		first = first.Truncate(time.Hour).Add(time.Hour)
	}
	return []time.Time{first, first.Add(gap)}
}

// timesOf lists due times as "15:04:00 and 15:07:00".
func timesOf(dues []time.Time) string {
	var s []string
	for _, d := range dues {
		s = append(s, d.Format(time.TimeOnly))
	}
	return strings.Join(s, " and ")
}

// cronOf is the cron expression due at exactly those times (UTC, within one hour).
func cronOf(dues []time.Time) string {
	var minutes []string
	for _, d := range dues {
		minutes = append(minutes, strconv.Itoa(d.Minute()))
	}
	return fmt.Sprintf("%s %d * * *", strings.Join(minutes, ","), dues[0].Hour())
}

var (
	requestLine = regexp.MustCompile(`^apiserver_request_total\{(.*)\} ([0-9.e+]+)$`)
	labelPair   = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
)

// writes counts the API server's writes (POST, PUT, PATCH, DELETE, APPLY) by resource, as
// "jobs" or "surveycampaigns/status".
func writes(b *testing.B, ctx context.Context, cs *kubernetes.Clientset) map[string]int {
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	must(b, err)
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := requestLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range labelPair.FindAllStringSubmatch(m[1], -1) {
			labels[l[1]] = l[2]
		}
		switch labels["verb"] {
		case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		default:
			continue
		}
		key := labels["resource"]
		if s := labels["subresource"]; s != "" {
			key += "/" + s
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		counts[key] += int(v)
	}
	return counts
}

// diff is after - before for the resources named in only.
func diff(after, before map[string]int, only []string) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if slices.Contains(only, k) && v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

func total(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

// perObject shows writes by resource divided by n, as "events 1.00, jobs 1.00".
func perObject(m map[string]int, n int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(m[k])/float64(n)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
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
