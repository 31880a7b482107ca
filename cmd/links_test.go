// The binaries link what they use and nothing else: the manager, the sender and the kubectl
// plugin speak the response service's API through internal/responseapi and never link its
// store's drivers; the plugin links no reconciler either.
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
	// The kubectl plugin is a client of the API server and of the response service: it links
	// neither the store nor the reconcilers.
	plugin := append(forbidden, "github.com/surveyops/survey-operator/controllers", "sigs.k8s.io/controller-runtime/pkg/manager")
	for _, cmd := range []string{"./sender", "./manager", "./kubectl-survey"} {
		out, err := exec.Command(goTool(t), "list", "-deps", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %q", cmd, deps)
		}
		none := forbidden
		if cmd == "./kubectl-survey" {
			none = plugin
		}
		for _, d := range deps {
			for _, f := range none {
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
