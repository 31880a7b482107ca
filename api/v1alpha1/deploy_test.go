package v1alpha1_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/internal/testenv"
)

// What `make deploy` applies, and its overlays, are checked by the apiserver itself: every
// object, built with the kustomize inside kubectl, passes a server-side dry run with strict
// field validation (an unknown field or a wrong type in a manifest fails here, not on a user's
// cluster). config/prometheus needs the Prometheus Operator's CRDs, which envtest does not
// have: its ServiceMonitors are decoded strictly into the operator's own Go types, and each
// must select a Service of config/default by a port that Service has.
var _ = Describe("The deployment manifests", func() {
	BeforeEach(func() {
		// The namespaces must exist for a dry run of what goes in them (and stay: envtest has
		// no namespace controller to finish deleting them).
		for _, name := range []string{"survey-operator-system", "riverside-homes"} {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, ns))).To(Succeed())
		}
	})

	DescribeTable("are accepted by the apiserver in a server-side dry run",
		func(dir string, want ...string) {
			built, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), dir))
			Expect(err).NotTo(HaveOccurred(), built)
			cmd := exec.Command(testenv.Kubectl(env), "--kubeconfig", kubeconfig, "apply", "--dry-run=server",
				"--validate=strict", "-f", "-")
			cmd.Stdin = strings.NewReader(built)
			out, err := cmd.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
			for _, w := range want {
				Expect(string(out)).To(ContainSubstring(w + " created (server dry run)"))
			}
		},
		Entry("config/default", "config/default",
			"deployment.apps/survey-operator-controller-manager",
			"clusterrole.rbac.authorization.k8s.io/survey-operator-manager-role",
			"deployment.apps/survey-operator-collector",
			"service/survey-operator-collector",
			"persistentvolumeclaim/survey-operator-collector-data",
			"networkpolicy.networking.k8s.io/survey-operator-collector"),
		Entry("config/postgres", "config/postgres", "deployment.apps/survey-operator-collector"),
		Entry("config/demo", "config/demo", "deployment.apps/survey-operator-controller-manager"),
		Entry("config/demo/riverside", "config/demo/riverside",
			"deployment.apps/mailsink", "surveycampaign.surveys.surveyops.io/tenant-satisfaction",
			"followup.surveys.surveyops.io/dissatisfied-tenants"),
	)

	It("give the sending Jobs the manager's own image, and the PostgreSQL overlay no volume claim", func() {
		built, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
		Expect(err).NotTo(HaveOccurred(), built)
		Expect(built).To(MatchRegexp(`name: SENDER_IMAGE\s+value: survey-operator:dev`))
		Expect(built).NotTo(ContainSubstring("controller:latest"))
		pg, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "postgres"))
		Expect(err).NotTo(HaveOccurred(), pg)
		Expect(pg).NotTo(ContainSubstring("kind: PersistentVolumeClaim"))
		Expect(pg).To(ContainSubstring("name: survey-collector-postgres"))
	})

	It("watch the manager's and the collector's Services by ports they have (config/prometheus)", func() {
		built, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "prometheus"))
		Expect(err).NotTo(HaveOccurred(), built)
		deployed, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
		Expect(err).NotTo(HaveOccurred(), deployed)
		var services []corev1.Service
		for _, doc := range strings.Split(deployed, "\n---\n") {
			if strings.Contains(doc, "\nkind: Service\n") {
				var svc corev1.Service
				Expect(yaml.Unmarshal([]byte(doc), &svc)).To(Succeed())
				services = append(services, svc)
			}
		}
		monitors := 0
		scraped := map[string]bool{} // the Services scraped: Prometheus names each one's job after it
		var rules []monitoringv1.PrometheusRule
		for _, doc := range strings.Split(built, "\n---\n") {
			if strings.Contains(doc, "\nkind: PrometheusRule\n") {
				var rule monitoringv1.PrometheusRule
				Expect(yaml.UnmarshalStrict([]byte(doc), &rule)).To(Succeed(), doc)
				rules = append(rules, rule)
				continue
			}
			var sm monitoringv1.ServiceMonitor
			// Strict: a field the Prometheus Operator does not know, or of the wrong type, fails.
			Expect(yaml.UnmarshalStrict([]byte(doc), &sm)).To(Succeed(), doc)
			Expect(sm.Kind).To(Equal(monitoringv1.ServiceMonitorsKind))
			monitors++
			var selected []corev1.Service
			for _, svc := range services {
				if svc.Namespace == sm.Namespace && labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
					selected = append(selected, svc)
				}
			}
			Expect(selected).To(HaveLen(1), "ServiceMonitor %s selects %d Services of config/default", sm.Name, len(selected))
			scraped[selected[0].Name] = true
			for _, ep := range sm.Spec.Endpoints {
				var ports []string
				for _, p := range selected[0].Spec.Ports {
					ports = append(ports, p.Name)
				}
				Expect(ports).To(ContainElement(ep.Port), "ServiceMonitor %s scrapes port %q of Service %s", sm.Name, ep.Port, selected[0].Name)
			}
		}
		Expect(monitors).To(Equal(2))
		// The alerts that watch a scrape job name one of the Services scraped.
		Expect(rules).To(HaveLen(1))
		jobs := regexp.MustCompile(`job="([^"]+)"`)
		for _, g := range rules[0].Spec.Groups {
			for _, r := range g.Rules {
				for _, m := range jobs.FindAllStringSubmatch(r.Expr.String(), -1) {
					Expect(scraped).To(HaveKey(m[1]), "alert %s watches job %q", r.Alert, m[1])
				}
			}
		}
	})

	It("ship the Grafana dashboard as a ConfigMap its sidecar picks up (config/grafana)", func() {
		built, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "grafana"))
		Expect(err).NotTo(HaveOccurred(), built)
		var cm corev1.ConfigMap
		Expect(yaml.UnmarshalStrict([]byte(built), &cm)).To(Succeed(), built)
		Expect(cm.Labels).To(HaveKeyWithValue("grafana_dashboard", "1"))
		var dashboard map[string]any
		Expect(json.Unmarshal([]byte(cm.Data["dashboard.json"]), &dashboard)).To(Succeed())
		Expect(dashboard).To(HaveKeyWithValue("uid", "survey-operator"))
	})

	It("keep the collector's metrics off its public Service, and admit them only from monitoring namespaces", func() {
		deployed, err := kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
		Expect(err).NotTo(HaveOccurred(), deployed)
		var public *corev1.Service
		var policy *networkingv1.NetworkPolicy
		for _, doc := range strings.Split(deployed, "\n---\n") {
			switch {
			case strings.Contains(doc, "\nkind: Service\n") && strings.Contains(doc, "name: survey-operator-collector\n"):
				public = &corev1.Service{}
				Expect(yaml.Unmarshal([]byte(doc), public)).To(Succeed())
			case strings.Contains(doc, "\nkind: NetworkPolicy\n") && strings.Contains(doc, "name: survey-operator-collector\n"):
				policy = &networkingv1.NetworkPolicy{}
				Expect(yaml.Unmarshal([]byte(doc), policy)).To(Succeed())
			}
		}
		Expect(public).NotTo(BeNil())
		Expect(public.Spec.Ports).To(HaveLen(1))
		Expect(public.Spec.Ports[0].Port).To(BeEquivalentTo(8080), "the public Service carries the survey port only")
		Expect(policy).NotTo(BeNil())
		metricsAdmitted := false
		for _, rule := range policy.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port.IntValue() != 9090 {
					continue
				}
				metricsAdmitted = true
				Expect(rule.From).NotTo(BeEmpty(), "the metrics port is open to every source")
				for _, peer := range rule.From {
					Expect(peer.NamespaceSelector).NotTo(BeNil())
					Expect(peer.NamespaceSelector.MatchLabels).To(HaveKeyWithValue("metrics", "enabled"))
				}
			}
		}
		Expect(metricsAdmitted).To(BeTrue(), "no rule admits the scrape of the metrics port")
	})
})
