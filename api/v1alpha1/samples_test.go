package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	surveysv1alpha1 "github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/testenv"
)

func sampleFiles() []string {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "surveys_*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	return files
}

func readObject(path string) *unstructured.Unstructured {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	obj := &unstructured.Unstructured{}
	Expect(yaml.UnmarshalStrict(data, &obj.Object)).To(Succeed(), path)
	return obj
}

// expectSubset fails unless every field of want is in got with the same value: the apiserver
// pruned nothing and changed nothing, it only added defaults.
func expectSubset(path string, want, got any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		Expect(ok).To(BeTrue(), "%s: want an object, stored %#v", path, got)
		for k, v := range w {
			Expect(g).To(HaveKey(k), "%s.%s was dropped", path, k)
			expectSubset(path+"."+k, v, g[k])
		}
	case []any:
		g, ok := got.([]any)
		Expect(ok).To(BeTrue(), "%s: want a list, stored %#v", path, got)
		Expect(g).To(HaveLen(len(w)), path)
		for i := range w {
			expectSubset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	default:
		Expect(got).To(BeEquivalentTo(want), path)
	}
}

var _ = Describe("The samples", Ordered, func() {
	BeforeAll(func() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "riverside-homes"}}
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, ns))).To(Succeed())
	})

	It("are accepted by the apiserver with strict field validation and stored without loss", func() {
		for _, file := range sampleFiles() {
			obj := readObject(file)
			sent := obj.DeepCopy()
			Expect(k8sClient.Create(ctx, obj, client.FieldValidation("Strict"))).To(Succeed(), file)

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(obj.GroupVersionKind())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), stored)).To(Succeed())
			expectSubset(filepath.Base(file)+": spec", sent.Object["spec"], stored.Object["spec"])
		}
	})

	It("decode into the Go types without unknown fields", func() {
		for _, file := range sampleFiles() {
			data, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			var obj any = &surveysv1alpha1.SurveyCampaign{}
			if strings.Contains(string(data), "kind: FollowUp") {
				obj = &surveysv1alpha1.FollowUp{}
			}
			Expect(yaml.UnmarshalStrict(data, obj)).To(Succeed(), file)
		}
	})

	It("get the schema defaults, which round-trip through the Go types", func() {
		sc := &surveysv1alpha1.SurveyCampaign{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "riverside-homes", Name: "repairs-nps"}, sc)).To(Succeed())
		Expect(sc.Spec.HistoryLimit).To(HaveValue(BeEquivalentTo(8)))
		Expect(sc.Spec.Confidence).To(BeEquivalentTo("95"))
		email := sc.Spec.Channels[1].Email
		Expect(email.SMTP.Port).To(BeEquivalentTo(587))
		Expect(email.SMTP.TLS).To(Equal(surveysv1alpha1.SMTPStartTLS))
		Expect(sc.Spec.Channels[0].Webhook.ContactField).To(Equal(surveysv1alpha1.ContactPhone))

		// Writing back what was read changes nothing: the defaults are stable.
		before := sc.ResourceVersion
		Expect(k8sClient.Update(ctx, sc)).To(Succeed())
		Expect(sc.ResourceVersion).To(Equal(before))

		tsm := &surveysv1alpha1.SurveyCampaign{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "riverside-homes", Name: "tenant-satisfaction"}, tsm)).To(Succeed())
		Expect(tsm.Spec.Survey.Questions).To(HaveLen(16))
		Expect(tsm.Spec.Survey.Questions[2].ShowIf).To(Equal(`answers.repair == "Yes"`))
		Expect(tsm.Spec.Survey.Questions[1].Choices).To(Equal([]string{"Yes", "No"}))
		Expect(tsm.Spec.Survey.Language).To(Equal("en"))
		Expect(tsm.Spec.Survey.Translations).To(HaveLen(1))
		Expect(tsm.Spec.Survey.Translations[0].Language).To(Equal("cy"))
		Expect(tsm.Spec.Survey.Translations[0].Questions).To(HaveLen(16))
		Expect(tsm.Spec.Survey.PrimaryQuestionID()).To(Equal("tp01"))
		Expect(tsm.Spec.Audience.Source.Format).To(Equal(surveysv1alpha1.AudienceCSV))
	})

	It("fill the defaults of a minimal campaign", func() {
		obj := minimalCampaign("defaults")
		Expect(unstructured.SetNestedField(obj.Object, "@quarterly", "spec", "schedule", "cron")).To(Succeed())
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		sc := &surveysv1alpha1.SurveyCampaign{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), sc)).To(Succeed())
		Expect(sc.Spec.Schedule.TimeZone).To(Equal("UTC"))
		Expect(sc.Spec.Schedule.ResponseWindow).To(BeEquivalentTo("336h"))
		Expect(sc.Spec.Audience.Source.IDField).To(Equal("id"))
		Expect(sc.Spec.Audience.Source.Format).To(Equal(surveysv1alpha1.AudienceCSV))
		Expect(sc.Spec.HistoryLimit).To(HaveValue(BeEquivalentTo(8)))
		Expect(sc.Spec.Suspend).To(BeFalse())
	})

	It("show up in kubectl get by category and short name, with the printer columns", func() {
		out, err := kubectl("get", "surveys", "-n", "riverside-homes")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("surveycampaign.surveys.surveyops.io/tenant-satisfaction"))
		Expect(out).To(ContainSubstring("followup.surveys.surveyops.io/repairs-detractors"))
		Expect(out).To(MatchRegexp(`NAME\s+SCHEDULE\s+NEXT WAVE\s+RESPONSE RATE\s+SCORE\s+READY\s+AGE`))
		Expect(out).To(MatchRegexp(`NAME\s+CAMPAIGN\s+TRIGGER\s+MATCHED\s+CONTACTED\s+OVERDUE\s+READY\s+AGE`))
		Expect(out).To(ContainSubstring("0 10 1 1,4,7,10 *"))

		out, err = kubectl("get", "camp,fu", "-n", "riverside-homes", "-o", "name")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(out)).To(HaveLen(len(sampleFiles())))
	})

	It("are explained field by field by kubectl explain", func() {
		out, err := kubectl("explain", "surveycampaigns.spec.schedule.quietHours")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("daily period"))
		out, err = kubectl("explain", "followups.spec.sla.contactWithin")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("contacted"))
	})

	It("include the README's first campaign, which the apiserver accepts", func() {
		readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
		Expect(err).NotTo(HaveOccurred())
		_, rest, found := strings.Cut(string(readme), "```yaml\n")
		Expect(found).To(BeTrue(), "README.md has no yaml block")
		doc, _, found := strings.Cut(rest, "```")
		Expect(found).To(BeTrue())
		obj := &unstructured.Unstructured{}
		Expect(yaml.UnmarshalStrict([]byte(doc), &obj.Object)).To(Succeed())
		obj.SetNamespace("default")
		Expect(k8sClient.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))).To(Succeed())
	})

	AfterAll(func() {
		for _, file := range sampleFiles() {
			obj := readObject(file)
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed())
		}
		err := k8sClient.Delete(ctx, minimalCampaign("defaults"))
		Expect(err == nil || apierrors.IsNotFound(err)).To(BeTrue())
	})
})

