package collector_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A frame is recorded for a registered wave, and refused when its figures cannot be.
func TestFrame(t *testing.T) {
	e := newEnv(t)
	path := func(wave, shard string) string { return responseapi.RouteFrame.Path(uid, wave, shard) }
	good := responseapi.Frame{Shards: 2, Segments: []responseapi.FrameSegment{
		{Segment: "general-needs", Population: 6000, Unreachable: 12, Sampled: 2395, OptedOut: 4, ContactedRecently: 1}}}
	e.api(http.MethodPut, path("20260401-0900", "1"), good, http.StatusOK, nil)
	var sum responseapi.Summary
	e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "20260401-0900")+"?primary=tp01", nil, http.StatusOK, &sum)
	if len(sum.Frame) != 1 || sum.Frame[0] != good.Segments[0] {
		t.Errorf("summary frame = %+v", sum.Frame)
	}
	seg := func(f responseapi.FrameSegment) responseapi.Frame {
		return responseapi.Frame{Shards: 1, Segments: []responseapi.FrameSegment{f}}
	}
	for name, c := range map[string]struct {
		path string
		body responseapi.Frame
		want int
	}{
		"a wave never registered":                  {path("20260701-0900", "0"), seg(responseapi.FrameSegment{Segment: "a", Population: 1}), http.StatusNotFound},
		"a shard that is not a number":             {path("20260401-0900", "x"), seg(responseapi.FrameSegment{Segment: "a", Population: 1}), http.StatusBadRequest},
		"a shard past the shards":                  {path("20260401-0900", "1"), seg(responseapi.FrameSegment{Segment: "a", Population: 1}), http.StatusBadRequest},
		"no segment name":                          {path("20260401-0900", "0"), seg(responseapi.FrameSegment{Population: 1}), http.StatusBadRequest},
		"a negative count":                         {path("20260401-0900", "0"), seg(responseapi.FrameSegment{Segment: "a", Population: -1}), http.StatusBadRequest},
		"more sampled and unreachable than people": {path("20260401-0900", "0"), seg(responseapi.FrameSegment{Segment: "a", Population: 10, Unreachable: 3, Sampled: 8}), http.StatusBadRequest},
		"more left out than sampled":               {path("20260401-0900", "0"), seg(responseapi.FrameSegment{Segment: "a", Population: 10, Sampled: 2, OptedOut: 2, ContactedRecently: 1}), http.StatusBadRequest},
		"a segment twice": {path("20260401-0900", "0"), responseapi.Frame{Shards: 1, Segments: []responseapi.FrameSegment{
			{Segment: "a", Population: 1}, {Segment: "a", Population: 1}}}, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) { e.api(http.MethodPut, c.path, c.body, c.want, nil) })
	}
	// A segment's name is a name: one with a control character is refused, and named.
	var refusal responseapi.ErrorBody
	e.api(http.MethodPut, path("20260401-0900", "0"), seg(responseapi.FrameSegment{Segment: "general\u0085needs", Population: 1}), http.StatusBadRequest, &refusal)
	if !strings.HasPrefix(refusal.Error, "segments[0]: ") {
		t.Errorf("a segment name with a control character: the refusal does not name it: %q", refusal.Error)
	}
}
