package store_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// A wave of SURVEY_BENCH_RESPONSES responses (default 1,000,000; 10,000 with BENCH_SMALL=1, as
// make bench-smoke runs it), 10 questions, 5 segments and 3 channels, generated inside the
// database. Summarize (every aggregate the manager needs, read from the maintained aggregates)
// is measured against its baseline, a count(*) scan of the same answers;
// BenchmarkSummarizeByScan1M is the full recount Summarize did before they existed.

func benchResponses() int {
	if n, err := strconv.Atoi(os.Getenv("SURVEY_BENCH_RESPONSES")); err == nil && n > 0 {
		return n
	}
	if os.Getenv("BENCH_SMALL") == "1" {
		return 10_000
	}
	return 1_000_000
}

type loaded struct {
	s  store.Store
	db *sql.DB
}

var (
	loadOnce = map[string]*sync.Once{"sqlite": {}, "postgres": {}}
	loads    = map[string]*loaded{}
)

// bigWave loads the wave once per backend and process.
func bigWave(b *testing.B, backend string) *loaded {
	loadOnce[backend].Do(func() {
		n := benchResponses()
		var url, driver, dsn string
		switch backend {
		case "sqlite":
			dir, err := os.MkdirTemp("", "bench-store-")
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(dir, "survey.db")
			url, driver, dsn = "sqlite://"+path, "sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
		case "postgres":
			u, err := pg.NewDatabase(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			url, driver, dsn = u, "pgx", u
		}
		s, err := store.Open(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := generate(db, backend, n); err != nil {
			b.Fatal(err)
		}
		// The rows were written behind the store's back: the aggregates are built from them, as
		// the migration that introduced them builds them for a database that has rows.
		if err := store.Remigrate(context.Background(), s, 5); err != nil {
			b.Fatal(err)
		}
		if backend == "postgres" {
			// Responses written through the store spread each cell over PostgresSlots rows; the
			// migration put each in one. Spread them, so that a summary reads as many rows as it
			// would on a wave that came in through the service.
			if err := spread(db, store.PostgresSlots); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("%s: generated %d responses and %d answers in %s", backend, n, 10*n, time.Since(start).Round(time.Second))
		loads[backend] = &loaded{s: s, db: db}
	})
	l := loads[backend]
	if l == nil {
		b.Fatal("loading failed")
	}
	return l
}

func generate(db *sql.DB, backend string, n int) error {
	series := fmt.Sprintf("WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < %d) ", n-1)
	from := "FROM g"
	cat := func(a, b string) string { return a + " || " + b }
	if backend == "postgres" {
		series = ""
		from = fmt.Sprintf("FROM generate_series(0::bigint, %d) AS g(i)", n-1)
		cat = func(a, b string) string { return a + " || " + b + "::text" }
	}
	stmts := []string{
		`INSERT INTO waves (campaign_uid, wave_id, namespace, campaign, definition, definition_hash, opens_at, closes_at, created_at, primary_question)
		 VALUES ('bench', 'w1', 'ns', 'c', '{}', 'h', 0, 1, 0, 'q0')`,
		series + `INSERT INTO invitations (campaign_uid, wave_id, recipient_key, round, namespace, segment, channel, state, attempts, reason, reserved_at, sent_at, updated_at)
		 SELECT 'bench', 'w1', ` + cat("'R'", "i") + `, 0, 'ns', ` + cat("'s'", "(i % 5)") + `, ` + cat("'c'", "(i % 3)") + `, 'sent', 1, '', 0, 0, 0 ` + from,
		series + `INSERT INTO responses (campaign_uid, wave_id, recipient_key, namespace, segment, channel, complete, submitted_at, updated_at)
		 SELECT 'bench', 'w1', ` + cat("'R'", "i") + `, 'ns', ` + cat("'s'", "(i % 5)") + `, ` + cat("'c'", "(i % 3)") + `, 1, 0, 0 ` + from,
	}
	value := func(q int) string { // a 1-5 answer to question q, or NULL for "not applicable"
		return fmt.Sprintf("CASE WHEN (i * 7 + %d) %% 23 = 0 THEN NULL ELSE ((i * 2654435 + %d * (i %% 7)) %% 5) + 1 END", q, q)
	}
	for q := range 10 {
		qs := strconv.Itoa(q)
		stmts = append(stmts, series+`INSERT INTO answers (campaign_uid, wave_id, recipient_key, question, segment, channel, value_int, value_text, not_applicable, primary_value)
		 SELECT 'bench', 'w1', `+cat("'R'", "i")+`, 'q`+qs+`', `+cat("'s'", "(i % 5)")+`, `+cat("'c'", "(i % 3)")+`, `+
			value(q)+`, NULL, CASE WHEN (i * 7 + `+qs+`) % 23 = 0 THEN 1 ELSE 0 END, `+value(0)+` `+from)
	}
	stmts = append(stmts, "ANALYZE")
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%v\n%s", err, s)
		}
	}
	return nil
}

// spread adds, beside each aggregate row (slot 0), rows of the other slots with a count of 0.
func spread(db *sql.DB, slots int) error {
	for table, key := range map[string]string{
		"wave_dispositions":  "campaign_uid, wave_id, segment, channel, disposition",
		"wave_responded":     "campaign_uid, wave_id, segment, channel",
		"wave_answer_counts": "campaign_uid, wave_id, question, segment, channel, not_applicable, value",
		"wave_answer_pairs":  "campaign_uid, wave_id, question, value, primary_value",
	} {
		if _, err := db.Exec(fmt.Sprintf(`INSERT INTO %s (%s, slot, n) SELECT %s, s, 0 FROM %s CROSS JOIN generate_series(1, %d) AS s WHERE slot = 0`,
			table, key, key, table, slots-1)); err != nil {
			return err
		}
	}
	_, err := db.Exec("ANALYZE")
	return err
}

func BenchmarkSummarize1M(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			l := bigWave(b, backend)
			for b.Loop() {
				sum, err := l.s.Summarize(context.Background(), "bench", "w1", "q0")
				if err != nil {
					b.Fatal(err)
				}
				if len(sum.Pairs) != 10 {
					b.Fatalf("pairs: %d", len(sum.Pairs))
				}
				responded := 0
				for _, n := range sum.Responded {
					responded += n
				}
				if responded != benchResponses() {
					b.Fatalf("responded: %d", responded)
				}
			}
		})
	}
}