// kubectl runs the kubectl built for envtest against the test apiserver.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command(testenv.Kubectl(env), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// minimalCampaign is the smallest valid SurveyCampaign, in the default namespace.
func minimalCampaign(name string) *unstructured.Unstructured {
	const doc = `
apiVersion: surveys.surveyops.io/v1alpha1
kind: SurveyCampaign
metadata:
  name: NAME
  namespace: default
spec:
  survey:
    title: Resident survey
    questions:
      - {id: overall, kind: CSAT, text: "How satisfied or dissatisfied are you with our service?"}
  audience:
    source:
      secretRef: {name: residents, key: residents.csv}
      contact: {email: email, phone: mobile}
    segments:
      - {name: everyone, channels: [email]}
  channels:
    - name: email
      email:
        smtp: {host: smtp.example.org}
        from: listening@example.org
    - name: sms
      webhook:
        url: https://sms.example.org/send
`
	obj := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(strings.Replace(doc, "NAME", name, 1)), &obj.Object)).To(Succeed())
	return obj
}

// minimalFollowUp is the smallest valid FollowUp, in the default namespace.
func minimalFollowUp(name string) *unstructured.Unstructured {
	const doc = `
apiVersion: surveys.surveyops.io/v1alpha1
kind: FollowUp
metadata:
  name: NAME
  namespace: default
spec:
  campaignRef: {name: resident-survey}
  trigger:
    type: Response
    when: response.answers.overall <= 2
  channels: [email]
  message:
    body: "We are sorry. Tell us when it is sorted: {{ .Link }}"
  sla: {contactWithin: 48h, resolveWithin: 240h}
`
	obj := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(strings.Replace(doc, "NAME", name, 1)), &obj.Object)).To(Succeed())
	return obj
}

// toJSON is for failure messages.
func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
