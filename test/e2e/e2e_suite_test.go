//go:build e2e

// Package e2e runs the operator end to end on a real cluster: the local one that hack/cluster
// builds (make test-e2e brings it up and deploys config/demo), or any cluster of the current
// kubeconfig where the operator is deployed the same way and whose Service IPs this machine
// reaches. Each spec works in a namespace of its own with a mail sink; on failure the suite
// prints the Events, the conditions and the logs that explain it.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

const system = "survey-operator-system"

var (
	ctx      = context.Background()
	k8s      client.Client
	kubectl  = "kubectl"
	apiToken string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(3 * time.Minute)
	SetDefaultEventuallyPollingInterval(time.Second)
	RunSpecs(t, "end to end")
}

var _ = BeforeSuite(func() {
	if k := os.Getenv("KUBECTL"); k != "" {
		kubectl = k
	}
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	cfg, err := ctrl.GetConfig()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for _, d := range []string{"survey-operator-controller-manager", "survey-operator-collector"} {
		run("-n", system, "rollout", "status", "deployment/"+d, "--timeout", "180s")
	}
	var s corev1.Secret
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: system, Name: "survey-api-token"}, &s)).To(Succeed())
	apiToken = strings.TrimSpace(string(s.Data["token"]))
})

// The time each spec took, printed after the suite, so that a slow CI run says which spec
// it spent its minutes on.
var _ = ReportAfterSuite("spec times", func(r Report) {
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			fmt.Fprintf(os.Stdout, "%6.1fs  %s\n", s.RunTime.Seconds(), s.LeafNodeText)
		}
	}
})

// kubectlOut runs kubectl and returns its output and error (stderr in the error).
func kubectlOut(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// survey runs the kubectl plugin (kubectl survey) against the cluster, as kubectl runs it.
func survey(args ...string) string {
	GinkgoHelper()
	cmd := exec.Command("go", append([]string{"run", "../../cmd/kubectl-survey"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	Expect(cmd.Run()).To(Succeed(), "kubectl survey %s: %s", strings.Join(args, " "), errb.String())
	return out.String()
}

func run(args ...string) string {
	out, err := kubectlOut("", args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return out
}

// dump prints what explains a failure in namespace ns: Events, the campaigns' and follow-ups'
// conditions, the Jobs, and the logs of the manager, the collector and the sending pods.
func dump(ns string) {
	section := func(title string, args ...string) {
		out, err := kubectlOut("", args...)
		if err != nil {
			out += err.Error()
		}
		GinkgoWriter.Printf("\n----- %s\n%s", title, out)
	}
	section("events in "+ns, "-n", ns, "get", "events", "--sort-by=.lastTimestamp")
	section("events in "+system, "-n", system, "get", "events", "--sort-by=.lastTimestamp")
	section("campaigns and follow-ups", "-n", ns, "get", "surveycampaigns,followups", "-o", "yaml")
	section("jobs and pods", "-n", ns, "get", "jobs,pods", "-o", "wide")
	section("manager log", "-n", system, "logs", "deployment/survey-operator-controller-manager", "--tail", "80")
	section("collector log", "-n", system, "logs", "deployment/survey-operator-collector", "--tail", "40")
	section("sending pods' logs", "-n", ns, "logs", "-l", "surveys.surveyops.io/campaign-uid", "--tail", "20", "--prefix")
}
