package sender

import (
	"context"
	"fmt"
	"strings"
	"testing"

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

func BenchmarkSendWithLedger(b *testing.B) { benchSendWithLedger(b, 0) }

// BenchmarkSendWithLedgerWideChunks sends in chunks of 32: fewer ledger transactions, and up to
// 32 invitations left "possibly sent" by a kill instead of 8.
func BenchmarkSendWithLedgerWideChunks(b *testing.B) { benchSendWithLedger(b, 32) }

func benchSendWithLedger(b *testing.B, concurrency int) {
	data := benchAudience()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		r := newRig(b)
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
