package sender

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

// An invitation round records the frame it counted: each segment's population before
// sampling, its unreachable and sampled people, and the people left out by opt-out and recent
// contact. Two shards and a rerun of one record the figures once; a reminder round records
// nothing.
func TestFrameIsRecordedOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	more := people + "T-7,,,shared-ownership\n" // no email: shared ownership is asked by email only
	if err := r.store.OptOut(ctx, "riverside-homes", "T-2", r.now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.sentBefore(t, "T-6", "shared-ownership", r.now.Add(-48*time.Hour))
	for _, shard := range []int{0, 1, 1} {
		job := r.job(t, more)
		job.Shards, job.Shard, job.ContactedWithin = 2, shard, 30*24*time.Hour
		if sum, err := Run(ctx, job); err != nil {
			t.Fatalf("shard %d: %v %s", shard, err, sum.JSON())
		}
	}
	reminder := r.job(t, more)
	reminder.Round = 1
	if sum, err := Run(ctx, reminder); err != nil {
		t.Fatalf("reminder: %v %s", err, sum.JSON())
	}
	sum, err := r.store.Summarize(ctx, uid, "20260401-0900", "tp01")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.FrameCounts{
		"general-needs":    {Population: 3, Sampled: 3, OptedOut: 1},
		"shared-ownership": {Population: 4, Unreachable: 1, Sampled: 3, ContactedRecently: 1},
	}
	if !reflect.DeepEqual(sum.Frame, want) {
		t.Errorf("frame = %+v\nwant    %+v", sum.Frame, want)
	}
}
