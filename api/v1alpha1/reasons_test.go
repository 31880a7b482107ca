package v1alpha1

import (
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBound(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		want int
	}{
		"short":                {"Wave 20260401-0900 is Collecting.", 33},
		"exactly the max":      {strings.Repeat("a", MaxMessage), MaxMessage},
		"one over":             {strings.Repeat("a", MaxMessage+1), MaxMessage},
		"multibyte at the cut": {strings.Repeat("a", MaxMessage-4) + strings.Repeat("é", 10), MaxMessage - 1},
	} {
		t.Run(name, func(t *testing.T) {
			got := Bound(c.in)
			if len(got) != c.want || !utf8.ValidString(got) {
				t.Errorf("Bound: %d bytes (valid UTF-8 %v), want %d", len(got), utf8.ValidString(got), c.want)
			}
			if len(c.in) > MaxMessage && !strings.HasSuffix(got, "...") {
				t.Errorf("a cut message does not say so: %q", got[len(got)-8:])
			}
		})
	}
}

func TestSetConditionBoundsAndStampsTheGeneration(t *testing.T) {
	c := &SurveyCampaign{}
	c.Generation = 7
	c.SetCondition(ConditionReady, metav1.ConditionFalse, ReasonInvalidSpec, strings.Repeat("x", 5000))
	got := meta.FindStatusCondition(c.Status.Conditions, ConditionReady)
	if got == nil || len(got.Message) != MaxMessage || got.ObservedGeneration != 7 || got.Reason != ReasonInvalidSpec {
		t.Fatalf("condition = %+v", got)
	}
	f := &FollowUp{}
	f.Generation = 3
	f.SetCondition(ConditionSLABreached, metav1.ConditionTrue, ReasonCasesOverdue, "2 cases are overdue.")
	if got := meta.FindStatusCondition(f.Status.Conditions, ConditionSLABreached); got == nil || got.ObservedGeneration != 3 {
		t.Fatalf("condition = %+v", got)
	}
}
