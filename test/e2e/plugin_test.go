//go:build e2e

package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/demo"
)

// surveyOut runs the kubectl plugin and returns what it printed, and its failure with what it
// said on stderr.
func surveyOut(args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"run", "../../cmd/kubectl-survey"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &pluginError{err: err, stderr: errb.String()}
	}
	return out.String(), nil
}

type pluginError struct {
	err    error
	stderr string
}

func (e *pluginError) Error() string { return e.err.Error() + ": " + e.stderr }

var _ = Describe("kubectl survey, as the README runs it", func() {
	It("lists the waves, reads the results, exports and forgets without --url, and refuses what it cannot do", func() {
		p := newProgramme("plugin", 10, nil)
		p.start()
		Eventually(p.mails).Should(HaveLen(10))
		mails := p.mustMails()
		links := demo.SurveyLinks(mails)
		var acked, failed atomic.Int32
		Expect(answerAll(p, links[:6], func(i int) int { return 2 + i%4 }, 0, &acked, &failed)).To(Succeed())
		Eventually(func() int64 { return p.wave().Responded }).Should(BeEquivalentTo(6))
		name, ns, wave := p.campaign.Name, p.ns, p.wave().ID

		By("kubectl survey waves")
		Expect(survey("waves", name, "-n", ns)).To(ContainSubstring(wave))

		By("kubectl survey results, as a table, JSON and CSV")
		Expect(survey("results", name, "-n", ns)).To(ContainSubstring("6 of 10 responded"))
		var structured map[string]any
		Expect(json.Unmarshal([]byte(survey("results", name, "-n", ns, "-o", "json")), &structured)).To(Succeed())
		Expect(structured).To(HaveKeyWithValue("id", wave))
		Expect(structured).To(HaveKeyWithValue("responded", BeEquivalentTo(6)))
		records, err := csv.NewReader(strings.NewReader(survey("results", name, "-n", ns, "-o", "csv"))).ReadAll()
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Join(records[0], ",")).To(HavePrefix("wave,kind,question,segment,choice,value,margin_of_error,n,"))
		column := map[string]int{}
		for i, h := range records[0] {
			column[h] = i
		}
		overall := func(r []string) string {
			return strings.Join([]string{r[column["wave"]], r[column["kind"]], r[column["segment"]], r[column["n"]], r[column["invited"]]}, " ")
		}
		Expect(records[1:]).To(ContainElement(WithTransform(overall, Equal(wave+" responses (overall) 6 10"))),
			"the wave's response row: one value a column")

		By("kubectl survey export with no --url: through the API server's service proxy")
		records, err = csv.NewReader(strings.NewReader(survey("export", name, "-n", ns))).ReadAll()
		Expect(err).NotTo(HaveOccurred())
		Expect(records).To(HaveLen(1+6), "a header and one row per respondent")

		By("kubectl survey forget of an id nobody has: it says so, and fails")
		out, err := surveyOut("forget", "NOSUCH-ID", "-n", ns)
		Expect(err).To(MatchError(ContainSubstring("nothing found for NOSUCH-ID in namespace " + ns)))
		Expect(err).To(MatchError(ContainSubstring("erasure log all the same")))
		Expect(out).To(BeEmpty())

		By("kubectl survey forget of a tenant who answered: their response leaves the export")
		to, _ := recipients(mails)
		id, _, _ := strings.Cut(strings.TrimPrefix(to[links[0]], "tenant."), "@")
		Expect(survey("forget", id, "-n", ns)).To(MatchRegexp(`Erased %s's data in %s: \d+ invitations, 1 responses`, id, ns))
		records, err = csv.NewReader(strings.NewReader(survey("export", name, "-n", ns))).ReadAll()
		Expect(err).NotTo(HaveOccurred())
		Expect(records).To(HaveLen(1 + 5))

		By("kubectl survey send-now on a suspended campaign: refused at once, nothing asked for")
		survey("suspend", name, "-n", ns)
		start := time.Now()
		_, err = surveyOut("send-now", name, "-n", ns, "--timeout", "60s")
		Expect(err).To(MatchError(ContainSubstring("is suspended")))
		Expect(time.Since(start)).To(BeNumerically("<", 30*time.Second), "refused at once, not after the timeout")
		Expect(p.get().Annotations).NotTo(HaveKey(v1alpha1.AnnotationRequestedAt))
		survey("resume", name, "-n", ns)
		Consistently(func() int { return len(p.get().Status.Waves) }, "5s").Should(Equal(1), "no wave fired on resume")
	})
})

// readmeCommands are the plugin commands of the README's "Start from a template, and read the
// results" section's first block, as a reader would type them: the words after "$ kubectl survey", without the
// comment and the redirection.
func readmeCommands() [][]string {
	GinkgoHelper()
	data, err := os.ReadFile("../../README.md")
	Expect(err).NotTo(HaveOccurred())
	_, section, ok := strings.Cut(string(data), "## Start from a template, and read the results")
	Expect(ok).To(BeTrue(), "the README's section is gone")
	section, _, _ = strings.Cut(section, "\n## ")
	// The section's first block: the later one shows --url through a port-forward, another way.
	_, block, _ := strings.Cut(section, "```")
	block, _, _ = strings.Cut(block, "```")
	var out [][]string
	for _, line := range strings.Split(block, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "$ kubectl survey ")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, "#")
		rest, _, _ = strings.Cut(rest, ">")
		out = append(out, strings.Fields(rest))
	}
	Expect(len(out)).To(BeNumerically(">=", 7), "the README's plugin commands")
	return out
}

var _ = Describe("The README's plugin commands", func() {
	It("work as written, on a campaign of the cluster", func() {
		p := newProgramme("readme", 5, nil)
		p.start()
		Eventually(p.mails).Should(HaveLen(5))
		var acked, failed atomic.Int32
		Expect(answerAll(p, demo.SurveyLinks(p.mustMails())[:2], func(int) int { return 4 }, 0, &acked, &failed)).To(Succeed())
		Eventually(func() int64 { return p.wave().Responded }).Should(BeEquivalentTo(2))
		for _, words := range readmeCommands() {
			// The README's campaign and namespace are the demo's; here, this programme's.
			args := make([]string, len(words))
			for i, w := range words {
				switch w {
				case "tenant-satisfaction":
					w = p.campaign.Name
				case "riverside-homes":
					w = p.ns
				}
				args[i] = w
			}
			By("kubectl survey " + strings.Join(args, " "))
			out, err := surveyOut(args...)
			if args[0] == "forget" {
				// The README's tenant is the demo's: nobody here has that id, which forget says,
				// failing, as it should.
				Expect(err).To(MatchError(ContainSubstring("nothing found for " + args[1])))
				continue
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(out).NotTo(BeEmpty())
		}
	})
})
