package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testsmtp"
	"github.com/surveyops/survey-operator/internal/token"
)

// A channel's rate limit is the channel's, not each pod's: the pods of an Indexed Job that send
// at once share it. Three shards run at once, as the manager configures them, against one SMTP
// sink, and the sink's arrivals over any second stay within the declared rate plus its burst
// (before the split, each pod had the whole rate: three times the limit).
func TestShardsShareTheChannelsRateLimit(t *testing.T) {
	const (
		people    = 90
		perSecond = 15
		burst     = 3
	)
	dir := t.TempDir()
	bin := filepath.Join(dir, "sender")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "survey.db"))
	must(t, err)
	defer st.Close()
	keysDir := filepath.Join(dir, "keys")
	must(t, os.Mkdir(keysDir, 0o700))
	secret := bytes.Repeat([]byte{7}, 32)
	must(t, os.WriteFile(filepath.Join(keysDir, "2026-01"), secret, 0o600))
	keys, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: secret})
	apiToken := filepath.Join(dir, "api-token")
	must(t, os.WriteFile(apiToken, []byte("rate-test-api-token-0123\n"), 0o600))
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte("rate-test-api-token-0123")})
	must(t, err)
	coll := httptest.NewServer(srv.Handler())
	defer coll.Close()
	sink := testsmtp.Start(t, "None", nil)

	var csv strings.Builder
	csv.WriteString("ref,email\n")
	for i := range people {
		fmt.Fprintf(&csv, "R-%03d,r%03d@example.org\n", i, i)
	}
	audienceFile := filepath.Join(dir, "audience.csv")
	must(t, os.WriteFile(audienceFile, []byte(csv.String()), 0o600))

	// The sending Job's file as the manager writes it: 3 shards of about 30 rows, all at once.
	c := &v1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: uid},
		Spec: v1alpha1.SurveyCampaignSpec{
			Survey: v1alpha1.Survey{Title: "Survey", Questions: []v1alpha1.Question{{ID: "q1", Kind: v1alpha1.QuestionCSAT, Text: "?"}}},
			Audience: v1alpha1.Audience{
				Source:   v1alpha1.AudienceSource{SecretRef: &v1alpha1.KeySelector{Name: "a", Key: "a"}, IDField: "ref", Contact: v1alpha1.ContactColumns{Email: "email"}},
				Segments: []v1alpha1.Segment{{Name: "everyone", Channels: []string{"email"}}},
			},
			Channels: []v1alpha1.Channel{{Name: "email", RateLimit: &v1alpha1.RateLimit{PerSecond: perSecond, Burst: ptr.To(int32(burst))},
				Email: &v1alpha1.EmailChannel{SMTP: v1alpha1.SMTPSettings{Host: "127.0.0.1", Port: int32(sink.Port), TLS: v1alpha1.SMTPNoTLS},
					From: "listening@riverside.example"}}},
		},
	}
	settings := campaign.Settings{RowsPerShard: 31, MaxShards: 16, MaxParallelism: 4, CollectorURL: coll.URL, PublicURL: "https://listen.example.org"}
	rows := people + 1
	if got := campaign.Parallel(rows, settings); got != 3 {
		t.Fatalf("parallel pods = %d, want 3", got)
	}
	cfg := campaign.SenderConfig(c, campaign.Wave{ID: "w1", Closes: time.Now().Add(24 * time.Hour)}, campaign.Mounted{Rows: rows}, settings)
	cfg.Audience.File, cfg.APITokenFile, cfg.TokenKeysDir = audienceFile, apiToken, keysDir
	must(t, st.PutWave(context.Background(), store.Wave{CampaignUID: uid, WaveID: "w1", Namespace: "ns", Campaign: "c",
		Definition: []byte(`{"questions":[{"id":"q1","kind":"CSAT"}]}`), OpensAt: time.Now(), ClosesAt: time.Now().Add(24 * time.Hour)}))
	jobFile := filepath.Join(dir, "job.json")
	data, _ := json.Marshal(cfg)
	must(t, os.WriteFile(jobFile, data, 0o600))

	var wg sync.WaitGroup
	errs := make([]error, cfg.Shards)
	outs := make([][]byte, cfg.Shards)
	for shard := range cfg.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "--job", jobFile, "--termination-log", filepath.Join(dir, "termination-"+strconv.Itoa(shard)))
			cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+strconv.Itoa(shard))
			outs[shard], errs[shard] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for shard, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v\n%s", shard, err, outs[shard])
		}
	}

	msgs := sink.Messages()
	if len(msgs) != people {
		t.Fatalf("%d messages arrived, want %d", len(msgs), people)
	}
	at := make([]time.Time, len(msgs))
	for i, m := range msgs {
		at[i] = m.Received
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	// The most arrivals in any one second: the pods' limiters add up to perSecond, and their
	// bursts to at most burst.
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	if most > perSecond+burst {
		t.Errorf("%d messages arrived within one second; the channel allows %d a second with a burst of %d", most, perSecond, burst)
	}
	t.Logf("%d messages in %s; at most %d in any second (limit %d/s, burst %d)", len(at), at[len(at)-1].Sub(at[0]).Round(time.Millisecond), most, perSecond, burst)
}
