package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/testenv"
)

// The subcommands that talk to a cluster, against a real kube-apiserver with the CRDs: through
// a kubeconfig and --context, as a person runs them.

var (
	clusterOnce sync.Once
	cluster     struct {
		env        *envtest.Environment
		client     client.Client
		kubeconfig string
		err        error
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.env != nil {
		_ = cluster.env.Stop()
	}
	os.Exit(code)
}

// apiserver starts the control plane once, and returns a client and a kubeconfig file whose
// context "envtest" names it.
func apiserver(t *testing.T) (client.Client, string) {
	t.Helper()
	clusterOnce.Do(func() {
		env, cfg, err := testenv.Start()
		if err != nil {
			cluster.err = err
			return
		}
		cluster.env = env
		scheme := runtime.NewScheme()
		_ = v1alpha1.AddToScheme(scheme)
		_ = corev1.AddToScheme(scheme)
		_ = rbacv1.AddToScheme(scheme)
		_ = discoveryv1.AddToScheme(scheme)
		if cluster.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
			cluster.err = err
			return
		}
		user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			cluster.err = err
			return
		}
		data, err := user.KubeConfig()
		if err != nil {
			cluster.err = err
			return
		}
		dir, err := os.MkdirTemp("", "kubectl-survey-")
		if err != nil {
			cluster.err = err
			return
		}
		cluster.kubeconfig = filepath.Join(dir, "kubeconfig")
		cluster.err = os.WriteFile(cluster.kubeconfig, data, 0o600)
	})
	if cluster.err != nil {
		t.Fatal(cluster.err)
	}
	return cluster.client, cluster.kubeconfig
}

var namespaces int

// newNamespace makes a namespace for one test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	namespaces++
	ns := fmt.Sprintf("plugin-%d", namespaces)
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// kubectlSurvey runs the plugin against the test cluster as its administrator, returning what
// it printed to stdout.
func kubectlSurvey(t *testing.T, args ...string) (string, error) {
	t.Helper()
	_, kubeconfig := apiserver(t)
	return kubectlSurveyAs(t, kubeconfig, args...)
}

// kubectlSurveyAs runs the plugin with a kubeconfig.
func kubectlSurveyAs(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--kubeconfig", kubeconfig, "--context", "envtest"))
	err := cmd.Execute()
	return out.String(), err
}

// Each template prints a commented campaign that the API server accepts as it is, in the
// namespace -n names.
func TestTemplatesAreValidCampaigns(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	for name := range templates {
		t.Run(name, func(t *testing.T) {
			out, err := kubectlSurvey(t, "template", name, "-n", ns)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out, "# ") {
				t.Errorf("the template does not start with a comment saying what it is:\n%.200s", out)
			}
			var sc v1alpha1.SurveyCampaign
			if err := yaml.UnmarshalStrict([]byte(out), &sc); err != nil {
				t.Fatal(err)
			}
			if sc.Namespace != ns {
				t.Errorf("namespace %q, want %q", sc.Namespace, ns)
			}
			if err := c.Create(context.Background(), &sc); err != nil {
				t.Fatalf("the API server refuses template %s: %v", name, err)
			}
		})
	}
	if _, err := kubectlSurvey(t, "template", "everything"); err == nil || !strings.Contains(err.Error(), "nps, pulse, tsm") {
		t.Errorf("an unknown template: %v, want the list of templates", err)
	}
}

