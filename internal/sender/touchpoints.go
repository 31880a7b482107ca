package sender

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// TouchPointSource is what a touch-point campaign's Job asks of the response service
// (responseapi.Client implements it).
type TouchPointSource interface {
	DueEvents(ctx context.Context, namespace, campaignUID string) ([]responseapi.DueEvent, error)
	Decide(ctx context.Context, namespace, campaignUID string, req responseapi.DecideRequest) ([]responseapi.Invitation, error)
	// EventPeople is where a follow-up reaches the people the campaign's events invited.
	EventPeople(ctx context.Context, namespace, campaignUID string, keys []string) (map[string]map[string]string, error)
	// WavePeople is a page of the people the campaign's events invited in a wave, for its
	// reminders.
	WavePeople(ctx context.Context, namespace, campaignUID, waveID, after string) (map[string]map[string]string, error)
}

// Events makes a Job a touch-point campaign's (docs/touchpoints.md).
type Events struct {
	Source TouchPointSource
	// Attributes are the event fields each decision records, for the results' breakdowns.
	Attributes []string
	// Location and Window cut the waves: an event's invitation is in the wave of the day it
	// fell due (campaign.TouchPointWave).
	Location *time.Location
	Window   time.Duration
	// Until is when the manager made the Job: it takes what was due then (zero: when it
	// started). Waves are the waves the manager had registered for it (none: any).
	Until time.Time
	Waves []string
}

// touchPoints sends a touch-point campaign's due events, a page at a time: it asks the
// response service for them, places each event's person as a list's line is placed (the same
// plan: id, segment, sample, channel), leaves out whom the ledger says to (opted out, bounced,
// contacted recently), and records what became of every event with the invitations it made,
// in one call, before anything is sent; then it sends the page. A decided event is not listed
// again, unless its invitation is still reserved or being sent: a sender that died after
// deciding leaves those for the next, which resumes them as a list's rerun does.
func (r *run) touchPoints(ctx context.Context) error {
	listed := map[[2]string]bool{}
	// What was due when the manager made the Job (when the pod started, without it).
	cutoff := r.job.Events.Until
	if cutoff.IsZero() {
		cutoff = r.start
	}
	if r.closes == nil {
		r.closes = map[string]time.Time{}
	}
	for {
		if r.job.Quiet.Quiet(r.job.Now()) {
			return ErrQuietHours
		}
		due, err := r.job.Events.Source.DueEvents(ctx, r.job.Namespace, r.job.CampaignUID)
		if err != nil {
			return fmt.Errorf("asking the response service for the events due: %w", err)
		}
		var fresh, resumed []responseapi.DueEvent
		later, seen := false, 0
		for _, e := range due {
			if e.Due.After(cutoff) {
				// Due since the Job was made: the next Job's. A Job takes what was due when it
				// was made, so that under a steady stream each Job ends, and the manager starts
				// the next (at most one a minute) after registering the next day's wave.
				later = true
				break
			}
			k := [2]string{e.Source, e.ID}
			if listed[k] {
				seen++
				continue
			}
			listed[k] = true
			switch wave, _, _ := schedule.TouchPointDay(e.Due, r.job.Events.Location, r.job.Events.Window); {
			case e.WaveID != "":
				resumed = append(resumed, e)
			case len(r.job.Events.Waves) > 0 && !slices.Contains(r.job.Events.Waves, wave):
				// A day whose wave the manager had not registered when it made the Job (an
				// event posted since, dated earlier): the next Job's, once it is.
				r.sum.Skipped["event-for-the-next-job"]++
			default:
				fresh = append(fresh, e)
			}
		}
		if len(fresh)+len(resumed) == 0 {
			// Nothing more, or only events this run has seen already (an invitation it could
			// not send, left reserved for the next run).
			return nil
		}
		r.sum.Audience += len(fresh) + len(resumed)
		if len(resumed) > 0 {
			if err := r.resume(ctx, resumed); err != nil {
				return err
			}
		}
		if len(fresh) > 0 {
			if err := r.eventPage(ctx, fresh); err != nil {
				return err
			}
		}
		if later || len(due) < responseapi.MaxDueEvents {
			return nil
		}
	}
}

