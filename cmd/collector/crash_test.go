package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testpg"
	"github.com/surveyops/survey-operator/internal/token"
)

const crashUID = "0b9e3c1a-5f2d-4e6b-8a7c-9d0e1f2a3b4c"

// The collector is killed with SIGKILL while residents submit, and restarted, three times. Every
// submission that was acknowledged (303) must be in the store afterwards, and no response may
// count twice. On SQLite and on PostgreSQL, whose committers write differently.
func TestCrashLosesNoAcknowledgedResponse(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashLosesNoAcknowledgedResponse(t, newCollectorProcess(t)) })
	t.Run("postgres", func(t *testing.T) {
		pg, err := testpg.Start()
		must(t, err)
		defer pg.Stop()
		dbURL, err := pg.NewDatabase(context.Background())
		must(t, err)
		crashLosesNoAcknowledgedResponse(t, newCollectorProcessOn(t, dbURL))
	})
}

func crashLosesNoAcknowledgedResponse(t *testing.T, c *collectorProcess) {
	start, base, storeURL, links := c.start, c.base, c.storeURL, c.links
	cmd := start()
	c.registerWave(t)
	const people = 600

	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var acked sync.Map // recipient -> the answer acknowledged last
	var ackCount atomic.Int64
	submitRound := func(round int, killAfter int64) {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1) - 1
					if n >= people {
						return
					}
					i := (n + int64(round)*people/4) % people // each round starts elsewhere: new people and updates
					answer := fmt.Sprint(1 + (int(i)+round)%5)
					form := url.Values{"q.overall": {answer}, "q.comments": {strings.Repeat("words ", 20)}}
					resp, err := client.PostForm(base+"/s/"+links[i], form)
					if err != nil {
						continue // refused or cut off: not acknowledged
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusSeeOther {
						acked.Store(fmt.Sprintf("R-%04d", i), answer)
						ackCount.Add(1)
					}
				}
			}()
		}
		// Kill once enough submissions of this round have been acknowledged.
		waitForAcks(t, &ackCount, killAfter)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		wg.Wait()
	}

	for round := range 3 {
		before := ackCount.Load()
		submitRound(round, before+150)
		t.Logf("round %d: %d acknowledged before the kill and during it", round, ackCount.Load()-before)
		cmd = start()
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	checkStored(t, storeURL, &acked, ackCount.Load(), people)
}

// On SIGTERM the collector stops taking connections, lets the submissions in flight commit and
// answer, and exits 0: every acknowledged submission is stored.
func TestGracefulShutdownFinishesInFlightSubmissions(t *testing.T) {
	c := newCollectorProcess(t)
	cmd := c.start()
	c.registerWave(t)
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var acked sync.Map
	var ackCount, cut atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(c.links)) {
					return
				}
				resp, err := client.PostForm(c.base+"/s/"+c.links[i], url.Values{"q.overall": {"4"}})
				if err != nil {
					cut.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusSeeOther {
					acked.Store(fmt.Sprintf("R-%04d", i), "4")
					ackCount.Add(1)
				} else {
					cut.Add(1)
				}
			}
		}()
	}
	waitForAcks(t, &ackCount, 100)
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	wg.Wait()
	if err != nil {
		t.Errorf("the collector did not exit cleanly on SIGTERM: %v", err)
	}
	t.Logf("%d acknowledged, %d refused once the collector stopped listening", ackCount.Load(), cut.Load())
	checkStored(t, c.storeURL, &acked, ackCount.Load(), len(c.links))
}

type collectorProcess struct {
	// start starts the collector on its SQLite store at base, and waits until it is ready.
	start func(extra ...string) *exec.Cmd
	// launch starts one on any store and address, without waiting.
	launch       func(storeURL, addr string) *exec.Cmd
	base         string
	storeURL     string
	apiTokenFile string
	links        []string
}

