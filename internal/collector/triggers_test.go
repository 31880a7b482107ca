package collector

import (
	"fmt"
	"testing"

	"github.com/surveyops/survey-operator/internal/store"
)

// The cache of compiled rules is bounded, however many distinct expressions arrive.
func TestCompiledRulesAreBounded(t *testing.T) {
	s := &Server{}
	for i := range maxCompiled + 10 {
		if _, err := s.trigger(store.FollowUpRule{When: fmt.Sprintf("response.answers.tp01 <= %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.compiled.m); n == 0 || n > maxCompiled {
		t.Errorf("%d compiled rules held, want 1 to %d", n, maxCompiled)
	}
	again, err := s.trigger(store.FollowUpRule{When: "response.answers.tp01 <= 3"})
	if err != nil || again == nil {
		t.Errorf("a rule compiled again: %v", err)
	}
}
