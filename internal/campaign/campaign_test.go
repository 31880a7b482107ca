package campaign

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

func TestNames(t *testing.T) {
	due := time.Date(2026, 4, 1, 9, 0, 0, 0, time.FixedZone("BST", 3600))
	if got := WaveID(due); got != "20260401-0800" {
		t.Errorf("WaveID = %q, want the UTC minute", got)
	}
	if a, b := RequestedWaveID("2026-04-01T10:00:00Z"), RequestedWaveID("2026-04-02T10:00:00Z"); a == b || !strings.HasPrefix(a, "now-") || len(a) != 12 {
		t.Errorf("RequestedWaveID: %q, %q", a, b)
	}
	if got := JobName("tenant-satisfaction", "20260401-0800", 0); got != "tenant-satisfaction-20260401-0800" {
		t.Errorf("JobName = %q", got)
	}
	if got := JobName("tenant-satisfaction", "20260401-0800", 2); got != "tenant-satisfaction-20260401-0800-r2" {
		t.Errorf("JobName of a reminder = %q", got)
	}
	long := strings.Repeat("riverside-homes-general-needs-", 8) + "quarterly"
	seen := map[string]bool{}
	for _, c := range []string{long, long + "x", long[:len(long)-1]} {
		for round := range 3 {
			name := JobName(c, "20260401-0800", round)
			if len(name) > MaxJobName || len(validation.IsDNS1123Label(name)) > 0 {
				t.Errorf("JobName(%q) = %q: %d characters, %v", c, name, len(name), validation.IsDNS1123Label(name))
			}
			if seen[name] {
				t.Errorf("two campaigns share the Job name %q", name)
			}
			seen[name] = true
			if !strings.HasSuffix(name, "-20260401-0800") && round == 0 {
				t.Errorf("the wave is not in the name %q", name)
			}
		}
	}
}

func spec() *v1alpha1.SurveyCampaign {
	return &v1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant-satisfaction", Namespace: "riverside-homes", UID: "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f"},
		Spec: v1alpha1.SurveyCampaignSpec{
			Survey: v1alpha1.Survey{Title: "Tenant survey", PrimaryQuestion: "tp01", Questions: []v1alpha1.Question{
				{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Text: "Overall?"},
				{ID: "recommend", Kind: v1alpha1.QuestionNPS, Text: "Recommend?"},
				{ID: "comments", Kind: v1alpha1.QuestionText, Text: "Anything else?"},
			}},
			Audience: v1alpha1.Audience{
				Source: v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "tenants", Key: "tenants.csv"}, IDField: "ref",
					Contact: v1alpha1.ContactColumns{Email: "email", Phone: "mobile"}},
				Segments: []v1alpha1.Segment{
					{Name: "older", Match: `int(attrs.age) >= 70`, Channels: []string{"sms"}, Sample: &v1alpha1.Sample{Percent: ptr.To(int32(50))}},
					{Name: "everyone", Channels: []string{"email", "sms"}},
				},
			},
			Channels: []v1alpha1.Channel{
				{Name: "email", Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "smtp.example.org", Port: 587, TLS: "StartTLS",
					CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: "smtp"}}, From: "survey@example.org"}},
				{Name: "sms", Webhook: &v1alpha1.WebhookChannel{URL: "https://sms.example.org", SecretRef: &v1alpha1.LocalObjectReference{Name: "sms"}},
					RateLimit: &v1alpha1.RateLimit{PerSecond: 5}},
			},
			Schedule: &v1alpha1.Schedule{Cron: "0 9 1 */3 *", TimeZone: "Europe/London",
				QuietHours: &v1alpha1.QuietHours{Start: "20:00", End: "08:00"}, Reminders: []v1alpha1.Duration{"72h"}},
		},
	}
}

var header = []string{"ref", "email", "mobile", "age"}