// newCollectorProcess builds the collector and prepares its keys, API token, a SQLite database
// and the links of 600 people.
func newCollectorProcess(t *testing.T) *collectorProcess { return newCollectorProcessOn(t, "") }

// newCollectorProcessOn is newCollectorProcess with the store at storeURL ("" for SQLite).
func newCollectorProcessOn(t *testing.T, storeURL string) *collectorProcess {
	dir := t.TempDir()
	bin := filepath.Join(dir, "collector")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keysDir := filepath.Join(dir, "keys")
	must(t, os.Mkdir(keysDir, 0o700))
	secret := bytes.Repeat([]byte{42}, 32)
	must(t, os.WriteFile(filepath.Join(keysDir, "2026-01"), secret, 0o600))
	apiTokenFile := filepath.Join(dir, "api-token")
	must(t, os.WriteFile(apiTokenFile, []byte("crash-test-api-token-0123\n"), 0o600))
	if storeURL == "" {
		storeURL = "sqlite://" + filepath.Join(dir, "survey.db")
	}
	addr := freeAddr(t)
	base := "http://" + addr

	run := func(storeURL, addr string, extra ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"--store", storeURL, "--token-keys-dir", keysDir,
			"--api-token-file", apiTokenFile, "--listen", addr, "--metrics-listen", "127.0.0.1:0"}, extra...)...)
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		return cmd
	}
	start := func(extra ...string) *exec.Cmd {
		cmd := run(storeURL, addr, extra...)
		waitReady(t, base)
		return cmd
	}
	launch := func(storeURL, addr string) *exec.Cmd { return run(storeURL, addr) }

	keys, err := token.NewKeyRing(token.Key{ID: "2026-01", Secret: secret})
	must(t, err)
	links := make([]string, 600)
	expiry := time.Now().UTC().Add(24 * time.Hour)
	for i := range links {
		links[i], err = keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: crashUID, Wave: "w1",
			Recipient: fmt.Sprintf("R-%04d", i), Segment: "all", Channel: "email", Expiry: expiry})
		must(t, err)
	}
	return &collectorProcess{start: start, launch: launch, base: base, storeURL: storeURL, apiTokenFile: apiTokenFile, links: links}
}