// A campaign from the nps template, with a status as the operator writes it: a closed wave with
// results and a trend, and a newer wave still collecting.
func campaignWithResults(t *testing.T, c client.Client, ns string) *v1alpha1.SurveyCampaign {
	t.Helper()
	out, err := kubectlSurvey(t, "template", "nps", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	var sc v1alpha1.SurveyCampaign
	if err := yaml.Unmarshal([]byte(out), &sc); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	closes := metav1.NewTime(time.Date(2026, 11, 10, 18, 0, 0, 0, time.UTC))
	sc.Status.Waves = []v1alpha1.WaveStatus{
		{ID: "20261110-1800", ScheduledTime: metav1.NewTime(time.Date(2026, 11, 10, 18, 0, 0, 0, time.UTC)), Phase: v1alpha1.WaveCollecting,
			Invited: 120},
		{ID: "20261103-1800", ScheduledTime: metav1.NewTime(time.Date(2026, 11, 3, 18, 0, 0, 0, time.UTC)), Phase: v1alpha1.WaveClosed,
			CloseTime: &closes, Invited: 400, Delivered: 390, Responded: 130, ResponseRate: "33.3",
			Scores: []v1alpha1.QuestionScore{
				{Question: "recommend", Value: "32", N: 130, MarginOfError: "7.9"},
				{Question: "satisfied", Value: "81.5", N: 128, MarginOfError: "6.4"},
			},
			Trend: []v1alpha1.TrendComparison{{Question: "recommend", PreviousWave: "20261027-1800", Change: "12.0", Verdict: v1alpha1.VerdictAbove}},
			Segments: []v1alpha1.Breakdown{
				{Name: "emergency", Population: 80, Invited: 80, Responded: 30, ResponseRate: "37.5",
					Score: &v1alpha1.QuestionScore{Question: "recommend", Value: "45", N: 30, MarginOfError: "15.2"}},
				{Name: "routine", Population: 900, Invited: 320, Responded: 100, ResponseRate: "31.3"},
			},
			Representativeness: &v1alpha1.Representativeness{ChiSquare: "0.41", DegreesOfFreedom: 1, PValue: "0.52", Representative: true}},
	}
	if err := c.Status().Update(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	return &sc
}

func TestWavesAndResults(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)

	out, err := kubectlSurvey(t, "waves", sc.Name, "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "WAVE") ||
		!strings.Contains(lines[2], "20261103-1800") || !strings.Contains(lines[2], "Closed") ||
		!strings.Contains(lines[2], "33.3%") || !strings.Contains(lines[2], "+32 ±7.9") {
		t.Errorf("waves:\n%s", out)
	}
	out, err = kubectlSurvey(t, "waves", sc.Name, "-n", ns, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var waves []v1alpha1.WaveStatus
	if err := json.Unmarshal([]byte(out), &waves); err != nil || len(waves) != 2 || waves[1].Responded != 130 {
		t.Errorf("waves -o json: %v\n%s", err, out)
	}
	// CSV is for spreadsheets: one value a column, the score apart from its margin and n.
	if out, err = kubectlSurvey(t, "waves", sc.Name, "-n", ns, "-o", "csv"); err != nil ||
		!strings.HasPrefix(out, "wave,phase,scheduled,closes,invited,responded,response_rate,question,score,margin_of_error,n\n") ||
		!strings.Contains(out, ",Closed,") || !strings.Contains(out, ",33.3,recommend,32,7.9,") || strings.Contains(out, "±") {
		t.Errorf("waves -o csv: %v\n%s", err, out)
	}

	// The latest wave with responses, read at a glance.
	out, err = kubectlSurvey(t, "results", sc.Name, "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl survey results %s:\n%s", sc.Name, out)
	for _, want := range []string{
		"wave 20261103-1800 (Closed): 130 of 400 responded (33.3%).",
		"the responses represent the segments (chi-square p = 0.52)",
		"recommend", "+32 ±7.9", "+12.0 ▲", "20261027-1800",
		"satisfied", "81.5% ±6.4",
		"emergency", "37.5%", "+45 ±15.2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("results lack %q:\n%s", want, out)
		}
	}
	// A wave's report keeps what the status trims: results read it when it is there.
	full := sc.Status.Waves[1].DeepCopy()
	full.Scores = append(full.Scores, v1alpha1.QuestionScore{Question: "effort", Value: "64.0", N: 120, MarginOfError: "8.1"})
	data, err := json.Marshal(campaign.Report{APIVersion: "surveys.surveyops.io/v1alpha1", Kind: "WaveReport", Namespace: ns,
		Campaign: sc.Name, Wave: *full, Choices: []campaign.ChoiceShares{{Question: "first-visit", N: 120, Options: []campaign.OptionShare{
			{Choice: "Yes", Count: 90, Share: "75.0"}, {Choice: "No", Count: 30, Share: "25.0"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: campaign.ReportName(sc.Name, full.ID),
		Namespace: ns, Labels: map[string]string{campaign.LabelCampaignUID: string(sc.UID)}},
		Data: map[string]string{campaign.ReportKey: string(data)}}); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlSurvey(t, "results", sc.Name, "-n", ns, "--wave", full.ID); err != nil || !strings.Contains(out, "64.0% ±8.1") ||
		!regexp.MustCompile(`first-visit \(n=120\) +Yes +90 +75.0%`).MatchString(out) {
		t.Errorf("results from the wave's report: %v\n%s", err, out)
	}
	if _, err := kubectlSurvey(t, "results", sc.Name, "-n", ns, "--wave", "20990101-0000"); err == nil ||
		!strings.Contains(err.Error(), "kubectl survey waves") {
		t.Errorf("results of a wave that is not there: %v", err)
	}
	if _, err := kubectlSurvey(t, "results", "no-such-campaign", "-n", ns); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("results of a campaign that is not there: %v", err)
	}
	if _, err := kubectlSurvey(t, "waves", sc.Name, "-n", ns, "-o", "wide"); err == nil {
		t.Error("an unknown output format was accepted")
	}
}

func TestSuspendAndResume(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	for _, step := range []struct {
		cmd  string
		want bool
	}{{"suspend", true}, {"resume", false}} {
		out, err := kubectlSurvey(t, step.cmd, sc.Name, "-n", ns)
		if err != nil {
			t.Fatal(err)
		}
		var got v1alpha1.SurveyCampaign
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(sc), &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Suspend != step.want || !strings.Contains(out, sc.Name) {
			t.Errorf("after %s: spec.suspend %v, printed %q", step.cmd, got.Spec.Suspend, out)
		}
	}
}

// send-now sets the request annotation and prints the wave's ID once the operator (played
// here by the test) has started it.
func TestSendNowWaitsForTheWave(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 1)
	go func() { // the operator: a wave for the request
		for ctx.Err() == nil {
			var got v1alpha1.SurveyCampaign
			if err := c.Get(ctx, client.ObjectKeyFromObject(sc), &got); err == nil {
				if v := got.Annotations[v1alpha1.AnnotationRequestedAt]; v != "" {
					id := campaign.RequestedWaveID(v)
					got.Status.Waves = append([]v1alpha1.WaveStatus{{ID: id, Phase: v1alpha1.WaveSending,
						ScheduledTime: metav1.Now()}}, got.Status.Waves...)
					if err := c.Status().Update(ctx, &got); err == nil {
						started <- id
						return
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	out, err := kubectlSurvey(t, "send-now", sc.Name, "-n", ns, "--timeout", "30s")
	if err != nil {
		t.Fatal(err)
	}
	id := <-started
	if strings.TrimSpace(out) != id {
		t.Errorf("send-now printed %q, want the wave's ID %s", out, id)
	}
	// Nobody starts the next one: send-now gives up, and says where to look.
	cancel()
	if _, err := kubectlSurvey(t, "send-now", sc.Name, "-n", ns, "--timeout", "2s"); err == nil ||
		!strings.Contains(err.Error(), "kubectl describe surveycampaign") {
		t.Errorf("send-now with no operator: %v", err)
	}
}

// results -o json and -o yaml carry the Choice questions' shares the table shows, beside the
// wave's fields; -o csv is one figure a row, one value a column: the response rates, each
// question's score overall and by segment, and each option's share.
func TestResultsFormats(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	full := sc.Status.Waves[1].DeepCopy()
	full.Scores[0].EffectiveN, full.Scores[0].Unweighted = 112, "30"
	full.Segments[0].Scores = []v1alpha1.QuestionScore{{Question: "satisfied", Value: "70.0", N: 29, MarginOfError: "16.0"}}
	data, err := json.Marshal(campaign.Report{APIVersion: "surveys.surveyops.io/v1alpha1", Kind: "WaveReport", Namespace: ns,
		Campaign: sc.Name, Wave: *full, Choices: []campaign.ChoiceShares{{Question: "first-visit", N: 120, Options: []campaign.OptionShare{
			{Choice: "Yes", Count: 90, Share: "75.0"}, {Choice: "No", Count: 30, Share: "25.0"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: campaign.ReportName(sc.Name, full.ID),
		Namespace: ns, Labels: map[string]string{campaign.LabelCampaignUID: string(sc.UID)}},
		Data: map[string]string{campaign.ReportKey: string(data)}}); err != nil {
		t.Fatal(err)
	}

	structured := func(t *testing.T, m map[string]any) {
		t.Helper()
		if m["id"] != full.ID || m["responded"] != float64(130) || m["scores"] == nil || m["segments"] == nil {
			t.Errorf("the wave's fields are not at the top: %v", m)
		}
		choices, _ := m["choices"].([]any)
		first, _ := func() (map[string]any, bool) {
			if len(choices) != 1 {
				return nil, false
			}
			c, ok := choices[0].(map[string]any)
			return c, ok
		}()
		options, _ := first["options"].([]any)
		if first["question"] != "first-visit" || first["n"] != float64(120) || len(options) != 2 ||
			fmt.Sprint(options[0]) != "map[choice:Yes count:90 share:75.0]" {
			t.Errorf("choices: %v", m["choices"])
		}
	}
	for name, check := range map[string]func(t *testing.T, out string){
		"json": func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			structured(t, m)
		},
		"yaml": func(t *testing.T, out string) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			structured(t, m)
		},
		"csv": func(t *testing.T, out string) {
			records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			header := "wave,kind,question,segment,choice,value,margin_of_error,n,effective_n,unweighted,mean,count,invited,population,change,previous_wave,trend"
			if strings.Join(records[0], ",") != header {
				t.Fatalf("header %q, want %q", records[0], header)
			}
			// Every row's cells that are not empty, but the wave's ID.
			var got []string
			for _, r := range records[1:] {
				if r[0] != full.ID {
					t.Errorf("row of wave %q: %q", r[0], r)
				}
				var cells []string
				for i, v := range r[1:] {
					if v != "" {
						cells = append(cells, records[0][i+1]+"="+v)
					}
				}
				got = append(got, strings.Join(cells, " "))
			}
			want := []string{
				"kind=responses segment=(overall) value=33.3 n=130 invited=400",
				"kind=responses segment=emergency value=37.5 n=30 invited=80 population=80",
				"kind=responses segment=routine value=31.3 n=100 invited=320 population=900",
				"kind=score question=recommend segment=(overall) value=32 margin_of_error=7.9 n=130 effective_n=112 unweighted=30 change=12.0 previous_wave=20261027-1800 trend=Above",
				"kind=score question=recommend segment=emergency value=45 margin_of_error=15.2 n=30",
				"kind=score question=satisfied segment=(overall) value=81.5 margin_of_error=6.4 n=128",
				"kind=score question=satisfied segment=emergency value=70.0 margin_of_error=16.0 n=29",
				"kind=choice question=first-visit segment=(overall) choice=Yes value=75.0 n=120 count=90",
				"kind=choice question=first-visit segment=(overall) choice=No value=25.0 n=120 count=30",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := kubectlSurvey(t, "results", sc.Name, "-n", ns, "-o", name)
			if err != nil {
				t.Fatal(err)
			}
			check(t, out)
		})
	}
	// The table is as it was.
	if out, err := kubectlSurvey(t, "results", sc.Name, "-n", ns); err != nil || !strings.Contains(out, "+32 ±7.9") ||
		!regexp.MustCompile(`first-visit \(n=120\) +Yes +90 +75.0%`).MatchString(out) {
		t.Errorf("results: %v\n%s", err, out)
	}
}

// send-now refuses a suspended campaign at once, and leaves no request behind to fire when
// it is resumed.
func TestSendNowRefusesASuspendedCampaign(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	if _, err := kubectlSurvey(t, "suspend", sc.Name, "-n", ns); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := kubectlSurvey(t, "send-now", sc.Name, "-n", ns, "--timeout", "30s")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("send-now took %s to refuse", took)
	}
	if err == nil || !strings.Contains(err.Error(), "is suspended") || !strings.Contains(err.Error(), "kubectl survey resume "+sc.Name+" -n "+ns) {
		t.Errorf("send-now on a suspended campaign: %v, printed %q", err, out)
	}
	var got v1alpha1.SurveyCampaign
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(sc), &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Annotations[v1alpha1.AnnotationRequestedAt]; ok {
		t.Errorf("send-now left the request %q on the suspended campaign", v)
	}
}
