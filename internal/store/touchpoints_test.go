package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// A touch-point campaign sees the events of the types it takes, each due its delay after it
// happened; an event decided is never due again, and its invitation is reserved with the
// decision, so a Job retried after a crash finds the event decided and the invitation made.
func TestTouchPoints(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		const ns, repairs, jobs = "riverside-homes", "uk.org.riverside.repair.completed", "https://repairs.riverside.example/jobs"
		if _, err := s.DueEvents(ctx, ns, uid, t0, 10); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DueEvents before registering: %v, want ErrNotFound", err)
		}
		if types, err := s.TakenTypes(ctx, ns); err != nil || len(types) != 0 {
			t.Errorf("TakenTypes before registering: %v, %v", types, err)
		}
		tp := store.TouchPoints{CampaignUID: uid, Namespace: ns, Campaign: "post-repair", Delay: 2 * time.Hour, MaxAge: 72 * time.Hour,
			Types: []store.EventType{{Type: repairs, Source: jobs}, {Type: "uk.org.riverside.complaint.closed"}}}
		if err := s.PutTouchPoints(ctx, tp, t0); err != nil {
			t.Fatal(err)
		}
		bad := tp
		bad.MaxAge = 0
		if err := s.PutTouchPoints(ctx, bad, t0); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("a maxAge of 0: %v, want ErrBadInput", err)
		}
		types, err := s.TakenTypes(ctx, ns)
		if want := []store.EventType{{Type: "uk.org.riverside.complaint.closed"}, {Type: repairs, Source: jobs}}; err != nil || !reflect.DeepEqual(types, want) {
			t.Errorf("TakenTypes = %v, %v; want %v", types, err, want)
		}
		if !store.Takes(types, repairs, jobs) || store.Takes(types, repairs, "https://elsewhere.example") || !store.Takes(types, "uk.org.riverside.complaint.closed", "any") {
			t.Error("Takes does not follow the types' sources")
		}

		event := func(id, typ, source string, at time.Time) store.Event {
			return store.Event{Source: source, ID: id, Type: typ, Time: at, Fields: map[string]string{"tenancy": "T-" + id, "contractor": "Dyfed Plumbing"}}
		}
		received := t0.Add(time.Hour)
		events := []store.Event{
			event("1", repairs, jobs, t0),                                       // due at t0+2h
			event("2", repairs, jobs, t0.Add(30*time.Minute)),                   // due at t0+2h30
			event("3", repairs, "https://elsewhere.example", t0),                // another source: not taken
			event("4", "uk.org.riverside.tenancy.started", jobs, t0),            // another type: not taken
			event("5", "uk.org.riverside.complaint.closed", "crm", time.Time{}), // no time: due 2h after it arrived
			event("6", repairs, jobs, t0.Add(48*time.Hour)),                     // says a time after it arrived: taken as then
			event("7", repairs, jobs, t0.Add(-100*time.Hour)),                   // already past maxAge
		}
		if _, err := s.PutEvents(ctx, ns, events, received); err != nil {
			t.Fatal(err)
		}
		// Another namespace's events of the same type are not this campaign's.
		if _, err := s.PutEvents(ctx, "lakeside", []store.Event{event("1", repairs, jobs, t0)}, received); err != nil {
			t.Fatal(err)
		}

		at := t0.Add(2*time.Hour + 15*time.Minute)
		due, err := s.DueTouchPoints(ctx, ns, uid, at)
		if want := (store.TouchPointsDue{Due: 2, First: t0.Add(-98 * time.Hour), Next: t0.Add(2*time.Hour + 30*time.Minute)}); err != nil || due != want {
			t.Errorf("DueTouchPoints = %+v, %v; want %+v (events 1 and 7; 2 next)", due, err, want)
		}
		got, err := s.DueEvents(ctx, ns, uid, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(es []store.DueEvent) (out []string) {
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		if want := []string{"7", "1"}; !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("DueEvents = %v, want %v", ids(got), want)
		}
		if !got[0].TooOld || got[1].TooOld || !got[1].Due.Equal(t0.Add(2*time.Hour)) || got[1].Fields["tenancy"] != "T-1" || !got[1].ReceivedAt.Equal(received) {
			t.Errorf("DueEvents rows: %+v", got)
		}

		// The Job decides: 7 too old, 1 invited. The invitation is reserved with it.
		wave := wave("tp-20260401")
		if err := s.PutWave(ctx, wave); err != nil {
			t.Fatal(err)
		}
		inv := store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: wave.WaveID, RecipientKey: "T-1"},
			Namespace: ns, Segment: "general-needs", Channel: "email"}
		decisions := []store.Decision{{Source: jobs, ID: "7", Outcome: store.OutcomeTooOld, Due: got[0].Due},
			{Source: jobs, ID: "1", Outcome: store.OutcomeInvited, Due: got[1].Due, WaveID: wave.WaveID, RecipientKey: "T-1", Segment: "general-needs",
				Attributes: map[string]string{"contractor": "Dyfed Plumbing"}}}
		for range 2 { // a retried Job decides the same again: nothing changes
			reserved, err := s.Decide(ctx, ns, uid, decisions, []store.Invitation{inv}, at)
			if err != nil || len(reserved) != 1 || reserved[0].State != store.StateReserved || reserved[0].RecipientKey != "T-1" {
				t.Fatalf("Decide = %+v, %v", reserved, err)
			}
		}
		// Until its invitation is sent, the invited event is due still: a sender that died after
		// deciding leaves it for the next, which finds the invitation reserved and sends it,
		// as the decision made it.
		if got, err := s.DueEvents(ctx, ns, uid, at, 10); err != nil || !reflect.DeepEqual(ids(got), []string{"1"}) ||
			got[0].WaveID != wave.WaveID || got[0].RecipientKey != "T-1" || got[0].Segment != "general-needs" {
			t.Errorf("after deciding, with the invitation reserved: DueEvents = %+v, %v; want 1, with its invitation", got, err)
		}
		if err := s.Mark(ctx, inv.InvitationKey, store.StateSending, "", at); err != nil {
			t.Fatal(err)
		}
		if due, err := s.DueTouchPoints(ctx, ns, uid, at); err != nil || due.Due != 1 {
			t.Errorf("with the invitation being sent: DueTouchPoints = %+v, %v; want 1 due", due, err)
		}
		if err := s.Mark(ctx, inv.InvitationKey, store.StateSent, "", at); err != nil {
			t.Fatal(err)
		}
		if due, err := s.DueTouchPoints(ctx, ns, uid, at); err != nil || due.Due != 0 {
			t.Errorf("after deciding and sending, DueTouchPoints = %+v, %v; want none due", due, err)
		}
		// Later: 2 and 5 fall due; 6 (dated later than it arrived) was due 2h after it arrived.
		later := t0.Add(4 * time.Hour)
		if got, err := s.DueEvents(ctx, ns, uid, later, 10); err != nil || !reflect.DeepEqual(ids(got), []string{"2", "5", "6"}) {
			t.Errorf("DueEvents later = %v, %v; want [2 5 6]", ids(got), err)
		}
		if got, err := s.DueEvents(ctx, ns, uid, later, 1); err != nil || len(got) != 1 {
			t.Errorf("DueEvents with a limit of 1 = %v, %v", ids(got), err)
		}

		// What a decision may say.
		for name, d := range map[string]store.Decision{
			"not an outcome":             {Source: jobs, ID: "2", Outcome: "maybe"},
			"invited without a person":   {Source: jobs, ID: "2", Outcome: store.OutcomeInvited, WaveID: wave.WaveID},
			"not invited, with a person": {Source: jobs, ID: "2", Outcome: store.OutcomeNoSegment, RecipientKey: "T-2"},
		} {
			if _, err := s.Decide(ctx, ns, uid, []store.Decision{d}, nil, later); !errors.Is(err, store.ErrBadInput) {
				t.Errorf("%s: %v, want ErrBadInput", name, err)
			}
		}
		other := inv
		other.CampaignUID = "another-campaign"
		if _, err := s.Decide(ctx, ns, uid, nil, []store.Invitation{other}, later); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("another campaign's invitation: %v, want ErrBadInput", err)
		}
		if _, err := s.Decide(ctx, ns, "never-registered", nil, nil, later); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unregistered campaign: %v, want ErrNotFound", err)
		}
		if _, err := s.DueEvents(ctx, "lakeside", uid, later, 10); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the campaign asked for in another namespace: %v, want ErrNotFound", err)
		}

		// Registering again replaces the types: the complaint type is dropped.
		tp.Types = tp.Types[:1]
		if err := s.PutTouchPoints(ctx, tp, later); err != nil {
			t.Fatal(err)
		}
		if got, err := s.DueEvents(ctx, ns, uid, later, 10); err != nil || !reflect.DeepEqual(ids(got), []string{"2", "6"}) {
			t.Errorf("after dropping a type, DueEvents = %v, %v; want [2 6]", ids(got), err)
		}

		// A follow-up finds the person where the event that invited them says; nobody else.
		people, err := s.EventPeople(ctx, ns, uid, []string{"T-1", "T-2", "T-7"})
		if err != nil || len(people) != 1 || people["T-1"]["tenancy"] != "T-1" || people["T-1"]["contractor"] != "Dyfed Plumbing" {
			t.Errorf("EventPeople = %v, %v; want T-1's event only (T-2 not decided, T-7 too old)", people, err)
		}
		if _, err := s.EventPeople(ctx, "lakeside", uid, []string{"T-1"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("EventPeople in another namespace: %v, want ErrNotFound", err)
		}

		// Erasing T-1 takes the decision that names them, with their invitation and event.
		erased, err := s.Erase(ctx, ns, "T-1", later)
		if err != nil || erased.Decisions != 1 || erased.Invitations != 1 {
			t.Errorf("Erase = %+v, %v; want 1 decision and 1 invitation", erased, err)
		}
		if held, err := store.RowsHolding(ctx, s, "T-1"); err != nil || !reflect.DeepEqual(held, map[string]int{"touch_events": 1}) {
			t.Errorf("rows still holding T-1 (lakeside's event only, expected): %v, %v", held, err)
		}
	})
}