// resume sends the invitations of events decided already, which a stopped sender left
// reserved or being sent: each as the decision made it (its wave, its person, its segment),
// without deciding again; the ledger's state says whether it may have gone. A person who opted
// out since, or whom the event's data no longer reaches, is marked failed: the event is then
// done with.
func (r *run) resume(ctx context.Context, due []responseapi.DueEvent) error {
	var want []responseapi.Invitation
	byKey := map[string]audience.Invitee{}
	keys := make([]string, 0, len(due))
	for _, e := range due {
		inv, reachable := r.job.Plan.Reach(e.Fields, r.job.Plan.Channels(e.Segment))
		inv.Key, inv.Segment = e.RecipientKey, e.Segment
		if !reachable {
			inv.Channel = "none"
		}
		_, closes, _ := schedule.TouchPointDayOf(e.WaveID, r.job.Events.Location, r.job.Events.Window)
		r.closes[e.WaveID] = closes
		byKey[inviteeKey(e.WaveID, e.RecipientKey)] = inv
		keys = append(keys, e.RecipientKey)
		want = append(want, responseapi.Invitation{CampaignUID: r.job.CampaignUID, WaveID: e.WaveID, RecipientKey: e.RecipientKey,
			Namespace: r.job.Namespace, Segment: e.Segment, Channel: inv.Channel})
	}
	optedOut, err := r.job.Ledger.OptedOut(ctx, r.job.Namespace, keys)
	if err != nil {
		return fmt.Errorf("asking the ledger for opt-outs: %w", err)
	}
	stored, err := r.job.Ledger.Reserve(ctx, want)
	if err != nil {
		return fmt.Errorf("finding the invitations to resume: %w", err)
	}
	var send []responseapi.Invitation
	for _, row := range stored {
		inv := byKey[inviteeKey(row.WaveID, row.RecipientKey)]
		switch {
		case row.State != "reserved" && row.State != "sending":
			continue // done with since it was listed
		case optedOut[row.RecipientKey]:
			r.sum.Skipped["opted-out"]++
			if err := r.mark(ctx, row, "failed", "opted-out"); err != nil {
				return err
			}
		case inv.Channel == "none" || inv.Contacts.Of(row.Channel) == "":
			r.sum.Skipped["unreachable"]++
			if err := r.mark(ctx, row, "failed", "unreachable"); err != nil {
				return err
			}
		default:
			send = append(send, row)
		}
	}
	r.stream = r.startStream(ctx)
	err = r.queue(ctx, send, byKey)
	return joinStop(err, r.stream.close())
}

// eventPage decides about one page of due events and sends the invitations they make.
func (r *run) eventPage(ctx context.Context, due []responseapi.DueEvent) error {
	decisions := make([]responseapi.Decision, 0, len(due))
	placed := map[string]int{} // the decision of the event that placed each person, by key
	waves := map[string]string{}
	var people []audience.Invitee
	for _, e := range due {
		d := responseapi.Decision{Source: e.Source, ID: e.ID, Due: e.Due}
		inv, placement, err := r.job.Plan.Place(e.Fields, r.job.Seed, e.Source+"\x00"+e.ID)
		_, twice := placed[inv.Key]
		switch {
		case e.TooOld:
			d.Outcome = responseapi.OutcomeTooOld
		case err != nil:
			// The producer's data places nobody (no id, no contact): the response service
			// took it, since the campaign's mapping is not the route's to know.
			d.Outcome = responseapi.OutcomeInvalid
		case placement == audience.NoSegment:
			d.Outcome = responseapi.OutcomeNoSegment
		case placement == audience.NotSampled:
			d.Outcome = responseapi.OutcomeNotSampled
		case placement == audience.Unreachable:
			d.Outcome = responseapi.OutcomeUnreachable
		case twice:
			// Two events of one person in one page: one invitation.
			d.Outcome = responseapi.OutcomeContacted
		case closed(e, r):
			// Its wave has closed: a link would be dead when it arrives.
			d.Outcome = responseapi.OutcomeTooOld
		default:
			d.Segment = inv.Segment
			d.Attributes = r.attributes(e.Fields)
			placed[inv.Key] = len(decisions)
			people = append(people, inv)
			wave, _, closes := schedule.TouchPointDay(e.Due, r.job.Events.Location, r.job.Events.Window)
			waves[inv.Key], r.closes[wave] = wave, closes
		}
		if d.Outcome != "" {
			r.sum.Skipped["event-"+d.Outcome]++
		}
		decisions = append(decisions, d)
	}
	r.reserve = func(ctx context.Context, want []responseapi.Invitation, left map[string]string) ([]responseapi.Invitation, error) {
		for i := range want {
			want[i].WaveID = waves[want[i].RecipientKey]
			d := &decisions[placed[want[i].RecipientKey]]
			d.Outcome, d.WaveID, d.RecipientKey = responseapi.OutcomeInvited, want[i].WaveID, want[i].RecipientKey
		}
		for key, why := range left {
			d := &decisions[placed[key]]
			d.Outcome = responseapi.OutcomeContacted
			switch why {
			case "opted-out":
				d.Outcome = responseapi.OutcomeOptedOut
			case "bounced-before":
				d.Outcome = responseapi.OutcomeUnreachable
			}
		}
		for i := range decisions {
			if decisions[i].Outcome == "" {
				return nil, errors.New("an event's person was neither invited nor left out") // a bug, not an input
			}
		}
		return r.job.Events.Source.Decide(ctx, r.job.Namespace, r.job.CampaignUID, responseapi.DecideRequest{Decisions: decisions, Invitations: want})
	}
	defer func() { r.reserve = nil }()
	if len(people) == 0 { // nobody to invite: the decisions alone
		_, err := r.job.Events.Source.Decide(ctx, r.job.Namespace, r.job.CampaignUID, responseapi.DecideRequest{Decisions: decisions})
		if err != nil {
			return fmt.Errorf("recording what became of the events: %w", err)
		}
		return nil
	}
	// Each page is sent before the next is asked for: its invitations are then sent (or
	// left reserved by a stop), so the next page holds only events not yet seen.
	r.stream = r.startStream(ctx)
	err := r.batch(ctx, people)
	return joinStop(err, r.stream.close())
}

