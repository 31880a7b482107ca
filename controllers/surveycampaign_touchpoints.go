package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/schedule"
)

// A touch-point campaign (spec.audience.source.events; docs/touchpoints.md) has no schedule:
// its people come in events, which the response service keeps. The manager registers which
// events the campaign takes, asks every TouchPointPoll (30s) whether any are due, and when
// some are (and no quiet hours hold), registers the waves they fall in (one a day, in the
// campaign's time zone) and starts one short sending Job for all that is due then, named by
// the minute: never a Job per event, at most one a minute, one at a time. The Job decides about
// each event and sends; a decided event is not due again. While nothing is due, the manager
// only reads: it writes nothing to the API server.

// TouchPointPoll is how often a touch-point campaign asks the response service what is due.
const TouchPointPoll = 30 * time.Second

// touchJobsKept is how many finished sending Jobs of a touch-point campaign are kept.
const touchJobsKept = 3

// isTouchPoints says whether the campaign is fed by events.
func (u *run) isTouchPoints() bool { return u.c.Spec.Audience.Source.Events != nil }

// touchJobs are the campaign's touch-point sending Jobs, oldest first (their names end in the
// minute they were made).
func (u *run) touchJobs() []*batchv1.Job {
	var out []*batchv1.Job
	for _, j := range u.jobs {
		if j.Labels[campaign.LabelWave] == campaign.TouchPointsLabel {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *batchv1.Job) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return out
}

// touchJobRunning says whether a sending Job of the campaign runs (a reminder round's does not
// hold the next sending Job back).
func (u *run) touchJobRunning() bool {
	for _, j := range u.touchJobs() {
		if done, _ := jobState(j); !done {
			return true
		}
	}
	return false
}

// followTouchPointJobs follows the sending Jobs: one running keeps the campaign sending; a
// failed one is reported once (its events stay due, and the next Job takes them); the
// finished ones past the latest few are deleted.
func (u *run) followTouchPointJobs(ctx context.Context) error {
	if err := u.recordTouchWaves(ctx); err != nil {
		return err
	}
	reported, ok := u.r.reported.get(u.key)
	if !ok {
		reported = map[types.UID]bool{}
		u.r.reported.put(u.key, reported)
	}
	jobs := u.touchJobs()
	var finished []*batchv1.Job
	for _, j := range jobs {
		done, failed := jobState(j)
		if !done {
			u.sending = true
			continue
		}
		finished = append(finished, j)
		if failed && !reported[j.UID] {
			uid := j.UID
			u.events.then(func() { reported[uid] = true }) // once announced: a lost status write announces nothing
			u.events.Eventf(u.c, j, corev1.EventTypeWarning, v1alpha1.EventSendingFailed, v1alpha1.ActionSend,
				"Job %s: %s The events it did not finish are still due: the next Job takes them.", j.Name, u.failureMessage(ctx, j))
		}
	}
	for len(finished) > touchJobsKept {
		if err := deleteJob(ctx, u.r.Client, finished[0]); err != nil {
			return err
		}
		delete(reported, finished[0].UID)
		finished = finished[1:]
	}
	return nil
}

// registerTouchPoints registers with the response service which events the campaign takes,
// when that changed since the last registration (and after a restart).
func (u *run) registerTouchPoints(ctx context.Context) error {
	ev := u.c.Spec.Audience.Source.Events
	reg := responseapi.TouchPointsRegistration{Namespace: u.c.Namespace, Campaign: u.c.Name, Delay: string(ev.Delay), MaxAge: string(ev.MaxAge)}
	if reg.Delay == "" {
		reg.Delay = "0s"
	}
	if reg.MaxAge == "" {
		reg.MaxAge = "72h"
	}
	for _, t := range ev.Types {
		reg.Events = append(reg.Events, responseapi.EventType{Type: t.Type, Source: t.Source})
	}
	known, _ := json.Marshal(reg)
	if last, ok := u.r.touchPoints.get(u.key); ok && last == string(u.c.UID)+string(known) {
		return nil
	}
	if err := u.r.Responses.PutTouchPoints(ctx, string(u.c.UID), reg); err != nil {
		u.c.SetCondition(v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonWaitingForResponseService,
			"The campaign takes no events until the response service registers it: "+err.Error())
		return fmt.Errorf("registering the campaign's events with the response service: %w", err)
	}
	u.r.touchPoints.put(u.key, string(u.c.UID)+string(known))
	return nil
}

// startTouchPoints starts a sending Job when events are due: after registering the waves they
// fall in. It wakes the campaign again within TouchPointPoll, or when the next event falls due.
func (u *run) startTouchPoints(ctx context.Context) error {
	if err := u.registerTouchPoints(ctx); err != nil {
		return err
	}
	if err := u.ensureEventsSecret(ctx); err != nil {
		return fmt.Errorf("the events Secret: %w", err)
	}
	u.c.Status.NextWaveTime = nil
	u.noteSuspension()
	if u.c.Spec.Suspend || u.touchJobRunning() {
		return nil // suspended (events wait, up to maxAge), or a Job sends: its end wakes the campaign
	}
	if u.timing.Quiet.Quiet(u.now) {
		u.wakeAt(u.timing.Quiet.NextPermitted(u.now))
		return nil
	}
	due, err := u.r.Responses.DueTouchPoints(ctx, u.c.Namespace, string(u.c.UID))
	if responseapi.IsStatus(err, http.StatusNotFound) {
		// The service does not know the campaign (its store was replaced): register again.
		u.r.touchPoints.forget(u.key)
		if err = u.registerTouchPoints(ctx); err == nil {
			due, err = u.r.Responses.DueTouchPoints(ctx, u.c.Namespace, string(u.c.UID))
		}
	}
	if err != nil {
		return fmt.Errorf("asking the response service which events are due: %w", err)
	}
	u.wakeAt(u.now.Add(TouchPointPoll))
	if due.Next != nil {
		u.wakeAt(*due.Next)
	}
	if due.Due == 0 || due.First == nil {
		return nil
	}
	name := campaign.TouchPointJobName(u.c.Name, u.now)
	if u.jobs[name] != nil {
		// This minute's Job has run: the next minute's takes what is left.
		u.wakeAt(u.now.Truncate(time.Minute).Add(time.Minute))
		return nil
	}
	waves, err := u.openTouchWaves(ctx, *due.First)
	if err != nil {
		return err
	}
	mounted := u.found
	if mounted.TokenKeyIDs, err = u.ensureSenderSecret(ctx); err != nil {
		return fmt.Errorf("the sender Secret: %w", err)
	}
	if err := u.ensureExportSecret(ctx); err != nil {
		return fmt.Errorf("the export Secret: %w", err)
	}
	job, err := campaign.BuildTouchPointJob(u.c, u.now, waves, mounted, u.r.Settings)
	if err != nil {
		return err
	}
	made, err := createOrAdopt(ctx, u.r.Client, u.c, job, campaign.LabelCampaignUID, "campaign")
	if err != nil {
		return err
	}
	u.jobs[made.Name] = made
	u.sending = true
	return nil
}

// openTouchWaves registers, and records in the status, the waves of the days from the first
// due event's (no earlier than an event young enough to invite could fall due) to today's, and
// returns their ids, for the Job to carry (recordTouchWaves).
func (u *run) openTouchWaves(ctx context.Context, first time.Time) ([]string, error) {
	ev := u.c.Spec.Audience.Source.Events
	delay, _ := time.ParseDuration(string(ev.Delay))
	maxAge, err := time.ParseDuration(string(ev.MaxAge))
	if err != nil {
		maxAge = 72 * time.Hour
	}
	if earliest := u.now.Add(-maxAge + delay); first.Before(earliest) {
		first = earliest
	}
	loc, err := u.touchLocation()
	if err != nil {
		return nil, err
	}
	var ids []string
	// Day by day in the campaign's time zone: a day is 23 or 25 hours when the clocks change.
	for day := campaign.TouchPointWave(first, loc, u.timing.Window).Scheduled; !day.After(u.now); day = day.AddDate(0, 0, 1) {
		w := campaign.TouchPointWave(day, loc, u.timing.Window)
		if err := u.openTouchWave(ctx, w); err != nil {
			return nil, err
		}
		ids = append(ids, w.ID)
	}
	return ids, nil
}

// touchLocation is the campaign's time zone, which cuts its waves.
func (u *run) touchLocation() (*time.Location, error) {
	if sc := u.c.Spec.Schedule; sc != nil && sc.TimeZone != "" {
		loc, err := schedule.LoadLocation(sc.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("spec.schedule.timeZone: %w", err)
		}
		return loc, nil
	}
	return time.UTC, nil
}

// openTouchWave registers a wave with the response service and records it in the status,
// unless it is there already.
func (u *run) openTouchWave(ctx context.Context, w campaign.Wave) error {
	if u.wave(w.ID) != nil || !w.Closes.After(u.now) {
		return nil // recorded; or closed, and nothing will go into it (the sender decides its events too-old)
	}
	if err := u.register(ctx, w, true); err != nil {
		return err
	}
	u.addWave(v1alpha1.WaveStatus{ID: w.ID, ScheduledTime: metav1.Time{Time: w.Scheduled}, Phase: v1alpha1.WaveCollecting,
		CloseTime: &metav1.Time{Time: w.Closes}})
	if u.c.Status.LastWaveTime == nil || w.Scheduled.After(u.c.Status.LastWaveTime.Time) {
		u.c.Status.LastWaveTime = &metav1.Time{Time: w.Scheduled}
	}
	u.events.Eventf(u.c, nil, corev1.EventTypeNormal, v1alpha1.EventWaveStarted, v1alpha1.ActionSend,
		"Wave %s opened: the invitations of the events due on %s go into it.", w.ID, w.Scheduled.Format("2 January 2006"))
	return nil
}

// recordTouchWaves records in the status the waves the campaign's sending Jobs were made for
// (their annotation), should a status write have been lost after a Job was made: the Jobs are
// the record, and the status follows them.
func (u *run) recordTouchWaves(ctx context.Context) error {
	loc, err := u.touchLocation()
	if err != nil {
		return err
	}
	for _, j := range u.touchJobs() {
		for _, id := range strings.Split(j.Annotations[campaign.AnnotationWaves], ",") {
			w, ok := campaign.TouchPointWaveOf(id, loc, u.timing.Window)
			if !ok || u.wave(id) != nil {
				continue
			}
			if err := u.openTouchWave(ctx, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// unregisterTouchPoints tells the response service that a campaign which took events (its
// spec changed to a list) takes none now, so that their events are no longer kept; once, as
// far as this manager remembers.
func (u *run) unregisterTouchPoints(ctx context.Context) error {
	if _, ok := u.r.touchPoints.get(u.key); !ok {
		return nil
	}
	reg := responseapi.TouchPointsRegistration{Namespace: u.c.Namespace, Campaign: u.c.Name, Delay: "0s", MaxAge: "72h"}
	if err := u.r.Responses.PutTouchPoints(ctx, string(u.c.UID), reg); err != nil {
		return fmt.Errorf("telling the response service the campaign takes no more events: %w", err)
	}
	u.r.touchPoints.forget(u.key)
	return nil
}
