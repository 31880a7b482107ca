package jobfile_test

import (
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/jobfile"
)

func TestTermination(t *testing.T) {
	sum, ok := jobfile.Termination("log line\n" + `{"audience":3,"invited":0,"sent":0,"failed":{},"skipped":{},"error":"the audience is invalid, nothing was sent: line 3: duplicate id","durationSeconds":0}` + "\n")
	if !ok || !strings.Contains(sum.Error, "line 3") {
		t.Errorf("Termination = %+v, %v", sum, ok)
	}
	if _, ok := jobfile.Termination("panic: something"); ok {
		t.Error("a panic read as a summary")
	}
}