func BenchmarkSummarizeByScan1M(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			l := bigWave(b, backend)
			for b.Loop() {
				sum, err := store.SummarizeByScan(context.Background(), l.s, "bench", "w1", "q0")
				if err != nil {
					b.Fatal(err)
				}
				if len(sum.Pairs) != 10 {
					b.Fatalf("pairs: %d", len(sum.Pairs))
				}
			}
		})
	}
}

// BenchmarkBaselineCountScan1M is the baseline: a count(*) of the wave's answers.
func BenchmarkBaselineCountScan1M(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			l := bigWave(b, backend)
			q := "SELECT count(*) FROM answers WHERE campaign_uid = 'bench' AND wave_id = 'w1'"
			for b.Loop() {
				var n int
				if err := l.db.QueryRow(q).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n != 10*benchResponses() {
					b.Fatalf("count %d", n)
				}
			}
		})
	}
}

// BenchmarkExport1M streams the wave's responses (ExportResponses) into CSV rows written
// nowhere, as the response service's export does, and reports the process' peak RSS during the
// export against its RSS before it: an export's memory must not grow with the wave.
func BenchmarkExport1M(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			l := bigWave(b, backend)
			runtime.GC()
			before := rssKiB(b, "VmRSS")
			// Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				b.Fatalf("cannot reset the peak RSS (the benchmark needs Linux's /proc): %v", err)
			}
			rows := 0
			for b.Loop() {
				rows = 0
				w := csv.NewWriter(io.Discard)
				row := make([]string, 16)
				err := l.s.ExportResponses(context.Background(), "bench", "w1", func(r store.ExportedResponse) error {
					rows++
					row[0], row[1], row[2] = r.RecipientKey, r.Segment, r.Channel
					for i, a := range r.Answers {
						if a.Value != nil && 3+i < len(row) {
							row[3+i] = strconv.Itoa(*a.Value)
						}
					}
					return w.Write(row)
				})
				if err != nil {
					b.Fatal(err)
				}
				w.Flush()
			}
			if rows != benchResponses() {
				b.Fatalf("exported %d rows", rows)
			}
			peak := rssKiB(b, "VmHWM")
			b.ReportMetric(float64(before)/1024, "rss-before-MiB")
			b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// rssKiB reads a field (VmRSS, VmHWM) of the process' status, in KiB.
func rssKiB(b *testing.B, field string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatalf("cannot read the process' memory (the benchmark needs Linux's /proc): %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return n
			}
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