func TestValidate(t *testing.T) {
	if ps := Validate(&spec().Spec, header); len(ps) != 0 {
		t.Fatalf("a valid campaign: %v", ps)
	}
	cases := []struct {
		name    string
		columns []string
		mutate  func(*v1alpha1.SurveyCampaignSpec)
		want    string
	}{
		{"an unknown attribute", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Audience.Segments[0].Match = `attrs.agee > "70"` },
			`spec.audience.segments[0].match: attrs has no column "agee"`},
		{"an undeclared reference", nil, func(s *v1alpha1.SurveyCampaignSpec) { s.Audience.Segments[0].Match = `agee > 70` },
			`spec.audience.segments[0].match: 1:1: undeclared reference to 'agee'`},
		{"not a boolean", nil, func(s *v1alpha1.SurveyCampaignSpec) { s.Audience.Segments[0].Match = `attrs.age` },
			`spec.audience.segments[0].match: the expression gives string; it must give true or false`},
		{"a missing id column", []string{"email", "mobile", "age"}, func(*v1alpha1.SurveyCampaignSpec) {},
			`spec.audience.source.idField: the audience has no column "ref"`},
		{"a missing contact column", []string{"ref", "email", "age"}, func(*v1alpha1.SurveyCampaignSpec) {},
			`spec.audience.source.contact.phone: the audience has no column "mobile"`},
		{"an undeclared contact", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Audience.Source.Contact.Phone = "" },
			`spec.channels[1]: channel "sms" delivers to spec.audience.source.contact.phone, which is not set`},
		{"a bad cron", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Schedule.Cron = "0 9 32 * *" },
			`spec.schedule.cron: cron field 3 (day of month): 32 is out of range 1-31`},
		{"an unknown time zone", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Schedule.TimeZone = "Europe/Londres" },
			`spec.schedule.timeZone: `},
		{"bad quiet hours", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Schedule.QuietHours.End = "25:00" },
			`spec.schedule.quietHours: `},
		{"a subject template with an unknown field", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Channels[0].Email.Subject = "{{.Titel}}" },
			`spec.channels[0].email: `},
		{"a showIf reading a later question", header, func(s *v1alpha1.SurveyCampaignSpec) {
			s.Survey.Questions[0].ShowIf = `answers.recommend >= 9`
		}, `spec.survey.questions[0].showIf: answers.recommend is not an earlier question`},
		{"a showIf reading an unknown question", header, func(s *v1alpha1.SurveyCampaignSpec) {
			s.Survey.Questions[1].ShowIf = `answers["tp-01"] <= 2`
		}, `spec.survey.questions[1].showIf: answers.tp-01 is not an earlier question`},
		{"a showIf that is not a condition", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Survey.Questions[1].ShowIf = `answers.tp01` },
			`spec.survey.questions[1].showIf: the expression gives dyn; it must give true or false`},
		{"a body template that does not parse", header, func(s *v1alpha1.SurveyCampaignSpec) { s.Channels[1].Webhook.BodyTemplate = `{"to": {{.To}` },
			`spec.channels[1].webhook.bodyTemplate: `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := spec()
			tc.mutate(&c.Spec)
			ps := Validate(&c.Spec, tc.columns)
			if len(ps) == 0 || !strings.HasPrefix(ps.Error(), tc.want) {
				t.Errorf("got %q, want it to begin %q", ps.Error(), tc.want)
			}
		})
	}
}

func TestColumns(t *testing.T) {
	got, err := Columns(v1alpha1.AudienceCSV, []byte("\ufeffref, email ,mobile\r\nT-1,a@example.org,+44\r\n"))
	if err != nil || strings.Join(got, "|") != "ref|email|mobile" {
		t.Errorf("Columns = %q, %v", got, err)
	}
	if _, err := Columns(v1alpha1.AudienceCSV, nil); err == nil {
		t.Error("an empty audience has columns")
	}
	if got, err := Columns(v1alpha1.AudienceJSONLines, []byte(`{"ref":"T-1"}`)); got != nil || err != nil {
		t.Errorf("JSON Lines columns: %v, %v", got, err)
	}
	if n := CountRows([]byte("a\nb\nc")); n != 3 {
		t.Errorf("CountRows = %d", n)
	}
}

