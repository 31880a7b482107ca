package sender

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

const repairCompleted = "uk.org.riverside.repair.completed"

// touchPointRig is the rig with a touch-point campaign registered: repairs, invited 2 hours
// after they are completed, in waves of a London day with a week's window.
func touchPointRig(t *testing.T) *rig {
	r := newRig(t)
	if err := r.store.PutTouchPoints(context.Background(), store.TouchPoints{CampaignUID: uid, Namespace: "riverside-homes", Campaign: "post-repair",
		Types: []store.EventType{{Type: repairCompleted}}, Delay: 2 * time.Hour, MaxAge: 72 * time.Hour}, r.now); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) touchPointJob(t *testing.T) Job {
	job := r.job(t, "")
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	job.WaveID, job.Expiry, job.Seed, job.Open = "", time.Time{}, uid, nil
	job.Events = &Events{Source: r.ledger, Attributes: []string{"contractor"}, Location: london, Window: 7 * 24 * time.Hour}
	return job
}

func (r *rig) repair(t *testing.T, id string, at time.Time, fields map[string]string) {
	t.Helper()
	if _, err := r.store.PutEvents(context.Background(), "riverside-homes", []store.Event{{Source: "jobs", ID: id, Type: repairCompleted,
		Time: at, Fields: fields}}, r.now); err != nil {
		t.Fatal(err)
	}
}

func person(id, email, mobile, tenure string) map[string]string {
	return map[string]string{"tenancy_ref": id, "email": email, "mobile": mobile, "tenure": tenure, "contractor": "Dyfed Plumbing"}
}