// When a wave's invitations expire under the campaign's retention, the decisions that made
// them forget whom and where, and stay: their events do not invite again.
func TestTouchPointDecisionsOutliveTheirInvitations(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		const ns = "riverside-homes"
		if err := s.PutTouchPoints(ctx, store.TouchPoints{CampaignUID: uid, Namespace: ns, Campaign: "post-repair",
			Types: []store.EventType{{Type: "repair.completed"}}, MaxAge: 30 * 24 * time.Hour}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutEvents(ctx, ns, []store.Event{{Source: "jobs", ID: "R-1", Type: "repair.completed", Time: t0,
			Fields: map[string]string{"tenancy": "T-1"}}}, t0); err != nil {
			t.Fatal(err)
		}
		w := wave("tp-20260401")
		w.ClosesAt = t0.Add(24 * time.Hour)
		if err := s.PutWave(ctx, w); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRetention(ctx, uid, store.Retention{Namespace: ns, Invitations: 24 * time.Hour}, t0); err != nil {
			t.Fatal(err)
		}
		inv := store.Invitation{InvitationKey: store.InvitationKey{CampaignUID: uid, WaveID: w.WaveID, RecipientKey: "T-1"}, Namespace: ns,
			Segment: "all", Channel: "email"}
		if _, err := s.Decide(ctx, ns, uid, []store.Decision{{Source: "jobs", ID: "R-1", Outcome: store.OutcomeInvited, Due: t0,
			WaveID: w.WaveID, RecipientKey: "T-1", Segment: "all"}}, []store.Invitation{inv}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, inv.InvitationKey, store.StateSent, "", t0); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(3 * 24 * time.Hour)
		if got, err := s.Expire(ctx, later); err != nil || got.Invitations != 1 {
			t.Fatalf("Expire = %+v, %v; want the invitation expired", got, err)
		}
		if due, err := s.DueTouchPoints(ctx, ns, uid, later); err != nil || due.Due != 0 {
			t.Errorf("after the invitation expired: %+v, %v; want the event still decided", due, err)
		}
		if held, err := store.RowsHolding(ctx, s, "T-1"); err != nil || !reflect.DeepEqual(held, map[string]int{"touch_events": 1}) {
			t.Errorf("rows holding T-1 after expiry: %v, %v; want the event only (until its own 30 days)", held, err)
		}
	})
}
