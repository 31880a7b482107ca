package sender

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/channel"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// Messages per second to the in-process SMTP sink with the ledger on (the real collector on
// SQLite: reserve, sending, sent), against a bare loop sending the same messages with the same
// SMTP client. Each op is one message.

const benchPeople = 500

func benchAudience() string {
	var b strings.Builder
	b.WriteString("tenancy_ref,email,mobile,tenure\n")
	for i := range benchPeople {
		fmt.Fprintf(&b, "T-%05d,r%d@example.org,,shared-ownership\n", i, i)
	}
	return b.String()
}

func BenchmarkSendWithLedger(b *testing.B) { benchSendWithLedger(b, 0, 0) }

// relayDelay is how long a relay takes to accept a message in the Relay benchmarks: a LAN
// relay that queues each message durably before answering.
const relayDelay = 5 * time.Millisecond

// BenchmarkSendWithLedgerRelay sends to a sink that takes relayDelay per message; its baseline
// sends the same messages with the same concurrency and connections, without the ledger.
func BenchmarkSendWithLedgerRelay(b *testing.B) { benchSendWithLedger(b, 0, relayDelay) }

func BenchmarkBaselineParallelSMTPRelay(b *testing.B) { benchParallelBare(b, relayDelay) }

func benchParallelBare(b *testing.B, delay time.Duration) {
	data := benchAudience()
	r := newRig(b)
	r.sink.Delay = delay
	email, err := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", Port: r.sink.Port, TLS: channel.NoTLS,
		From: "listening@riverside.example", Connections: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer email.Close()
	plan, _ := audience.Compile(audience.Spec{Format: audience.CSV, IDField: "tenancy_ref",
		Segments: []audience.Segment{{Name: "all", Channels: []string{"email"}}}, ContactColumns: map[string]string{"email": "email"}}, nil)
	for b.Loop() {
		sel, _, _ := plan.Scan(strings.NewReader(data), "w")
		var chunk []audience.Invitee
		flush := func() error {
			errs := make([]error, len(chunk))
			var wg sync.WaitGroup
			for i, inv := range chunk {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = email.Send(context.Background(), channel.Message{To: inv.Contact, Title: "Survey",
						Link: "https://listen.example.org/s/x", OptOutLink: "https://listen.example.org/o/x"}, inv.Key)
				}()
			}
			wg.Wait()
			chunk = chunk[:0]
			return errors.Join(errs...)
		}
		err := plan.Select(strings.NewReader(data), sel, func(inv audience.Invitee) error {
			chunk = append(chunk, inv)
			if len(chunk) == 8 {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchPeople), "messages/op")
}

// BenchmarkSendWithLedgerNarrowWindow keeps at most 16 invitations (2 x Concurrency) marked
// "sending" without an outcome, instead of the default 32: half as many left "possibly sent" by a
// kill, and each ledger call carries half as many.
func BenchmarkSendWithLedgerNarrowWindow(b *testing.B) { benchSendWithLedger(b, 16, 0) }

func benchSendWithLedger(b *testing.B, window int, delay time.Duration) {
	data := benchAudience()
	for b.Loop() {
		b.StopTimer()
		job := ledgerJob(b, data, window, delay)
		b.StartTimer()
		sendWithLedger(b, job)
	}
	b.ReportMetric(float64(benchPeople), "messages/op")
}

// ledgerJob is a wave of the bench audience to a new ledger and sink: the rig's wave, which the
// rig registers with the response service as the manager does, so that the sender can record
// its frame (a wave the service does not know is refused, and the run stops there).
func ledgerJob(b *testing.B, data string, window int, delay time.Duration) Job {
	r := newRig(b)
	r.sink.Delay = delay
	job := r.job(b, data)
	job.BatchSize = 100
	job.Window = window
	return job
}

func sendWithLedger(b *testing.B, job Job) {
	sum, err := Run(context.Background(), job)
	if err != nil || sum.Sent != benchPeople {
		b.Fatalf("%v %s", err, sum.JSON())
	}
}

// bareLoop sends the same messages as a wave of the bench audience (same segments, signed
// links, templates, Message-IDs and SMTP client), one after another, with no ledger.
type bareLoop struct {
	run  *run
	data string
}

func newBareLoop(b *testing.B, data string) *bareLoop {
	r := newRig(b)
	return &bareLoop{run: &run{job: r.job(b, data)}, data: data}
}

func (l *bareLoop) send(b *testing.B) {
	job := l.run.job
	sel, _, _ := job.Plan.Scan(strings.NewReader(l.data), job.Seed)
	n := 0
	err := job.Plan.Select(strings.NewReader(l.data), sel, func(inv audience.Invitee) error {
		n++
		row := responseapi.Invitation{CampaignUID: job.CampaignUID, WaveID: job.WaveID, RecipientKey: inv.Key, Segment: inv.Segment, Channel: inv.Channel}
		return l.run.sendOne(context.Background(), item{row: row, inv: inv})
	})
	if err != nil || n != benchPeople {
		b.Fatal(err, n)
	}
}

func BenchmarkBaselineBareSMTP(b *testing.B) {
	bare := newBareLoop(b, benchAudience())
	for b.Loop() {
		bare.send(b)
	}
	b.ReportMetric(float64(benchPeople), "messages/op")
}

// BenchmarkLedgerAgainstBare sends the bench audience both ways in each op, with the ledger and
// by the bare loop, which going first in turn, so that the machine's noise falls on both alike.
// It reports each one's time per message and the ratio of their throughputs (the goal:
// at least 0.8 of the bare loop's).
func BenchmarkLedgerAgainstBare(b *testing.B) { benchLedgerAgainstBare(b, 0) }

// BenchmarkLedgerAgainstBareNarrowWindow is the same with a window of 2 x Concurrency.
func BenchmarkLedgerAgainstBareNarrowWindow(b *testing.B) { benchLedgerAgainstBare(b, 16) }

func benchLedgerAgainstBare(b *testing.B, window int) {
	data := benchAudience()
	bare := newBareLoop(b, data)
	var withLedger, without time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		job := ledgerJob(b, data, window, 0)
		b.StartTimer()
		ledger := func() {
			start := time.Now()
			sendWithLedger(b, job)
			withLedger += time.Since(start)
		}
		plain := func() {
			start := time.Now()
			bare.send(b)
			without += time.Since(start)
		}
		if i%2 == 0 {
			ledger()
			plain()
		} else {
			plain()
			ledger()
		}
	}
	n := float64(b.N * benchPeople)
	b.ReportMetric(float64(withLedger.Nanoseconds())/n, "ledger-ns/msg")
	b.ReportMetric(float64(without.Nanoseconds())/n, "bare-ns/msg")
	b.ReportMetric(float64(without)/float64(withLedger), "throughput-ratio")
}
