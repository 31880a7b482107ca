package v1alpha1_test

import (
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/surveyops/survey-operator/internal/testenv"
)

// What `make deploy` applies is checked by the apiserver itself: every object of
// config/default, built with the kustomize inside kubectl, passes a server-side dry run with
// strict field validation (an unknown field or a wrong type in a manifest fails here, not on a
// user's cluster).
var _ = Describe("config/default", func() {
	It("is accepted by the apiserver in a server-side dry run", func() {
		built, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
		Expect(err).NotTo(HaveOccurred(), built)
		Expect(built).To(ContainSubstring("kind: Deployment"))
		// The namespace must exist for a dry run of what goes in it.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "survey-operator-system"}}
		Expect(k8sClient.Create(ctx, ns)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, ns) })

		cmd := exec.Command(testenv.Kubectl(env), "--kubeconfig", kubeconfig, "apply", "--dry-run=server",
			"--validate=strict", "-f", "-")
		cmd.Stdin = strings.NewReader(built)
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("deployment.apps/survey-operator-controller-manager created (server dry run)"))
		Expect(string(out)).To(ContainSubstring("clusterrole.rbac.authorization.k8s.io/survey-operator-manager-role created (server dry run)"))
	})
})
