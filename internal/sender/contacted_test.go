package sender

import (
	"context"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

// sentBefore records in the ledger that another campaign of the same namespace sent key
// something at `when` (the response service stamps it with its clock).
func (r *rig) sentBefore(t *testing.T, key, segment string, when time.Time) {
	t.Helper()
	r.clockMu.Lock()
	saved := r.now
	r.now = when
	r.clockMu.Unlock()
	defer func() {
		r.clockMu.Lock()
		r.now = saved
		r.clockMu.Unlock()
	}()
	ctx := context.Background()
	const other, wave = "0a1b2c3d-0000-4000-8000-000000000001", "20260101-0900"
	if _, err := r.ledger.Reserve(ctx, []responseapi.Invitation{{CampaignUID: other, WaveID: wave, RecipientKey: key,
		Namespace: "riverside-homes", Segment: segment, Channel: "email"}}); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"sending", "sent"} {
		if err := r.ledger.Mark(ctx, responseapi.Mark{CampaignUID: other, WaveID: wave, RecipientKey: key, State: state}); err != nil {
			t.Fatal(err)
		}
	}
}

// contactedWithin leaves out of an invitation round the people sent anything in the namespace
// that recently, and only them: someone contacted long before is invited as usual.
func TestContactedWithinLeavesOutRecentContacts(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// The wave runs at 2026-04-01 10:00 with contactedWithin 30 days.
	r.sentBefore(t, "T-3", "shared-ownership", r.now.Add(-2*24*time.Hour))  // within: left out
	r.sentBefore(t, "T-4", "shared-ownership", r.now.Add(-90*24*time.Hour)) // long before: invited
	job := r.job(t, people)
	job.ContactedWithin = 30 * 24 * time.Hour
	sum, err := Run(ctx, job)
	if err != nil {
		t.Fatalf("%v (%s)", err, sum.JSON())
	}
	if sum.Audience != 6 || sum.Invited != 5 || sum.Sent != 5 || sum.Skipped["contacted-recently"] != 1 {
		t.Errorf("summary %s: want 6 in the audience, 5 invited and sent, 1 contacted-recently", sum.JSON())
	}
	emailed := map[string]bool{}
	for _, m := range r.sink.Messages() {
		emailed[m.To] = true
	}
	// Who the wave sent to, by the ledger: sent at or after the wave's start.
	keys := []string{"T-1", "T-2", "T-3", "T-4", "T-5", "T-6"}
	inWave, err := r.store.Contacted(ctx, "riverside-homes", keys, r.now, store.WaveRef{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key, email string
		invited          bool
	}{
		{"contacted two days before: left out", "T-3", "three@example.org", false},
		{"contacted ninety days before: invited", "T-4", "four@example.org", true},
		{"never contacted: invited", "T-6", "six@example.org", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if inWave[c.key] != c.invited {
				t.Errorf("%s in the wave's ledger: %v, want %v (ledger: %v)", c.key, inWave[c.key], c.invited, inWave)
			}
			if emailed[c.email] != c.invited {
				t.Errorf("email to %s delivered: %v, want %v (emails: %v)", c.email, emailed[c.email], c.invited, emailed)
			}
		})
	}
}