// A touch-point Job invites the person of each event due, once, through the segment's
// channel, in the wave of the day the event fell due; what became of every event is recorded,
// so that a second run finds nothing to do.
func TestTouchPointRun(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	if err := r.store.OptOut(ctx, "riverside-homes", "T-6", r.now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.repair(t, "R-1", r.now, person("T-1", "one@example.org", "+447700900001", "general-needs")) // SMS first
	r.repair(t, "R-2", r.now, person("T-3", "three@example.org", "", "shared-ownership"))         // email
	r.repair(t, "R-3", r.now, person("T-1", "one@example.org", "+447700900001", "general-needs")) // T-1 again
	r.repair(t, "R-4", r.now, map[string]string{"email": "who@example.org"})                      // no id
	r.repair(t, "R-5", r.now, person("T-6", "six@example.org", "", "shared-ownership"))           // opted out
	r.repair(t, "R-6", r.now.Add(-100*time.Hour), person("T-2", "two@example.org", "", "general-needs"))
	r.now = r.now.Add(time.Hour)
	r.repair(t, "R-7", r.now, person("T-4", "four@example.org", "", "shared-ownership")) // due at 13:00

	r.now = r.now.Add(time.Hour)
	sum, err := Run(ctx, r.touchPointJob(t))
	if err != nil {
		t.Fatalf("%v (%s)", err, sum.JSON())
	}
	if sum.Audience != 6 || sum.Invited != 2 || sum.Sent != 2 || sum.Skipped["event-contacted"] != 1 || sum.Skipped["event-invalid"] != 1 ||
		sum.Skipped["event-too-old"] != 1 || sum.Skipped["opted-out"] != 1 {
		t.Errorf("summary %s", sum.JSON())
	}
	mails := r.sink.Messages()
	if len(mails) != 1 || mails[0].To != "three@example.org" || len(r.sms) != 1 || r.sms[0]["to"] != "+447700900001" {
		t.Fatalf("%d emails and %d SMS arrived; want T-3's email and T-1's SMS", len(mails), len(r.sms))
	}
	match := linkRe.FindSubmatch(bytes.ReplaceAll(mails[0].Data, []byte("=\r\n"), nil))
	if match == nil {
		t.Fatal("no link in the email")
	}
	claims, err := r.keys.Verify(string(match[1]), r.now)
	// 1 April 2026, 12:00 UTC is 13:00 in London: that day's wave, closing a week after it ends.
	closes := time.Date(2026, 4, 2, 0, 0, 0, 0, mustLoad(t, "Europe/London")).Add(7 * 24 * time.Hour)
	if err != nil || claims.Wave != "tp-20260401" || claims.Recipient != "T-3" || !claims.Expiry.Equal(closes) {
		t.Errorf("the link's claims: %+v, %v; want wave tp-20260401 for T-3, expiring %s", claims, err, closes)
	}

	// Everything due was decided and sent: a second run finds nothing; R-7 is due at 13:00.
	due, err := r.store.DueTouchPoints(ctx, "riverside-homes", uid, r.now)
	if err != nil || due.Due != 0 || !due.Next.Equal(r.now.Add(time.Hour)) {
		t.Errorf("after the run: %+v, %v; want nothing due, R-7 next", due, err)
	}
	again, err := Run(ctx, r.touchPointJob(t))
	if err != nil || again.Audience != 0 || again.Sent != 0 || len(r.sink.Messages()) != 1 {
		t.Errorf("a second run: %s, %v", again.JSON(), err)
	}
}

// A sender that died after deciding (or stopped for quiet hours) leaves invitations reserved:
// the next run, on another day, sends them in the wave they were decided in, once.
func TestTouchPointRunResumes(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	r.repair(t, "R-1", r.now, person("T-3", "three@example.org", "", "shared-ownership"))
	due := r.now.Add(2 * time.Hour)
	inv := responseapi.Invitation{CampaignUID: uid, WaveID: "tp-20260401", RecipientKey: "T-3", Namespace: "riverside-homes",
		Segment: "shared-ownership", Channel: "email"}
	if _, err := r.ledger.Decide(ctx, "riverside-homes", uid, responseapi.DecideRequest{Invitations: []responseapi.Invitation{inv},
		Decisions: []responseapi.Decision{{Source: "jobs", ID: "R-1", Outcome: responseapi.OutcomeInvited, Due: due,
			WaveID: inv.WaveID, RecipientKey: "T-3", Segment: "shared-ownership"}}}); err != nil {
		t.Fatal(err)
	}
	// T-6's invitation too, and T-6 opts out overnight: theirs is marked failed, not sent.
	r.repair(t, "R-2", time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC), person("T-6", "six@example.org", "", "shared-ownership"))
	six := inv
	six.RecipientKey = "T-6"
	if _, err := r.ledger.Decide(ctx, "riverside-homes", uid, responseapi.DecideRequest{Invitations: []responseapi.Invitation{six},
		Decisions: []responseapi.Decision{{Source: "jobs", ID: "R-2", Outcome: responseapi.OutcomeInvited, Due: due,
			WaveID: inv.WaveID, RecipientKey: "T-6", Segment: "shared-ownership"}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.store.OptOut(ctx, "riverside-homes", "T-6", due.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Overnight the campaign's segments changed: the resumed invitations are sent as decided,
	// not placed again.
	r.now = time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC) // the next morning
	job := r.touchPointJob(t)
	job.Plan = mustPlan(t, []audience.Segment{{Name: "nobody", Match: "false", Channels: []string{"email"}}, {Name: "shared-ownership", Channels: []string{"email"}}})
	sum, err := Run(ctx, job)
	if err != nil || sum.Sent != 1 || sum.Skipped["resumed"] != 1 || sum.Skipped["opted-out"] != 1 {
		t.Fatalf("the resuming run: %s, %v", sum.JSON(), err)
	}
	if due, err := r.store.DueTouchPoints(ctx, "riverside-homes", uid, r.now); err != nil || due.Due != 0 {
		t.Errorf("after resuming: %+v, %v; want nothing due (T-6's marked failed)", due, err)
	}
	mails := r.sink.Messages()
	if len(mails) != 1 {
		t.Fatalf("%d emails", len(mails))
	}
	match := linkRe.FindSubmatch(bytes.ReplaceAll(mails[0].Data, []byte("=\r\n"), nil))
	if claims, err := r.keys.Verify(string(match[1]), r.now); err != nil || claims.Wave != "tp-20260401" {
		t.Errorf("the resumed link: %+v, %v; want the wave it was decided in", claims, err)
	}
	if again, err := Run(ctx, r.touchPointJob(t)); err != nil || again.Sent != 0 || again.Audience != 0 {
		t.Errorf("a run after: %s, %v", again.JSON(), err)
	}
}

func mustPlan(t *testing.T, segments []audience.Segment) *audience.Plan {
	t.Helper()
	plan, err := audience.Compile(audience.Spec{IDField: "tenancy_ref", Segments: segments,
		ContactColumns: map[string]string{"email": "email", "sms": "mobile"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// A Job takes only the events of the waves the manager registered for it, and none whose wave
// has closed (a link would be dead): the first stays due for the next Job, the second is
// decided too old.
func TestTouchPointRunKeepsToItsWaves(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	r.now = time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	r.repair(t, "R-1", time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC), person("T-1", "one@example.org", "", "shared-ownership")) // due 31 March 22:00 UTC (23:00 in London)
	r.repair(t, "R-2", time.Date(2026, 4, 2, 6, 0, 0, 0, time.UTC), person("T-3", "three@example.org", "", "shared-ownership")) // due 2 April
	job := r.touchPointJob(t)
	job.Events.Waves = []string{"tp-20260402"}
	sum, err := Run(ctx, job)
	if err != nil || sum.Sent != 1 || sum.Skipped["event-for-the-next-job"] != 1 {
		t.Fatalf("%s, %v; want T-3's sent and T-1's left for the next Job", sum.JSON(), err)
	}
	// The next Job has 31 March's wave, but it closed (a window of an hour): too old.
	job = r.touchPointJob(t)
	job.Events.Waves, job.Events.Window = []string{"tp-20260331", "tp-20260401", "tp-20260402"}, time.Hour
	sum, err = Run(ctx, job)
	if err != nil || sum.Sent != 0 || sum.Skipped["event-too-old"] != 1 {
		t.Fatalf("%s, %v; want T-1's decided too old", sum.JSON(), err)
	}
}

// More events due than one page (1,000) are all decided, page after page.
func TestTouchPointRunPages(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	events := make([]store.Event, responseapi.MaxDueEvents+30)
	for i := range events {
		// Shared owners are reached by email, and these have a mobile only: unreachable,
		// decided without a message, quickly.
		events[i] = store.Event{Source: "jobs", ID: fmt.Sprint("R-", i), Type: repairCompleted, Time: r.now,
			Fields: map[string]string{"tenancy_ref": fmt.Sprint("T-", i), "mobile": "+447700900001", "tenure": "shared-ownership"}}
	}
	if _, err := r.store.PutEvents(ctx, "riverside-homes", events, r.now); err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(2 * time.Hour)
	sum, err := Run(ctx, r.touchPointJob(t))
	if err != nil || sum.Audience != len(events) || sum.Skipped["event-unreachable"] != len(events) {
		t.Fatalf("%s, %v; want all %d events looked at", sum.JSON(), err, len(events))
	}
	if due, err := r.store.DueTouchPoints(ctx, "riverside-homes", uid, r.now); err != nil || due.Due != 0 {
		t.Errorf("after the run: %+v, %v; want nothing due", due, err)
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A follow-up of a touch-point campaign reaches the person where the event that invited them
// says: a detractor after a repair is contacted as one from a list is.
func TestTouchPointFollowUp(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	r.repair(t, "R-1", r.now, person("T-3", "three@example.org", "", "shared-ownership"))
	r.now = r.now.Add(2 * time.Hour)
	if sum, err := Run(ctx, r.touchPointJob(t)); err != nil || sum.Sent != 1 {
		t.Fatalf("the invitation: %s, %v", sum.JSON(), err)
	}
	if err := r.store.PutWave(ctx, store.Wave{CampaignUID: uid, WaveID: "tp-20260401", Namespace: "riverside-homes", Campaign: "post-repair",
		Definition: []byte(`{"questions":[{"id":"tp02","kind":"CSAT"}]}`), OpensAt: r.now.Add(-12 * time.Hour), ClosesAt: r.now.Add(7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	one := 1
	for _, who := range []string{"T-3", "T-9"} { // T-9: no event of this campaign invited them
		if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "tp-20260401", RecipientKey: who, Namespace: "riverside-homes",
			Segment: "shared-ownership", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp02", Value: &one}},
			Cases: []store.Case{{CaseKey: store.CaseKey{FollowUpUID: "fu-1"}, ContactDue: r.now.Add(48 * time.Hour)}}}, r.now); err != nil {
			t.Fatal(err)
		}
	}
	job := r.touchPointJob(t)
	job.WaveID, job.Expiry = "followup", r.now.Add(30*24*time.Hour)
	job.FollowUp = &FollowUp{UID: "fu-1", Channels: []string{"email"}, Body: tmpl(t, "We are sorry the repair went badly. Tell us when it is sorted: {{ .Link }}"),
		Cases: r.ledger}
	sum, err := Run(ctx, job)
	if err != nil || sum.Audience != 2 || sum.Sent != 1 || sum.Skipped["not-in-audience"] != 1 {
		t.Fatalf("the follow-up: %s, %v", sum.JSON(), err)
	}
	mails := r.sink.Messages()
	if len(mails) != 2 || mails[1].To != "three@example.org" || !bytes.Contains(mails[1].Data, []byte("We are sorry the repair went badly")) {
		t.Errorf("%d emails; the follow-up's went to %s", len(mails), mails[len(mails)-1].To)
	}
}

// A reminder round of a touch-point wave reaches those its events invited that day who have
// not answered, where the event that invited them says, each once.
func TestTouchPointReminder(t *testing.T) {
	r := touchPointRig(t)
	ctx := context.Background()
	r.repair(t, "R-1", r.now, person("T-1", "one@example.org", "+447700900001", "general-needs"))
	r.repair(t, "R-2", r.now, person("T-3", "three@example.org", "", "shared-ownership"))
	r.repair(t, "R-3", r.now, person("T-4", "four@example.org", "", "shared-ownership"))
	r.now = r.now.Add(2 * time.Hour)
	if sum, err := Run(ctx, r.touchPointJob(t)); err != nil || sum.Sent != 3 {
		t.Fatalf("the invitations: %s, %v", sum.JSON(), err)
	}
	closes := r.now.Add(8 * 24 * time.Hour)
	if err := r.store.PutWave(ctx, store.Wave{CampaignUID: uid, WaveID: "tp-20260401", Namespace: "riverside-homes", Campaign: "post-repair",
		Definition: []byte(`{"questions":[{"id":"tp02","kind":"CSAT"}]}`), OpensAt: r.now.Add(-12 * time.Hour), ClosesAt: closes}); err != nil {
		t.Fatal(err)
	}
	four := 4
	if _, err := r.store.SaveResponse(ctx, store.Response{CampaignUID: uid, WaveID: "tp-20260401", RecipientKey: "T-3", Namespace: "riverside-homes",
		Segment: "shared-ownership", Channel: "email", Complete: true, Answers: []store.Answer{{Question: "tp02", Value: &four}}}, r.now); err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(3 * 24 * time.Hour)
	reminder := func() Job {
		job := r.touchPointJob(t)
		job.WaveID, job.Round, job.Expiry = "tp-20260401", 1, closes
		return job
	}
	sum, err := Run(ctx, reminder())
	if err != nil || sum.Audience != 3 || sum.Sent != 2 || sum.Skipped["answered-or-not-invited"] != 1 {
		t.Fatalf("the reminder: %s, %v", sum.JSON(), err)
	}
	mails := r.sink.Messages()
	if len(mails) != 3 || mails[2].To != "four@example.org" || len(r.sms) != 2 || r.sms[1]["to"] != "+447700900001" {
		t.Fatalf("%d emails (the last to %s) and %d SMS; want T-4's reminder by email, T-1's by SMS", len(mails), mails[len(mails)-1].To, len(r.sms))
	}
	match := linkRe.FindSubmatch(bytes.ReplaceAll(mails[2].Data, []byte("=\r\n"), nil))
	if claims, err := r.keys.Verify(string(match[1]), r.now); err != nil || claims.Wave != "tp-20260401" || !claims.Expiry.Equal(closes) {
		t.Errorf("the reminder's link: %+v, %v", claims, err)
	}
	if again, err := Run(ctx, reminder()); err != nil || again.Sent != 0 {
		t.Errorf("the round again: %s, %v; want nothing sent twice", again.JSON(), err)
	}
}