func TestBuildJob(t *testing.T) {
	c := spec()
	due := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	w := Wave{ID: WaveID(due), Round: 1, Scheduled: due, Closes: due.Add(336 * time.Hour)}
	m := Mounted{TokenKeyIDs: []string{"2026-04", "2026-01"}, Rows: 12001,
		SecretKeys: map[string]map[string]bool{"email": {"username": true, "password": true}, "sms": {"hmacKey": true}}}
	job, err := BuildJob(c, w, m, Settings{Image: "survey-operator:v1", CollectorURL: "http://collector:8080", PublicURL: "https://listen.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Name != "tenant-satisfaction-20260401-0800-r1" || job.Labels[LabelCampaignUID] != string(c.UID) || job.Labels[LabelRound] != "1" {
		t.Errorf("name %q labels %v", job.Name, job.Labels)
	}
	// 12001 rows at 5000 a pod: an Indexed Job of 3, all at once.
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion || *job.Spec.Completions != 3 || *job.Spec.Parallelism != 3 {
		t.Errorf("sharding: %v %v %v", job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism)
	}
	pod := job.Spec.Template.Spec
	if pod.RestartPolicy != "Never" || *pod.AutomountServiceAccountToken || !*pod.Containers[0].SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("pod %+v", pod)
	}
	// The root filesystem is read-only; a large audience's scan writes under /tmp.
	if v, m := pod.Volumes[len(pod.Volumes)-1], pod.Containers[0].VolumeMounts[len(pod.Containers[0].VolumeMounts)-1]; v.EmptyDir == nil ||
		m.Name != v.Name || m.MountPath != "/tmp" || m.ReadOnly {
		t.Errorf("scratch volume %+v mounted %+v", v, m)
	}
	items := pod.Volumes[1].Secret.Items
	if len(items) != 3 || items[1].Path != "keys/2026-01" || items[2].Key != "token-2026-04" {
		t.Errorf("sender Secret items %+v", items)
	}
	var cfg jobfile.Config
	if err := json.Unmarshal([]byte(pod.Containers[0].Env[0].Value), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Round != 1 || cfg.Seed != string(c.UID)+"/20260401-0800" || cfg.Shards != 3 || !cfg.Expiry.Equal(w.Closes) {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Audience.Segments[0].Percent != 50 || cfg.Audience.File != "/var/run/survey/audience/audience" {
		t.Errorf("audience %+v", cfg.Audience)
	}
	email, sms := cfg.Channels[0], cfg.Channels[1]
	if email.Email.PasswordFile != "/var/run/survey/channels/email/password" || email.ContactField != "email" {
		t.Errorf("email %+v %+v", email, email.Email)
	}
	if sms.Webhook.HMACKeyFile != "/var/run/survey/channels/sms/hmacKey" || sms.Webhook.BearerTokenFile != "" || sms.ContactField != "mobile" {
		t.Errorf("sms %+v %+v", sms, sms.Webhook)
	}
	// The channel's 5 a second is shared by the 3 pods that send at once.
	if math.Abs(sms.PerSecond*3-5) > 1e-9 || sms.Burst != 1 {
		t.Errorf("sms %+v %+v", sms, sms.Webhook)
	}
	if cfg.QuietHours == nil || cfg.QuietHours.TimeZone != "Europe/London" {
		t.Errorf("quiet hours %+v", cfg.QuietHours)
	}
	// Small audiences are one pod.
	small, _ := BuildJob(c, w, Mounted{Rows: 10}, Settings{})
	if small.Spec.Completions != nil || small.Spec.CompletionMode != nil {
		t.Error("a small audience is sharded")
	}
}

func TestScore(t *testing.T) {
	c := spec()
	c.Spec.Targets = &v1alpha1.Targets{ResponseRate: "30", Score: &v1alpha1.ScoreTarget{Question: "tp01", Min: "80"}, MarginOfError: "5"}
	c.Spec.Benchmarks = []v1alpha1.Benchmark{{Name: "sector", Question: "tp01", Value: "60"}, {Name: "peer", Question: "tp01", Value: "69"}}
	v := func(i int) *int { return &i }
	// 400 invited in two segments; 200 responded: 140 satisfied (4-5) of 200 on tp01.
	sum := responseapi.Summary{
		Dispositions: []responseapi.DispositionRow{
			{Segment: "everyone", Channel: "email", Complete: 100, NoAnswer: 90, NonContact: 10},
			{Segment: "older", Channel: "sms", Complete: 90, Partial: 10, NoAnswer: 95, Refusal: 5},
		},
		Histograms: []responseapi.Histogram{
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(5), Count: 50},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(4), Count: 20},
			{Question: "tp01", Segment: "everyone", Channel: "email", Value: v(2), Count: 30},
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(4), Count: 70},
			{Question: "tp01", Segment: "older", Channel: "sms", Value: v(1), Count: 25},
			{Question: "tp01", Segment: "older", Channel: "sms", NotApplicable: true, Count: 5},
			{Question: "recommend", Segment: "older", Channel: "sms", Value: v(10), Count: 10},
			{Question: "recommend", Segment: "older", Channel: "sms", Value: v(3), Count: 5},
		},
		Pairs: map[string]responseapi.PairStats{"recommend": {N: 3, SumX: 20, SumY: 12, SumXX: 150, SumYY: 50, SumXY: 86}},
	}
	r := Score(&c.Spec, sum)
	if r.Invited != 400 || r.Failed != 10 || r.Delivered != 390 || r.Responded != 200 || r.OptedOut != 5 || r.ResponseRate != "50.0" {
		t.Errorf("counts %+v", r)
	}
	// tp01: 140 of 195 on the scale (5 not applicable): 71.8%.
	if r.Scores[0].Question != "tp01" || r.Scores[0].Value != "71.8" || r.Scores[0].N != 195 || r.Scores[0].Mean == "" || r.Scores[0].MarginOfError == "" {
		t.Errorf("tp01 %+v", r.Scores[0])
	}
	// recommend: 10 promoters, 5 detractors of 15: NPS +33.3.
	if r.Scores[1].Question != "recommend" || r.Scores[1].Value != "33.3" || r.Scores[1].Mean != "" {
		t.Errorf("recommend %+v", r.Scores[1])
	}
	if len(r.Segments) != 2 || r.Segments[0].Name != "everyone" || r.Segments[0].Invited != 200 || r.Segments[0].Score.Value != "70.0" {
		t.Errorf("segments %+v", r.Segments)
	}
	// Every other scored question by segment, its margin on the segment's population (here the
	// 200 invited): recommend in "older", 10 promoters and 5 detractors of 15: +33.3. "everyone"
	// has no answer to it, and channels carry the primary question only.
	if s := r.Segments[1].Scores; len(s) != 1 || s[0].Question != "recommend" || s[0].Value != "33.3" || s[0].N != 15 || s[0].MarginOfError == "" {
		t.Errorf("older's other scores %+v", s)
	}
	if r.Segments[0].Scores != nil || r.Channels[1].Scores != nil {
		t.Errorf("scores without answers, or on a channel: %+v, %+v", r.Segments[0].Scores, r.Channels[1].Scores)
	}
	if len(r.Channels) != 2 || r.Channels[1].Name != "sms" || r.Channels[1].ResponseRate != "50.0" {
		t.Errorf("channels %+v", r.Channels)
	}
	// For the wave's report, the channels with every other question too: recommend by SMS
	// (+33.3 of 15, its margin on the 200 invited by SMS), nothing by email.
	if d := r.ChannelDetail; len(d) != 2 || d[1].Name != "sms" || d[1].Score == nil || len(d[1].Scores) != 1 ||
		d[1].Scores[0].Question != "recommend" || d[1].Scores[0].Value != "33.3" || d[1].Scores[0].N != 15 || d[0].Scores != nil {
		t.Errorf("channel detail %+v", r.ChannelDetail)
	}
	want := map[string]v1alpha1.Verdict{"responseRate": v1alpha1.VerdictMet, "score": v1alpha1.VerdictNotMet, "marginOfError": v1alpha1.VerdictMet}
	for _, tv := range r.Targets {
		if want[tv.Target] != tv.Verdict {
			t.Errorf("target %+v", tv)
		}
	}
	if met, known := TargetsMet(r.Targets); met || !known {
		t.Errorf("TargetsMet = %v, %v", met, known)
	}
	// 71.8 ±~4.4: significantly above 60, not significantly different from 69.
	if r.Benchmarks[0].Verdict != v1alpha1.VerdictAbove || r.Benchmarks[1].Verdict != v1alpha1.VerdictNotSignificant {
		t.Errorf("benchmarks %+v", r.Benchmarks)
	}
	if got := ScoreText(&c.Spec.Survey.Questions[0], r.Primary); !strings.HasPrefix(got, "71.8% ±") {
		t.Errorf("ScoreText = %q", got)
	}
	if got := ScoreLabel(&c.Spec.Survey.Questions[0], r.Scores); got != ScoreText(&c.Spec.Survey.Questions[0], r.Primary) {
		t.Errorf("ScoreLabel = %q", got)
	}
	if got := ScoreLabel(&c.Spec.Survey.Questions[1], r.Scores); !strings.HasPrefix(got, "+33 ±") {
		t.Errorf("ScoreLabel of an NPS = %q", got)
	}

	// Nothing yet: no rate, unknown verdicts.
	empty := Score(&c.Spec, responseapi.Summary{})
	if empty.ResponseRate != "" || len(empty.Scores) != 0 {
		t.Errorf("empty %+v", empty)
	}
	if _, known := TargetsMet(empty.Targets); known {
		t.Error("targets known without data")
	}
}

