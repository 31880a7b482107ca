package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testsmtp"
	"github.com/surveyops/survey-operator/internal/token"
)

const uid = "3c2b1a09-8f7e-4d6c-9b5a-0a1b2c3d4e5f"

// The sender is killed with SIGKILL at random moments and rerun until it finishes, for 50
// waves. Every email recipient gets the email at most once, and one who got none is marked
// "unknown" (possibly sent) in the ledger; every SMS recipient is delivered (the gateway
// deduplicates on Idempotency-Key); nobody is left without an outcome.
func TestKilledSenderSendsEachInvitationOnce(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sender")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keysDir := filepath.Join(dir, "keys")
	must(t, os.Mkdir(keysDir, 0o700))
	secret := bytes.Repeat([]byte{5}, 32)
	must(t, os.WriteFile(filepath.Join(keysDir, "2026-01"), secret, 0o600))
	keys, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: secret})
	apiToken := filepath.Join(dir, "api-token")
	must(t, os.WriteFile(apiToken, []byte("kill-test-api-token-0123\n"), 0o600))
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte("kill-test-api-token-0123")})
	must(t, err)
	coll := httptest.NewServer(srv.Handler())
	defer coll.Close()

	sink := testsmtp.Start(t, "None", nil)
	var mu sync.Mutex
	deliveries := map[string]int{} // Idempotency-Key -> deliveries
	gw := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
	}))
	defer gw.Close()

	const people = 30
	var csv strings.Builder
	csv.WriteString("ref,email,mobile,prefers\n")
	for i := range people {
		if i%2 == 0 {
			fmt.Fprintf(&csv, "R-%02d,r%02d@example.org,,email\n", i, i)
		} else {
			fmt.Fprintf(&csv, "R-%02d,,+4477009000%02d,sms\n", i, i)
		}
	}
	audienceFile := filepath.Join(dir, "audience.csv")
	must(t, os.WriteFile(audienceFile, []byte(csv.String()), 0o600))
	hmacFile := filepath.Join(dir, "hmac")
	must(t, os.WriteFile(hmacFile, []byte("gateway-key"), 0o600))
	email, _ := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", From: "listening@riverside.example"})

	rng := rand.New(rand.NewPCG(2026, 11))
	runs, kills := 0, 0
	for trial := range 50 {
		wave := fmt.Sprintf("w%02d", trial)
		cfg := jobfile.Config{CampaignUID: uid, WaveID: wave, Namespace: "ns", Campaign: "c", Title: "Survey",
			PublicURL: "https://listen.example.org", Expiry: time.Now().Add(24 * time.Hour), Seed: wave,
			Audience: jobfile.AudienceConfig{File: audienceFile, Format: "CSV", IDField: "ref", Segments: []audience.Segment{
				{Name: "email", Match: `attrs.prefers == "email"`, Channels: []string{"email"}},
				{Name: "sms", Channels: []string{"sms"}}}},
			Channels: []jobfile.ChannelConfig{
				{Name: "email", ContactField: "email", PerSecond: 50, Burst: 1, Email: &jobfile.Email{Host: "127.0.0.1", Port: sink.Port, TLS: "None", From: "listening@riverside.example"}},
				{Name: "sms", ContactField: "mobile", PerSecond: 50, Burst: 1, Webhook: &jobfile.Hook{URL: gw.URL, HMACKeyFile: hmacFile}},
			},
			CollectorURL: coll.URL, APITokenFile: apiToken, TokenKeysDir: keysDir, BatchSize: 5, Concurrency: 4}
		must(t, st.PutWave(context.Background(), store.Wave{CampaignUID: uid, WaveID: wave, Namespace: "ns", Campaign: "c",
			Definition: []byte(`{"questions":[{"id":"q1","kind":"CSAT"}]}`), OpensAt: time.Now(), ClosesAt: time.Now().Add(24 * time.Hour)}))
		jobFile := filepath.Join(dir, "job-"+wave+".json")
		data, _ := json.Marshal(cfg)
		must(t, os.WriteFile(jobFile, data, 0o600))

		for attempt := 0; ; attempt++ {
			if attempt > 40 {
				t.Fatalf("wave %s never finished", wave)
			}
			cmd := exec.Command(bin, "--job", jobFile, "--termination-log", filepath.Join(dir, "termination-"+wave))
			must(t, cmd.Start())
			runs++
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			if attempt < 3 { // kill the first runs at a random moment; let the rest finish
				select {
				case err = <-done:
				case <-time.After(time.Duration(10+rng.IntN(240)) * time.Millisecond):
					_ = cmd.Process.Signal(syscall.SIGKILL)
					err = <-done
					kills++
				}
			} else {
				err = <-done
			}
			if err == nil {
				break
			}
		}

		// What arrived, against what the ledger says.
		messages := map[string]int{}
		for _, m := range sink.Messages() {
			for _, line := range strings.Split(string(m.Data), "\r\n") {
				if id, ok := strings.CutPrefix(line, "Message-ID: "); ok {
					messages[id]++
				}
			}
		}
		for i := range people {
			key := fmt.Sprintf("R-%02d", i)
			id := fmt.Sprintf("%s/%s/%s/0", uid, wave, key)
			rows, err := st.Reserve(context.Background(), []store.Invitation{{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: wave, RecipientKey: key}}}, time.Now())
			must(t, err)
			state := rows[0].State
			if i%2 == 0 {
				got := messages[email.MessageID(id)]
				switch {
				case got > 1:
					t.Errorf("wave %s: %s got the email %d times", wave, key, got)
				case got == 0 && state != store.StateUnknown:
					t.Errorf("wave %s: %s got no email and the ledger says %s", wave, key, state)
				case got == 1 && state != store.StateSent && state != store.StateUnknown:
					t.Errorf("wave %s: %s got the email and the ledger says %s", wave, key, state)
				}
			} else {
				mu.Lock()
				got := deliveries[id]
				mu.Unlock()
				if got == 0 || state != store.StateSent {
					t.Errorf("wave %s: %s: %d SMS deliveries, ledger %s", wave, key, got, state)
				}
			}
		}
	}
	duplicates := 0
	mu.Lock()
	for _, n := range deliveries {
		duplicates += n - 1
	}
	mu.Unlock()
	t.Logf("%d runs, %d killed; SMS resent to the gateway %d times (deduplicated by Idempotency-Key); %d emails in all for %d email invitations",
		runs, kills, duplicates, len(sink.Messages()), 50*people/2)
	if kills < 50 {
		t.Errorf("only %d runs were killed: the test did not interrupt sending", kills)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
