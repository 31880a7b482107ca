package scoring

import (
	"reflect"
	"testing"
)

func TestCollapse(t *testing.T) {
	for name, c := range map[string]struct {
		in   []Stratum
		want []Stratum
	}{
		"none small": {
			in:   []Stratum{{100, []int{2, 3}}, {50, []int{5, 0}}},
			want: []Stratum{{100, []int{2, 3}}, {50, []int{5, 0}}},
		},
		"two small, enough together": {
			in:   []Stratum{{100, []int{10, 10}}, {8, []int{1, 2}}, {6, []int{2, 0}}},
			want: []Stratum{{100, []int{10, 10}}, {14, []int{3, 2}}},
		},
		"one without answers joins the largest": {
			in:   []Stratum{{100, []int{10, 10}}, {300, []int{20, 20}}, {40, []int{0, 0}}},
			want: []Stratum{{100, []int{10, 10}}, {340, []int{20, 20}}},
		},
		"a single answer joins the largest": {
			in:   []Stratum{{100, []int{10, 10}}, {12, []int{0, 1}}},
			want: []Stratum{{112, []int{10, 11}}},
		},
		"all small: one stratum": {
			in:   []Stratum{{10, []int{1, 0}}, {20, []int{0, 1}}},
			want: []Stratum{{30, []int{1, 1}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Collapse(c.in, 5); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Collapse = %v, want %v", got, c.want)
			}
		})
	}
}

// A stratum of one satisfied answer no longer adds nothing to the variance: merged into the
// largest, its people are counted with that stratum's spread.
func TestCollapsedMarginIsNotTooSmall(t *testing.T) {
	strata := []Stratum{{6000, []int{100, 300}}, {800, []int{0, 1}}}
	raw := StratifiedTopBox(strata, 1, 0.95)
	collapsed := StratifiedTopBox(Collapse(strata, 5), 1, 0.95)
	if !(collapsed.MarginOfError > raw.MarginOfError) || collapsed.Uncovered != 0 {
		t.Errorf("margin raw ±%.2f, collapsed ±%.2f", raw.MarginOfError, collapsed.MarginOfError)
	}
}