// Every sample FollowUp's trigger compiles against its campaign's questions, and every sample
// campaign passes Validate (the audience's columns are unknown here).
func TestSamples(t *testing.T) {
	files, err := filepath.Glob("../../config/samples/surveys_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	campaigns := map[string]*v1alpha1.SurveyCampaign{}
	var followups []*v1alpha1.FollowUp
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var kind struct{ Kind string }
		if err := yaml.Unmarshal(data, &kind); err != nil {
			t.Fatal(err)
		}
		switch kind.Kind {
		case "SurveyCampaign":
			var c v1alpha1.SurveyCampaign
			if err := yaml.UnmarshalStrict(data, &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if ps := Validate(&c.Spec, nil); len(ps) > 0 {
				t.Errorf("%s: %v", f, ps)
			}
			campaigns[c.Name] = &c
		case "FollowUp":
			var fu v1alpha1.FollowUp
			if err := yaml.UnmarshalStrict(data, &fu); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			followups = append(followups, &fu)
		}
	}
	for _, fu := range followups {
		c := campaigns[fu.Spec.CampaignRef.Name]
		if c == nil {
			t.Errorf("FollowUp %s: no sample campaign %q", fu.Name, fu.Spec.CampaignRef.Name)
			continue
		}
		if fu.Spec.Trigger.When == "" {
			continue
		}
		var ids []string
		for _, q := range c.Spec.Survey.Questions {
			ids = append(ids, q.ID)
		}
		if _, err := audience.CompileTrigger(fu.Spec.Trigger.When, ids); err != nil {
			t.Errorf("FollowUp %s: spec.trigger.when: %v", fu.Name, err)
		}
	}
}

// The sources beyond a Secret or ConfigMap: an object store's Job mounts only its credentials
// (the list is read from the store, pinned to the wave's version), a volume's mounts the claim
// read-only; spec.sending sets the shards, their parallelism and each pod's resources.
func TestBuildJobFromLargeSources(t *testing.T) {
	due := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	version := &v1alpha1.AudienceVersion{ETag: `"9b2cf535f27731c974343645a3985328"`, VersionID: "v7", Size: 7_400_000}
	for name, c := range map[string]struct {
		source  v1alpha1.AudienceSource
		sending *v1alpha1.Sending
		rows    int
		check   func(t *testing.T, cfg jobfile.Config, pod corev1.PodSpec)
		shards  int32
		running int32
	}{
		"object store: the credentials only, the version pinned, shards from the size": {
			source: v1alpha1.AudienceSource{ObjectStore: &v1alpha1.ObjectStoreSource{Endpoint: "minio.storage.svc:9000", Bucket: "exports",
				Key: "housing/tenants.csv.gz", SecretRef: v1alpha1.LocalObjectReference{Name: "exports-reader"},
				CASecretRef: &v1alpha1.LocalObjectReference{Name: "storage-ca"}, Addressing: v1alpha1.BucketAddressingPath}},
			rows: EstimateRows(version.Size), shards: 15, running: 4,
			check: func(t *testing.T, cfg jobfile.Config, pod corev1.PodSpec) {
				o := cfg.Audience.ObjectStore
				if o == nil || cfg.Audience.File != "" || !cfg.Audience.Gzip || o.ETag != version.ETag || o.VersionID != "v7" ||
					o.AccessKeyFile != "/var/run/survey/objectstore/accesskey" || o.CAFile != "/var/run/survey/objectstore/ca/ca.crt" || o.Addressing != "Path" {
					t.Errorf("audience %+v, object store %+v", cfg.Audience, o)
				}
				p := pod.Volumes[0].Projected
				if p == nil || len(p.Sources) != 2 || p.Sources[0].Secret.Name != "exports-reader" || p.Sources[1].Secret.Items[0].Path != "ca/ca.crt" ||
					pod.Containers[0].VolumeMounts[0].MountPath != "/var/run/survey/objectstore" {
					t.Errorf("volumes %+v", pod.Volumes[0])
				}
			},
		},
		"volume: the claim read-only, one pod unless spec.sending says": {
			source: v1alpha1.AudienceSource{Volume: &v1alpha1.VolumeSource{ClaimName: "exports", Path: "nightly/tenants.csv"}},
			shards: 1,
			check: func(t *testing.T, cfg jobfile.Config, pod corev1.PodSpec) {
				if cfg.Audience.File != "/var/run/survey/audience/nightly/tenants.csv" || cfg.Audience.Gzip || cfg.Audience.ObjectStore != nil {
					t.Errorf("audience %+v", cfg.Audience)
				}
				if v := pod.Volumes[0].PersistentVolumeClaim; v == nil || v.ClaimName != "exports" || !v.ReadOnly || !pod.Containers[0].VolumeMounts[0].ReadOnly {
					t.Errorf("volume %+v", pod.Volumes[0])
				}
			},
		},
		"spec.sending: 8 shards, 2 at once, their resources": {
			source: v1alpha1.AudienceSource{Volume: &v1alpha1.VolumeSource{ClaimName: "exports", Path: "tenants.csv.gz"}},
			sending: &v1alpha1.Sending{Shards: ptr.To(int32(8)), Parallelism: ptr.To(int32(2)),
				Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}},
			shards: 8, running: 2,
			check: func(t *testing.T, cfg jobfile.Config, pod corev1.PodSpec) {
				if cfg.Shards != 8 || !cfg.Audience.Gzip || pod.Containers[0].Resources.Limits.Memory().String() != "128Mi" {
					t.Errorf("shards %d, gzip %v, resources %+v", cfg.Shards, cfg.Audience.Gzip, pod.Containers[0].Resources)
				}
				// The channel's 5 a second is shared by the 2 pods that send at once.
				if sms := cfg.Channels[1]; sms.PerSecond != 2.5 {
					t.Errorf("sms rate %v, want 2.5", sms.PerSecond)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			cp := spec()
			src := c.source
			src.Format, src.IDField, src.Contact = cp.Spec.Audience.Source.Format, cp.Spec.Audience.Source.IDField, cp.Spec.Audience.Source.Contact
			cp.Spec.Audience.Source = src
			cp.Spec.Sending = c.sending
			w := Wave{ID: WaveID(due), Scheduled: due, Closes: due.Add(336 * time.Hour), Audience: version}
			job, err := BuildJob(cp, w, Mounted{Rows: c.rows}, Settings{Image: "survey-operator:v1", CollectorURL: "http://collector:8080", PublicURL: "https://listen.example.org"})
			if err != nil {
				t.Fatal(err)
			}
			shards, running := int32(1), int32(1)
			if job.Spec.Completions != nil {
				shards, running = *job.Spec.Completions, *job.Spec.Parallelism
			}
			if shards != c.shards || (c.running != 0 && running != c.running) {
				t.Errorf("%d shards, %d at once; want %d, %d", shards, running, c.shards, c.running)
			}
			var cfg jobfile.Config
			if err := json.Unmarshal([]byte(job.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg); err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg, job.Spec.Template.Spec)
		})
	}
}

// A contact batch of a FollowUp is one pod, whatever spec.sending says of the waves: it gets
// the channels' whole rate limits, and no shard of the people.
func TestFollowUpJobIgnoresTheWavesSharding(t *testing.T) {
	c := spec()
	c.Spec.Sending = &v1alpha1.Sending{Shards: ptr.To(int32(8)), Parallelism: ptr.To(int32(2))}
	fu := &v1alpha1.FollowUp{ObjectMeta: metav1.ObjectMeta{Name: "detractors", Namespace: c.Namespace, UID: "fu-uid"},
		Spec: v1alpha1.FollowUpSpec{Channels: []string{"sms"}, Message: v1alpha1.Message{Body: "We will call you."}}}
	job, err := BuildFollowUpJob(c, fu, 1, Mounted{Rows: 50_000}, Settings{Image: "i", CollectorURL: "http://c", PublicURL: "https://p"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var cfg jobfile.Config
	if err := json.Unmarshal([]byte(job.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Shards != 1 || job.Spec.Completions != nil || cfg.Channels[1].PerSecond != 5 {
		t.Errorf("shards %d, completions %v, sms rate %v; want one pod with the whole 5/s", cfg.Shards, job.Spec.Completions, cfg.Channels[1].PerSecond)
	}
	if c.Spec.Sending == nil {
		t.Error("the campaign given was changed")
	}
}

// A touch-point campaign's Jobs read no list: its sending Job has no wave of its own (each
// invitation goes in the wave of the day its event fell due) and mounts no audience; its
// follow-up batches keep their wave and the links' expiry, and reach people through the events.
func TestTouchPointJobs(t *testing.T) {
	c := spec()
	c.Spec.Audience.Source = v1alpha1.AudienceSource{IDField: "tenancy", Contact: v1alpha1.ContactColumns{Email: "email", Phone: "mobile"},
		Events: &v1alpha1.EventsSource{Types: []v1alpha1.EventTypeSelector{{Type: "repair.completed"}}, Delay: "2h", MaxAge: "72h", Attributes: []string{"contractor"}}}
	c.Spec.Schedule = &v1alpha1.Schedule{TimeZone: "Europe/London", ResponseWindow: "168h"}
	c.Spec.Sending = &v1alpha1.Sending{Shards: ptr.To(int32(8))}
	s := Settings{Image: "i", CollectorURL: "http://c", PublicURL: "https://p"}
	now := time.Date(2026, 12, 8, 14, 5, 30, 0, time.UTC)
	expiry := now.Add(30 * 24 * time.Hour)
	fu := &v1alpha1.FollowUp{ObjectMeta: metav1.ObjectMeta{Name: "detractors", Namespace: c.Namespace, UID: "fu-uid"},
		Spec: v1alpha1.FollowUpSpec{Channels: []string{"email"}, Message: v1alpha1.Message{Body: "We will call you."}}}
	send, err := BuildTouchPointJob(c, now, []string{"tp-20261207", "tp-20261208"}, Mounted{}, s)
	if err != nil {
		t.Fatal(err)
	}
	contact, err := BuildFollowUpJob(c, fu, 1, Mounted{}, s, expiry)
	if err != nil {
		t.Fatal(err)
	}
	if send.Name != c.Name+"-tp-202612081405" || send.Labels[LabelWave] != TouchPointsLabel || send.Spec.Completions != nil ||
		send.Annotations[AnnotationWaves] != "tp-20261207,tp-20261208" {
		t.Errorf("the sending Job: %s, labels %v, annotations %v, completions %v", send.Name, send.Labels, send.Annotations, send.Spec.Completions)
	}
	for name, tc := range map[string]struct {
		job    *batchv1.Job
		wave   string
		expiry time.Time
	}{
		"sending":   {send, "", time.Time{}},
		"follow-up": {contact, "followup", expiry.UTC()},
	} {
		var cfg jobfile.Config
		if err := json.Unmarshal([]byte(tc.job.Spec.Template.Spec.Containers[0].Env[0].Value), &cfg); err != nil {
			t.Fatal(err)
		}
		want := &jobfile.EventsConfig{Attributes: []string{"contractor"}, TimeZone: "Europe/London", Window: "168h"}
		if name == "sending" {
			want.Until, want.Waves = now, []string{"tp-20261207", "tp-20261208"}
		}
		if cfg.WaveID != tc.wave || !cfg.Expiry.Equal(tc.expiry) || cfg.Shards != 1 || !reflect.DeepEqual(cfg.Audience.Events, want) ||
			cfg.Audience.File != "" || cfg.Audience.ObjectStore != nil {
			t.Errorf("%s: wave %q, expiry %s, shards %d, audience %+v", name, cfg.WaveID, cfg.Expiry, cfg.Shards, cfg.Audience)
		}
		for _, v := range tc.job.Spec.Template.Spec.Volumes {
			if v.Name == "audience" {
				t.Errorf("%s: mounts an audience volume", name)
			}
		}
	}
}
