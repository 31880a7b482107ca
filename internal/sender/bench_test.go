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

func BenchmarkBaselineParallelSMTPRelay(b *testing.B) {
	data := benchAudience()
	r := newRig(b)
	r.sink.Delay = relayDelay
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

// BenchmarkSendWithLedgerWideChunks sends in chunks of 32: fewer ledger transactions, and up to
// 32 invitations left "possibly sent" by a kill instead of 8.
func BenchmarkSendWithLedgerWideChunks(b *testing.B) { benchSendWithLedger(b, 32, 0) }

func benchSendWithLedger(b *testing.B, concurrency int, delay time.Duration) {
	data := benchAudience()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		r := newRig(b)
		r.sink.Delay = delay
		job := r.job(b, data)
		job.WaveID = fmt.Sprintf("w%d", i)
		job.BatchSize = 100
		job.Concurrency = concurrency
		b.StartTimer()
		sum, err := Run(context.Background(), job)
		if err != nil || sum.Sent != benchPeople {
			b.Fatalf("%v %s", err, sum.JSON())
		}
	}
	b.ReportMetric(float64(benchPeople), "messages/op")
}

func BenchmarkBaselineBareSMTP(b *testing.B) {
	data := benchAudience()
	r := newRig(b)
	email, err := channel.NewEmail(channel.EmailConfig{Host: "127.0.0.1", Port: r.sink.Port, TLS: channel.NoTLS, From: "listening@riverside.example"})
	if err != nil {
		b.Fatal(err)
	}
	defer email.Close()
	plan, _ := audience.Compile(audience.Spec{Format: audience.CSV, IDField: "tenancy_ref",
		Segments: []audience.Segment{{Name: "all", Channels: []string{"email"}}}, ContactColumns: map[string]string{"email": "email"}}, nil)
	for b.Loop() {
		sel, _, _ := plan.Scan(strings.NewReader(data), "w")
		n := 0
		err := plan.Select(strings.NewReader(data), sel, func(inv audience.Invitee) error {
			n++
			return email.Send(context.Background(), channel.Message{To: inv.Contact, Title: "Survey",
				Link: "https://listen.example.org/s/x", OptOutLink: "https://listen.example.org/o/x"}, inv.Key)
		})
		if err != nil || n != benchPeople {
			b.Fatal(err, n)
		}
	}
	b.ReportMetric(float64(benchPeople), "messages/op")
}