// waitReady waits for a collector to answer /readyz, for 30 s at most.
func waitReady(t *testing.T, base string) {
	t.Helper()
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
			t.Fatalf("the collector at %s did not become ready: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collectorProcess) registerWave(t *testing.T) { c.registerWaveAt(t, c.base) }

func (c *collectorProcess) registerWaveAt(t *testing.T, base string) {
	def := campaign.Definition(&v1alpha1.Survey{Title: "Crash test", Questions: []v1alpha1.Question{
		{ID: "overall", Kind: v1alpha1.QuestionCSAT, Text: "Overall?", Required: true},
		{ID: "comments", Kind: v1alpha1.QuestionText, Text: "Anything else?"},
	}})
	now := time.Now().UTC()
	body, _ := json.Marshal(responseapi.WaveRegistration{Namespace: "ns", Campaign: "crash", Definition: def,
		OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(24 * time.Hour)})
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/waves/"+crashUID+"/w1", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer crash-test-api-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("registering the wave: %v %v", resp, err)
	}
	resp.Body.Close()
}

// checkStored fails unless every acknowledged person's response is in the store, once.
func checkStored(t *testing.T, storeURL string, acked *sync.Map, acks int64, people int) {
	st, err := store.Open(context.Background(), storeURL)
	must(t, err)
	defer st.Close()
	missing, distinct := 0, 0
	acked.Range(func(k, _ any) bool {
		distinct++
		if _, err := st.GetResponse(context.Background(), crashUID, "w1", k.(string)); err != nil {
			missing++
			t.Errorf("%s was acknowledged but is not stored: %v", k, err)
		}
		return true
	})
	sum, err := st.Summarize(context.Background(), crashUID, "w1", "overall")
	must(t, err)
	stored := sum.Responded[store.Group{Segment: "all", Channel: "email"}]
	answers := 0
	for _, h := range sum.Histograms {
		answers += h.Count
	}
	t.Logf("%d acknowledgements for %d people; %d responses stored, %d missing", acks, distinct, stored, missing)
	if stored > people || answers != stored {
		t.Errorf("%d responses and %d answers stored for %d people: something counted twice", stored, answers, people)
	}
	if stored < distinct {
		t.Errorf("%d people were acknowledged, only %d responses stored", distinct, stored)
	}
}

// waitForAcks waits until n submissions were acknowledged, for a minute at most.
func waitForAcks(t *testing.T, acks *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for acks.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d submissions acknowledged after a minute", acks.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().String()
}

// The API token Secret is rotated under a running collector: it reads the file again, accepts
// each token listed, and refuses one removed, with no restart.
func TestAPITokenRotatesWithoutRestart(t *testing.T) {
	c := newCollectorProcess(t)
	cmd := c.start("--reload-every", "20ms")
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	status := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, c.base+"/api/v1/ledger/opted-out", strings.NewReader(`{"namespace":"ns","keys":["R-1"]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	const oldToken, newToken = "crash-test-api-token-0123", "rotated-api-token-456789"
	if got := status(oldToken); got != http.StatusOK {
		t.Fatalf("the first token: %d", got)
	}
	must(t, os.WriteFile(c.apiTokenFile, []byte(newToken+"\n"+oldToken+"\n"), 0o600))
	eventually("the new token accepted", func() bool { return status(newToken) == http.StatusOK })
	if got := status(oldToken); got != http.StatusOK {
		t.Errorf("the old token, still listed: %d", got)
	}
	must(t, os.WriteFile(c.apiTokenFile, []byte(newToken+"\n"), 0o600))
	eventually("the old token refused", func() bool { return status(oldToken) == http.StatusUnauthorized })
}

// The PostgreSQL deployment (config/postgres): two collectors on one database, started at once
// (both migrate it), take submissions side by side; one is killed (a node lost, a rollout) and
// its residents go on through the other, as a Service routes them. Every acknowledged
// submission is stored, once.
func TestTwoReplicasOnPostgreSQL(t *testing.T) {
	pg, err := testpg.Start()
	must(t, err)
	defer pg.Stop()
	dbURL, err := pg.NewDatabase(context.Background())
	must(t, err)
	c := newCollectorProcess(t)
	addrs := []string{freeAddr(t), freeAddr(t)}
	cmds := []*exec.Cmd{c.launch(dbURL, addrs[0]), c.launch(dbURL, addrs[1])}
	defer func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	bases := []string{"http://" + addrs[0], "http://" + addrs[1]}
	for _, base := range bases {
		waitReady(t, base)
	}
	c.registerWaveAt(t, bases[1])

	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var acked sync.Map
	var ackCount atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(c.links)) {
					return
				}
				answer := fmt.Sprint(1 + i%5)
				// Each resident to one replica, then to the other when it is gone.
				for try := range 2 {
					resp, err := client.PostForm(bases[(int(i)+try)%2]+"/s/"+c.links[i], url.Values{"q.overall": {answer}})
					if err != nil {
						continue
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusSeeOther {
						acked.Store(fmt.Sprintf("R-%04d", i), answer)
						ackCount.Add(1)
						break
					}
				}
			}
		})
	}
	waitForAcks(t, &ackCount, 200)
	must(t, cmds[0].Process.Signal(syscall.SIGKILL))
	_ = cmds[0].Wait()
	wg.Wait()
	if n := ackCount.Load(); n != int64(len(c.links)) {
		t.Errorf("%d of %d residents acknowledged with one replica left", n, len(c.links))
	}
	checkStored(t, dbURL, &acked, ackCount.Load(), len(c.links))
}
