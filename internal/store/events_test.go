package store_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// Touch-point events are stored once per namespace, source and id, whole; an erasure takes
// the person's events with the rest of their records, and they expire EventRetention after
// they arrived.
func TestEvents(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		const src = "https://repairs.riverside.example/jobs"
		repair := func(id, tenancy string) store.Event {
			return store.Event{Source: src, ID: id, Type: "uk.org.riverside.repair.completed", Subject: "job " + id,
				Time: t0.Add(-2 * time.Hour), Fields: map[string]string{"tenancy": tenancy, "email": tenancy + "@example.org", "contractor": "Dyfed Plumbing"}}
		}
		a, b := repair("R-1", "T-1"), repair("R-2", "T-2")
		created, err := s.PutEvents(ctx, "riverside-homes", []store.Event{a, b, a}, t0)
		if err != nil || created != 2 {
			t.Fatalf("PutEvents = %d, %v; want 2 (the repeat within the batch stored once)", created, err)
		}
		// A producer's retry: the stored event stays as it was, and the new one is added.
		retried := a
		retried.Type, retried.Fields = "changed", map[string]string{"tenancy": "T-9"}
		c := repair("R-3", "T-1")
		c.Time = time.Time{}
		if created, err := s.PutEvents(ctx, "riverside-homes", []store.Event{retried, c}, t0.Add(time.Minute)); err != nil || created != 1 {
			t.Fatalf("the retry: %d, %v; want 1", created, err)
		}
		// The same source and id in another namespace is another event.
		if created, err := s.PutEvents(ctx, "lakeside", []store.Event{a}, t0); err != nil || created != 1 {
			t.Fatalf("another namespace: %d, %v", created, err)
		}
		got, err := s.Events(ctx, "riverside-homes", t0, 10)
		if err != nil {
			t.Fatal(err)
		}
		a.ReceivedAt, b.ReceivedAt, c.ReceivedAt = t0, t0, t0.Add(time.Minute)
		if want := []store.Event{a, b, c}; !reflect.DeepEqual(got, want) {
			t.Errorf("Events:\n got %+v\nwant %+v", got, want)
		}
		if got, _ := s.Events(ctx, "riverside-homes", t0.Add(time.Second), 10); len(got) != 1 || got[0].ID != "R-3" {
			t.Errorf("Events since a minute later: %+v", got)
		}

		// Erasing T-1 takes both their repairs here, not T-2's, nor lakeside's T-1.
		erased, err := s.Erase(ctx, "riverside-homes", "T-1", t0.Add(time.Hour))
		if err != nil || erased.Events != 2 {
			t.Fatalf("Erase = %+v, %v; want 2 events", erased, err)
		}
		if held, err := store.RowsHolding(ctx, s, "T-1"); err != nil || !reflect.DeepEqual(held, map[string]int{"touch_events": 1}) {
			t.Errorf("rows still holding T-1 (lakeside's event only, expected): %v, %v", held, err)
		}

		// Expiry: nothing before EventRetention, everything after.
		if got, err := s.Expire(ctx, t0.Add(store.EventRetention)); err != nil || got.Events != 0 {
			t.Errorf("Expire at the retention: %+v, %v", got, err)
		}
		if got, err := s.Expire(ctx, t0.Add(store.EventRetention+time.Second)); err != nil || got.Events != 2 {
			t.Errorf("Expire past the retention: %+v, %v; want 2 (T-2's here, T-1's in lakeside)", got, err)
		}
		if left, err := s.Events(ctx, "riverside-homes", time.Time{}, 10); err != nil || len(left) != 0 {
			t.Errorf("events left: %+v, %v", left, err)
		}
	})
}

// Concurrent deliveries share commits: every event is stored once, and the calls' counts of new
// events add up to the events stored, whoever delivered a repeated one first.
func TestConcurrentEvents(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		const posters, each = 8, 50
		var wg sync.WaitGroup
		created := make([]int, posters)
		errs := make([]error, posters)
		for p := range posters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					// Posters 0 and 1 deliver the same events, as a pipeline's retry would.
					id := fmt.Sprintf("R-%d-%d", max(p, 1), i)
					n, err := s.PutEvents(ctx, "riverside-homes", []store.Event{{Source: "s", ID: id, Type: "t",
						Fields: map[string]string{"tenancy": id}}}, t0)
					if err != nil {
						errs[p] = err
						return
					}
					created[p] += n
				}
			}()
		}
		wg.Wait()
		total := 0
		for p := range posters {
			if errs[p] != nil {
				t.Fatal(errs[p])
			}
			total += created[p]
		}
		stored, err := s.Events(ctx, "riverside-homes", time.Time{}, 10*posters*each)
		if err != nil || len(stored) != (posters-1)*each || total != len(stored) {
			t.Errorf("stored %d events (%v), the calls counted %d new; want %d", len(stored), err, total, (posters-1)*each)
		}
	})
}

// More events than one expiry transaction deletes (500) all go, over several.
func TestEventsExpireInBatches(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		events := make([]store.Event, 1234)
		for i := range events {
			events[i] = store.Event{Source: "s", ID: fmt.Sprint("R-", i), Type: "t", Fields: map[string]string{"tenancy": fmt.Sprint("T-", i)}}
		}
		if n, err := s.PutEvents(ctx, "riverside-homes", events, t0); err != nil || n != len(events) {
			t.Fatalf("PutEvents = %d, %v", n, err)
		}
		got, err := s.Expire(ctx, t0.Add(store.EventRetention+time.Second))
		if err != nil || got.Events != int64(len(events)) {
			t.Errorf("Expire = %+v, %v; want %d events", got, err, len(events))
		}
	})
}
