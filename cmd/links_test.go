// The binaries link what they use and nothing else: the manager and the sender speak the
// response service's API through internal/responseapi and never link its store's drivers.
package cmd_test

import (
	"os/exec"
	"strings"
	"testing"
)

// goTool is the go command on the PATH (make test exports the pinned GOTOOLCHAIN, which it
// switches to).
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command to list the binaries' packages:", err)
	}
	return p
}

func TestClientsLinkNoDatabase(t *testing.T) {
	forbidden := []string{
		"modernc.org/sqlite", "modernc.org/libc", "github.com/jackc/pgx", "github.com/pressly/goose",
		"github.com/surveyops/survey-operator/internal/store", "github.com/surveyops/survey-operator/internal/collector",
	}
	for _, cmd := range []string{"./sender", "./manager"} {
		out, err := exec.Command(goTool(t), "list", "-deps", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %q", cmd, deps)
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s links %s", cmd, d)
				}
			}
		}
	}
	// The check can fail: the collector does link them.
	out, err := exec.Command(goTool(t), "list", "-deps", "./collector").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "modernc.org/sqlite\n") {
		t.Errorf("the collector links no SQLite? %v", err)
	}
}
