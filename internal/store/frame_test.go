package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/surveyops/survey-operator/internal/store"
)

// Every shard of a sending Job records the frame it counted; a rerun records it again. The
// wave's frame counts the population once and the people each shard left out once.
func TestFrame(t *testing.T) {
	contract(t, func(t *testing.T, s store.Store) {
		if err := s.PutFrame(ctx, uid, "20260401-0900", 0, 1, map[string]store.FrameCounts{"general-needs": {Population: 1}}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a frame for a wave never registered: %v, want ErrNotFound", err)
		}
		if err := s.PutWave(ctx, wave("20260401-0900")); err != nil {
			t.Fatal(err)
		}
		whole := func(optedOut, recent int) map[string]store.FrameCounts {
			return map[string]store.FrameCounts{
				"general-needs":    {Population: 6000, Unreachable: 12, Sampled: 2395, OptedOut: optedOut, ContactedRecently: recent},
				"shared-ownership": {Population: 471, Sampled: 471, OptedOut: 1},
			}
		}
		put := func(shard, shards int, frame map[string]store.FrameCounts) {
			t.Helper()
			if err := s.PutFrame(ctx, uid, "20260401-0900", shard, shards, frame); err != nil {
				t.Fatal(err)
			}
		}
		put(2, 3, whole(9, 9)) // an earlier run with three shards
		put(0, 2, whole(0, 0)) // shard 0 of two starts: the frame, nobody left out yet; shard 2's rows go
		put(1, 2, whole(3, 2)) // shard 1 finishes
		put(0, 2, whole(4, 0)) // shard 0 finishes
		put(1, 2, whole(3, 2)) // shard 1 is run again
		sum, err := s.Summarize(ctx, uid, "20260401-0900", "tp01")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]store.FrameCounts{
			"general-needs":    {Population: 6000, Unreachable: 12, Sampled: 2395, OptedOut: 7, ContactedRecently: 2},
			"shared-ownership": {Population: 471, Sampled: 471, OptedOut: 2},
		}
		if !reflect.DeepEqual(sum.Frame, want) {
			t.Errorf("frame = %+v\nwant    %+v", sum.Frame, want)
		}
		// Another wave's frame is its own.
		if other, err := s.Summarize(ctx, uid, "20260701-0900", "tp01"); err != nil || len(other.Frame) != 0 {
			t.Errorf("another wave's frame: %+v, %v", other.Frame, err)
		}
	})
}
