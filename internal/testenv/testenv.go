// Package testenv starts a real kube-apiserver and etcd (controller-runtime's envtest) with the
// project's CRDs installed, for the Ginkgo suites of the API and the controllers.
//
// The binaries come from KUBEBUILDER_ASSETS, which `make test` sets. When it is unset (plain
// `go test`), hack/envtest-assets.sh is run to find them, building them once per machine.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the root of the repository, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir is the directory holding kube-apiserver, etcd and kubectl.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	script := filepath.Join(RepoRoot(), "hack", "envtest-assets.sh")
	out, err := exec.Command(script).Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("KUBEBUILDER_ASSETS is unset and %s failed: %w\n%s", script, err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// Start starts the control plane with the CRDs of config/crd/bases installed.
func Start() (*envtest.Environment, *rest.Config, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // a failure after the control plane started (a CRD refused) must not leak it
		return nil, nil, fmt.Errorf("starting envtest with binaries from %s: %w", dir, err)
	}
	return env, cfg, nil
}

// Kubectl is the kubectl binary next to the control plane's binaries.
func Kubectl(env *envtest.Environment) string {
	return filepath.Join(env.BinaryAssetsDirectory, "kubectl")
}
