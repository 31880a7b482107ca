package sender

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testsmtp"
	"github.com/surveyops/survey-operator/internal/token"
)

// BenchmarkTouchPointLatency measures, for a touch-point campaign with the default settings,
// the time from an event falling due to its invitation reaching a real SMTP server:
//
//   - a producer posts one CloudEvent per request to the response service's events route (its
//     real handler and group commit, on SQLite), BENCH_TOUCH_RATE (100) a second for
//     BENCH_TOUCH_SECONDS (300), each due at once (delay 0: its time is when it is posted);
//   - a loop plays the manager: every TouchPointPoll (30 s, BENCH_TOUCH_POLL), and as soon as
//     a run ends, it asks what is due, and when something is it runs the sender in touch-point
//     mode (as the Job would; the pod's start, a few seconds on a cluster, is not in it), at
//     most once a minute, as the manager names its Jobs by the minute; a run takes what was
//     due when it started;
//   - the sink records when each message arrives.
//
// It reports the p50 and p99 of due → message in seconds, and p99 as a share of the target
// (2 minutes). Run it with
//
//	go test -run '^$' -bench TouchPointLatency -benchtime 1x -timeout 30m ./internal/sender/
//
// BENCH_SMALL=1 (make bench-smoke) runs 1 second at 20 a second, polling every 2 seconds.
func BenchmarkTouchPointLatency(b *testing.B) {
	rate, seconds, poll := 100, 300, 30*time.Second
	if os.Getenv("BENCH_SMALL") == "1" {
		rate, seconds, poll = 20, 1, 2*time.Second
	}
	rate, seconds = envIntOr(b, "BENCH_TOUCH_RATE", rate), envIntOr(b, "BENCH_TOUCH_SECONDS", seconds)
	if v := os.Getenv("BENCH_TOUCH_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		poll = d
	}
	for b.Loop() {
		p50, p99 := touchPointLatency(b, rate, seconds, poll)
		b.ReportMetric(p50.Seconds(), "due-to-message-p50-s")
		b.ReportMetric(p99.Seconds(), "due-to-message-p99-s")
		b.ReportMetric(p99.Seconds()/(2*time.Minute).Seconds(), "p99/target")
	}
}

func envIntOr(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

func touchPointLatency(b *testing.B, rate, seconds int, poll time.Duration) (p50, p99 time.Duration) {
	ctx := context.Background()
	const ns, uid, apiToken = "riverside-homes", "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f", "touch-point-bench-api-token"
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "survey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys, _ := token.NewKeyRing(token.Key{ID: "k", Secret: []byte(strings.Repeat("k", 32))})
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte(apiToken)})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := responseapi.NewClient(ts.URL, apiToken, nil)
	sink := testsmtp.Start(b, "None", nil)

	window := 7 * 24 * time.Hour
	if err := client.PutTouchPoints(ctx, uid, responseapi.TouchPointsRegistration{Namespace: ns, Campaign: "post-repair", Delay: "0s", MaxAge: "72h",
		Events: []responseapi.EventType{{Type: "uk.org.riverside.repair.completed"}}}); err != nil {
		b.Fatal(err)
	}
	for _, day := range []time.Time{time.Now(), time.Now().Add(24 * time.Hour)} { // as the manager registers each day's
		id, opens, closes := schedule.TouchPointDay(day, time.UTC, window)
		if err := st.PutWave(ctx, store.Wave{CampaignUID: uid, WaveID: id, Namespace: ns, Campaign: "post-repair",
			Definition: []byte(`{"questions":[{"id":"tp02","kind":"CSAT"}]}`), OpensAt: opens, ClosesAt: closes}); err != nil {
			b.Fatal(err)
		}
	}
	plan, err := audience.Compile(audience.Spec{IDField: "tenancy", Segments: []audience.Segment{{Name: "all", Channels: []string{"email"}}},
		ContactColumns: map[string]string{"email": "email"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	email, err := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", Port: sink.Port, TLS: channel.NoTLS,
		From: "repairs@riverside.example", Connections: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer email.Close()
	job := Job{CampaignUID: uid, Namespace: ns, Campaign: "post-repair", Title: "Your recent repair", PublicURL: "https://listen.example.org",
		Keys: keys, Plan: plan, Seed: uid, Shards: 1, Channels: map[string]channel.Channel{"email": email}, Ledger: client,
		Events: &Events{Source: client, Location: time.UTC, Window: window}}

	// The producer: one event per request, at the rate, each due when posted.
	total := rate * seconds
	due := make([]time.Time, total)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		start := time.Now()
		for i := range total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			at := time.Now()
			body := fmt.Sprintf(`{"specversion":"1.0","id":"job-%d","source":"https://repairs.riverside.example/jobs","type":"uk.org.riverside.repair.completed",`+
				`"time":%q,"data":{"tenancy":"T-%d","email":"t-%d@example.org","contractor":"Dyfed Plumbing"}}`, i, at.UTC().Format(time.RFC3339Nano), i, i)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+responseapi.RouteEvents.Path(ns), strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiToken)
			req.Header.Set("Content-Type", "application/cloudevents+json")
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Errorf("posting event %d: %v %v", i, err, resp)
				return
			}
			resp.Body.Close()
			due[i] = at.Truncate(time.Microsecond) // as the store keeps it
		}
	}()

	// The manager, as startTouchPoints decides: it asks every poll (and as soon as a Job ends);
	// when something is due it runs the sender, unless this minute's Job has run already (Jobs
	// are named by the minute), and then it waits for the next minute.
	deadline := time.Now().Add(time.Duration(seconds)*time.Second + 10*time.Minute)
	var lastRun time.Time
	time.Sleep(poll) // the manager's poll falls anywhere in the stream; here, one poll in
	for int(sink.Received.Load()) < total && time.Now().Before(deadline) && !b.Failed() {
		d, err := client.DueTouchPoints(ctx, ns, uid)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		switch {
		case d.Due > 0 && !now.Truncate(time.Minute).Equal(lastRun):
			lastRun = now.Truncate(time.Minute)
			if sum, err := Run(ctx, job); err != nil {
				b.Fatalf("the sender: %v (%s)", err, sum.JSON())
			}
		case d.Due > 0:
			time.Sleep(min(poll, time.Until(lastRun.Add(time.Minute))))
		default:
			time.Sleep(poll)
		}
	}
	wg.Wait()
	msgs := sink.Messages()
	if len(msgs) != total {
		b.Fatalf("%d messages arrived of %d events", len(msgs), total)
	}
	lat := make([]time.Duration, 0, total)
	for _, m := range msgs {
		var i int
		if _, err := fmt.Sscanf(m.To, "t-%d@example.org", &i); err != nil || i < 0 || i >= total {
			b.Fatalf("a message to %q", m.To)
		}
		lat = append(lat, m.Received.Sub(due[i]))
	}
	slices.Sort(lat)
	p50, p99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	b.Logf("%d events at %d/s, polled every %s: due → message p50 %s, p99 %s, max %s", total, rate, poll,
		p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return p50, p99
}