// attributes are the event's fields the campaign breaks its results down by.
func (r *run) attributes(fields map[string]string) map[string]string {
	var out map[string]string
	for _, a := range r.job.Events.Attributes {
		if v, ok := fields[a]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[a] = v
		}
	}
	return out
}

// touchPointReminders sends a reminder round of a touch-point campaign's wave: to the people
// its events invited that day who have not answered, found a page at a time with the data of
// the event that invited them, placed again as they were (the same data gives the same
// segment and channel), and sent as a list's reminder round is (batch: the ledger says who
// has answered, and what was sent already).
func (r *run) touchPointReminders(ctx context.Context) error {
	r.stream = r.startStream(ctx)
	err := func() error {
		after := ""
		for {
			people, err := r.job.Events.Source.WavePeople(ctx, r.job.Namespace, r.job.CampaignUID, r.job.WaveID, after)
			if err != nil {
				return fmt.Errorf("asking for the people the wave's events invited: %w", err)
			}
			if len(people) == 0 {
				return nil
			}
			keys := slices.Sorted(maps.Keys(people))
			after = keys[len(keys)-1]
			var batch []audience.Invitee
			for _, key := range keys {
				r.sum.Audience++
				inv, placement, err := r.job.Plan.Place(people[key], r.job.Seed, "")
				if err != nil || placement == audience.NoSegment || placement == audience.Unreachable || inv.Key != key {
					r.sum.Skipped["not-placed-again"]++ // the spec's segments changed since
					continue
				}
				if placement == audience.NotSampled { // the event was sampled, not the person: reach them as invited
					segment, ok := inv.Segment, false
					if inv, ok = r.job.Plan.Reach(people[key], r.job.Plan.Channels(segment)); !ok {
						r.sum.Skipped["not-placed-again"]++
						continue
					}
					inv.Segment = segment
				}
				batch = append(batch, inv)
				if len(batch) == r.job.BatchSize {
					if err := r.batch(ctx, batch); err != nil {
						return err
					}
					batch = nil
				}
			}
			if len(batch) > 0 {
				if err := r.batch(ctx, batch); err != nil {
					return err
				}
			}
		}
	}()
	return joinStop(err, r.stream.close())
}

// closed says whether the wave of the day an event fell due has closed.
func closed(e responseapi.DueEvent, r *run) bool {
	_, _, closes := schedule.TouchPointDay(e.Due, r.job.Events.Location, r.job.Events.Window)
	return !closes.After(r.job.Now())
}
