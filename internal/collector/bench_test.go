package collector_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/testpg"
	"github.com/surveyops/survey-operator/internal/token"
)

// Durable responses per second through HTTP (form post, token check, validation, commit,
// redirect), against a bare loop that commits the same rows with database/sql on the same
// database: what the service costs on top of the durable write. Both run 8 submitters at once.

var (
	pgOnce   sync.Once
	pgServer *testpg.Server
	pgErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Stop()
	}
	os.Exit(code)
}

// database returns a fresh store URL and the driver and DSN of a raw connection to it.
func database(b testing.TB, backend string) (storeURL, driver, dsn string) {
	switch backend {
	case "sqlite":
		path := filepath.Join(b.TempDir(), "survey.db")
		return "sqlite://" + path, "sqlite", "file:" + path +
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	default:
		pgOnce.Do(func() { pgServer, pgErr = testpg.Start() })
		if pgErr != nil {
			b.Fatal(pgErr)
		}
		u, err := pgServer.NewDatabase(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return u, "pgx", u
	}
}

func latencies(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

type recorder struct {
	mu  sync.Mutex
	all []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.all = append(r.all, d)
	r.mu.Unlock()
}

// posters runs op by 8 posters at once (4 per core of these 2-core machines) until b has its
// count, timing each op, and reports the latencies' p50 and p99.
func posters(b *testing.B, op func(i int64) error) {
	var next atomic.Int64
	rec := &recorder{}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			start := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			rec.add(time.Since(start))
		}
	})
	b.StopTimer()
	latencies(b, rec.all)
}

// serve starts the response service on a fresh store of backend, at now; it is stopped when
// the benchmark ends.
func serve(b *testing.B, backend string, keys *token.KeyRing, now time.Time) (store.Store, *httptest.Server) {
	storeURL, _, _ := database(b, backend)
	st, err := store.Open(context.Background(), storeURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys },
		APIToken: []byte(apiToken), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return st, ts
}

// rawDatabase is a fresh database of backend with the store's schema, opened bare with
// database/sql, and its placeholders: $1..$n, or ?1..?n for SQLite.
func rawDatabase(b *testing.B, backend string) (*sql.DB, func(n int) string) {
	storeURL, driver, dsn := database(b, backend)
	st, err := store.Open(context.Background(), storeURL) // creates the schema
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, func(n int) string {
		marks := make([]string, n)
		for i := range marks {
			if driver == "sqlite" {
				marks[i] = fmt.Sprintf("?%d", i+1)
			} else {
				marks[i] = fmt.Sprintf("$%d", i+1)
			}
		}
		return strings.Join(marks, ", ")
	}
}

func BenchmarkDurableResponsesHTTP(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			keys, _ := token.NewKeyRing(token.Key{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)})
			st, ts := serve(b, backend, keys, opens.Add(time.Hour))
			if err := st.PutWave(context.Background(), store.Wave{CampaignUID: uid, WaveID: "w1", Namespace: "ns", Campaign: "c",
				Definition: definition().JSON(), PrimaryQuestion: "tp01", OpensAt: opens, ClosesAt: closes}); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{
				Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			form := url.Values{"q.tp01": {"4"}, "q.tp02": {"5"}, "q.comments": {"Quick and polite."}}.Encode()
			posters(b, func(i int64) error {
				tok, _ := keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "w1",
					Recipient: fmt.Sprintf("R-%d", i), Segment: "all", Channel: "email", Expiry: closes})
				resp, err := client.Post(ts.URL+"/s/"+tok, "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					return fmt.Errorf("status %s", resp.Status)
				}
				return nil
			})
		})
	}
}

func BenchmarkBaselineInsertCommit(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			db, ph := rawDatabase(b, backend)
			insertResponse := "INSERT INTO responses (campaign_uid, wave_id, recipient_key, namespace, segment, channel, complete, submitted_at, updated_at) VALUES (" + ph(9) + ")"
			insertAnswer := "INSERT INTO answers (campaign_uid, wave_id, recipient_key, question, segment, channel, value_int, value_text, not_applicable) VALUES (" + ph(9) + ")"
			posters(b, func(i int64) error {
				key := fmt.Sprintf("R-%d", i)
				tx, err := db.Begin()
				if err != nil {
					return err
				}
				_, err = tx.Exec(insertResponse, uid, "w1", key, "ns", "all", "email", 1, 0, 0)
				for _, a := range [][2]any{{"tp01", 4}, {"tp02", 5}} {
					if err == nil {
						_, err = tx.Exec(insertAnswer, uid, "w1", key, a[0], "all", "email", a[1], nil, 0)
					}
				}
				if err == nil {
					_, err = tx.Exec(insertAnswer, uid, "w1", key, "comments", "all", "email", nil, "Quick and polite.", 0)
				}
				if err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			})
		})
	}
}

// Durable touch-point events per second through HTTP (one structured CloudEvent per request:
// the route, the credential, the CloudEvents reader, the commit, the 202), against a bare loop
// that commits the same rows with database/sql: what the service costs on top of the durable
// write. Both run 8 posters at once. Run them together and compare:
// hack/bench.sh 5 Events ./internal/collector/ (the ratio is the figure: at least 0.7 on
// PostgreSQL, 1.0 on SQLite, in events per second).

func BenchmarkDurableEventsHTTP(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			keys, _ := token.NewKeyRing(token.Key{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)})
			st, ts := serve(b, backend, keys, time.Now())
			// A campaign takes the type: the events are stored, not ignored.
			if err := st.PutTouchPoints(context.Background(), store.TouchPoints{CampaignUID: uid, Namespace: "ns", Campaign: "c",
				Types: []store.EventType{{Type: "repair.completed"}}, MaxAge: time.Hour}, time.Now()); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			posters(b, func(i int64) error {
				body := fmt.Sprintf(`{"specversion":"1.0","id":"R-%d","source":"https://repairs.example/jobs","type":"repair.completed",`+
					`"time":"2026-11-30T14:05:00Z","data":{"tenancy":"T-%d","email":"t%d@example.org","contractor":"Dyfed Plumbing","priority":2}}`, i, i, i)
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/namespaces/ns/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+apiToken)
				req.Header.Set("Content-Type", "application/cloudevents+json")
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || !bytes.Contains(answer, []byte(`"new":1`)) {
					return fmt.Errorf("status %s: %s (the event must be stored)", resp.Status, answer)
				}
				return nil
			})
		})
	}
}

func BenchmarkBaselineInsertCommitEvents(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			db, ph := rawDatabase(b, backend)
			insert := "INSERT INTO touch_events (namespace, source, event_id, type, subject, event_time, received_at, fields) VALUES (" + ph(8) + ")"
			posters(b, func(i int64) error {
				fields := fmt.Sprintf(`{"contractor":"Dyfed Plumbing","email":"t%d@example.org","priority":"2","tenancy":"T-%d"}`, i, i)
				tx, err := db.Begin()
				if err != nil {
					return err
				}
				if _, err := tx.Exec(insert, "ns", "https://repairs.example/jobs", fmt.Sprintf("R-%d", i), "repair.completed", "", 1, 2, fields); err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			})
		})
	}
}
