package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
)

func newWavesCommand(k *kube) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "waves CAMPAIGN",
		Short: "List a campaign's waves: phase, invitations, responses, rate and primary score",
		Example: `  kubectl survey waves tenant-satisfaction -n riverside-homes
  kubectl survey waves tenant-satisfaction -o csv > waves.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, sc, err := k.load(cmd, args[0], output, "table", "json", "yaml", "csv")
			if err != nil {
				return err
			}
			return printWaves(cmd.OutOrStdout(), output, sc)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json, yaml or csv")
	return cmd
}

func printWaves(w io.Writer, format string, sc *v1alpha1.SurveyCampaign) error {
	if done, err := printStructured(w, format, sc.Status.Waves); done {
		return err
	}
	primary := question(sc, sc.Spec.Survey.PrimaryQuestionID())
	if format == "csv" {
		return printWavesCSV(w, sc, primary)
	}
	t := &table{header: []string{"WAVE", "PHASE", "SCHEDULED", "INVITED", "RESPONDED", "RATE", "SCORE", "CLOSES"}}
	for _, wv := range sc.Status.Waves {
		closes := "-"
		if wv.CloseTime != nil {
			closes = wv.CloseTime.UTC().Format(time.RFC3339)
		}
		rate := "-"
		if wv.ResponseRate != "" {
			rate = string(wv.ResponseRate) + "%"
		}
		t.add(wv.ID, string(wv.Phase), wv.ScheduledTime.UTC().Format(time.RFC3339), strconv.FormatInt(wv.Invited, 10),
			strconv.FormatInt(wv.Responded, 10), rate, orDash(campaign.ScoreLabel(primary, wv.Scores)), closes)
	}
	return t.print(w, format)
}

// question is the campaign's question with that ID, or nil.
func question(sc *v1alpha1.SurveyCampaign, id string) *v1alpha1.Question {
	for i := range sc.Spec.Survey.Questions {
		if sc.Spec.Survey.Questions[i].ID == id {
			return &sc.Spec.Survey.Questions[i]
		}
	}
	return nil
}

func newResultsCommand(k *kube) *cobra.Command {
	var output, wave string
	cmd := &cobra.Command{
		Use:   "results CAMPAIGN [--wave ID]",
		Short: "A wave's results at a glance: each score with its margin, n and change since the last wave, and each segment",
		Long: `results prints a wave's results (the latest wave with responses unless --wave names one),
from the wave's report when it can read it (a ConfigMap that keeps every wave's detail) and
from the campaign's status otherwise: every scored question's score (weighted by segment) with its
margin of error, the number of answers, and the change since the previous wave, marked
▲ or ▼ when it is significant and = when it is within the noise; then each segment's population,
invitations, responses, response rate and primary score, whether the responses represent
the segments fairly, and each Choice question's shares.

-o json and -o yaml print the wave's figures as the report or the status holds them (with its
channels, drivers, targets and benchmarks) and the Choice questions' shares ("choices").

-o csv prints one figure a row, one value a column, for a spreadsheet to filter, under one
header: wave, kind, question, segment, choice, value, margin_of_error, n, effective_n,
unweighted, mean, count, invited, population, change, previous_wave, trend. Kind "responses"
is the response rate (value, in percent) and n responded, of the wave (segment "(overall)")
and of each segment; kind "score" is each scored question's score, of the wave and of each
segment that has one (value empty when too few answered), with its margin of error, and, on
the wave's rows, the change since the previous wave and its trend (Above, Below,
NotSignificant, Unknown); kind "choice" is each option of a Choice question: value its share in
percent of the n who answered, count those who chose it. Numbers are plain: no plus sign, no
%, no thousands separator.`,
		Example: `  kubectl survey results tenant-satisfaction -n riverside-homes
  kubectl survey results tenant-satisfaction --wave 20261001-1000 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, sc, err := k.load(cmd, args[0], output, "table", "json", "yaml", "csv")
			if err != nil {
				return err
			}
			wv, err := pickWave(sc, wave)
			if err != nil {
				return err
			}
			var choices []campaign.ChoiceShares
			if report, ok := readReport(cmd.Context(), c, sc, wv.ID); ok {
				wv, choices = &report.Wave, report.Choices
			}
			return printResults(cmd.OutOrStdout(), output, sc, wv, choices)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json, yaml or csv (one figure a row)")
	cmd.Flags().StringVar(&wave, "wave", "", "the wave's ID (default: the latest wave with responses)")
	return cmd
}

// readReport is a wave's full results from its report ConfigMap (campaign.Report), which keeps
// what the status trims from older waves; false when there is none or it cannot be read (the
// status is then what there is).
func readReport(ctx context.Context, c client.Client, sc *v1alpha1.SurveyCampaign, wave string) (*campaign.Report, bool) {
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: sc.Namespace, Name: campaign.ReportName(sc.Name, wave)}, &cm); err != nil ||
		cm.Labels[campaign.LabelCampaignUID] != string(sc.UID) {
		return nil, false
	}
	var r campaign.Report
	if err := json.Unmarshal([]byte(cm.Data[campaign.ReportKey]), &r); err != nil || r.Wave.ID != wave {
		return nil, false
	}
	return &r, true
}

// pickWave is the wave with that ID, or the latest with responses.
func pickWave(sc *v1alpha1.SurveyCampaign, id string) (*v1alpha1.WaveStatus, error) {
	for i := range sc.Status.Waves {
		wv := &sc.Status.Waves[i]
		if (id == "" && wv.Responded > 0) || (id != "" && wv.ID == id) {
			return wv, nil
		}
	}
	if id != "" {
		return nil, fmt.Errorf("campaign %s/%s has no wave %q in its status (kubectl survey waves %s lists them)", sc.Namespace, sc.Name, id, sc.Name)
	}
	return nil, fmt.Errorf("campaign %s/%s has no wave with responses yet", sc.Namespace, sc.Name)
}

func printResults(w io.Writer, format string, sc *v1alpha1.SurveyCampaign, wv *v1alpha1.WaveStatus, choices []campaign.ChoiceShares) error {
	if done, err := printStructured(w, format, resultsOutput{WaveStatus: *wv, Choices: choices}); done {
		return err
	}
	if format == "csv" {
		return printResultsCSV(w, wv, choices)
	}
	scores := &table{header: []string{"QUESTION", "SCORE", "N", "CHANGE", "SINCE"}}
	for _, s := range wv.Scores {
		change, since := "-", "-"
		for _, tr := range wv.Trend {
			if tr.Question == s.Question {
				change, since = signed(tr.Change)+" "+trendMark(tr.Verdict), tr.PreviousWave
			}
		}
		scores.add(s.Question, orDash(campaign.ScoreLabel(question(sc, s.Question), []v1alpha1.QuestionScore{s})),
			strconv.FormatInt(s.N, 10), change, since)
	}
	fmt.Fprintf(w, "Campaign %s/%s, wave %s (%s): %d of %d responded", sc.Namespace, sc.Name, wv.ID, wv.Phase, wv.Responded, wv.Invited)
	if wv.ResponseRate != "" {
		fmt.Fprintf(w, " (%s%%)", wv.ResponseRate)
	}
	fmt.Fprintln(w, ".")
	if r := wv.Representativeness; r != nil {
		verdict := "the responses represent the segments (chi-square p = " + string(r.PValue) + ")"
		if !r.Representative {
			verdict = "the responses do NOT represent the segments fairly (chi-square p = " + string(r.PValue) + "): read the weighted scores"
		}
		fmt.Fprintln(w, "Representativeness: "+verdict+".")
	}
	fmt.Fprintln(w)
	if err := scores.print(w, format); err != nil {
		return err
	}
	if err := printChoices(w, format, choices); err != nil {
		return err
	}
	if len(wv.Segments) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	primary := question(sc, sc.Spec.Survey.PrimaryQuestionID())
	segments := &table{header: []string{"SEGMENT", "POPULATION", "INVITED", "RESPONDED", "RATE", "SCORE"}}
	for _, b := range wv.Segments {
		score := ""
		if b.Score != nil {
			score = campaign.ScoreLabel(primary, []v1alpha1.QuestionScore{*b.Score})
		}
		population := "-"
		if b.Population > 0 {
			population = strconv.FormatInt(b.Population, 10)
		}
		rate := "-"
		if b.ResponseRate != "" {
			rate = string(b.ResponseRate) + "%"
		}
		segments.add(b.Name, population, strconv.FormatInt(b.Invited, 10), strconv.FormatInt(b.Responded, 10), rate, orDash(score))
	}
	return segments.print(w, format)
}

// printChoices prints the Choice questions' answers from the report: each option's count and
// its share of those who answered (a multiple choice's shares add up to more than 100%).
func printChoices(w io.Writer, format string, choices []campaign.ChoiceShares) error {
	if len(choices) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := &table{header: []string{"QUESTION", "CHOICE", "CHOSE", "SHARE"}}
	for _, c := range choices {
		name := c.Question + " (n=" + strconv.FormatInt(c.N, 10) + ")"
		if c.Multiple {
			name = c.Question + " (n=" + strconv.FormatInt(c.N, 10) + ", several each)"
		}
		for i, o := range c.Options {
			if i > 0 {
				name = ""
			}
			t.add(name, o.Choice, strconv.FormatInt(o.Count, 10), string(o.Share)+"%")
		}
	}
	return t.print(w, format)
}

// signed writes a positive change with its sign: "+12.0".
func signed(change v1alpha1.Decimal) string {
	if v, err := strconv.ParseFloat(string(change), 64); err == nil && v > 0 {
		return "+" + string(change)
	}
	return string(change)
}

// trendMark marks a change: ▲ or ▼ when significant, = when within the noise.
func trendMark(v v1alpha1.Verdict) string {
	switch v {
	case v1alpha1.VerdictAbove:
		return "▲"
	case v1alpha1.VerdictBelow:
		return "▼"
	}
	return "="
}

// errSuspendedMeanwhile stops send-now's wait: the campaign was suspended before its wave started.
var errSuspendedMeanwhile = errors.New("suspended")

func newSendNowCommand(k *kube) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "send-now CAMPAIGN",
		Short: "Start a wave now, outside the schedule, and print its ID once it has started",
		Long: `send-now asks the operator for a wave now: it sets the campaign's ` + v1alpha1.AnnotationRequestedAt + `
annotation to the current time, then waits for the wave to appear in the campaign's status and
prints its ID. A suspended campaign starts no wave: send-now refuses it at once, and asks for
nothing (resume it first, then ask again).`,
		Example: `  kubectl survey send-now repairs-nps -n riverside-homes
  kubectl survey send-now repairs-nps --timeout 5m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, namespace, err := k.client()
			if err != nil {
				return err
			}
			value := time.Now().UTC().Format(time.RFC3339)
			sc := &v1alpha1.SurveyCampaign{}
			// The request is written only on the campaign as read, not suspended: a suspend
			// written in between makes the patch conflict, and the campaign is read again.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: namespace, Name: args[0]}, sc); err != nil {
					return err
				}
				if sc.Spec.Suspend {
					return fmt.Errorf("campaign %s/%s is suspended, and a suspended campaign starts no wave: nothing was asked for. "+
						"Resume it first (kubectl survey resume %s -n %s), then ask again", sc.Namespace, sc.Name, sc.Name, sc.Namespace)
				}
				patch := client.MergeFromWithOptions(sc.DeepCopy(), client.MergeFromWithOptimisticLock{})
				if sc.Annotations == nil {
					sc.Annotations = map[string]string{}
				}
				sc.Annotations[v1alpha1.AnnotationRequestedAt] = value
				return c.Patch(cmd.Context(), sc, patch)
			})
			if err != nil {
				return err
			}
			id := campaign.RequestedWaveID(value)
			fmt.Fprintf(cmd.ErrOrStderr(), "Requested wave %s of %s/%s; waiting for it to start...\n", id, sc.Namespace, sc.Name)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(sc), sc); err != nil {
					return false, nil //nolint:nilerr // a failed read is tried again until the timeout
				}
				for _, wv := range sc.Status.Waves {
					if wv.ID == id {
						return true, nil
					}
				}
				if sc.Spec.Suspend {
					return false, errSuspendedMeanwhile
				}
				return false, nil
			})
			if errors.Is(err, errSuspendedMeanwhile) {
				return fmt.Errorf("campaign %s/%s was suspended before wave %s started, and a suspended campaign starts no wave: "+
					"resume it, then ask again (kubectl describe surveycampaign -n %s %s says more)", sc.Namespace, sc.Name, id, sc.Namespace, sc.Name)
			}
			if err != nil {
				return fmt.Errorf("wave %s did not start within %s; kubectl describe surveycampaign -n %s %s says why", id, timeout, sc.Namespace, sc.Name)
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the wave to start")
	return cmd
}

func newSuspendCommand(k *kube, suspend bool) *cobra.Command {
	use, short, example := "suspend", "Suspend a campaign: no new wave or reminder starts until it is resumed", "  kubectl survey suspend tenant-satisfaction -n riverside-homes"
	if !suspend {
		use, short, example = "resume", "Resume a suspended campaign", "  kubectl survey resume tenant-satisfaction -n riverside-homes"
	}
	return &cobra.Command{
		Use:     use + " CAMPAIGN",
		Short:   short,
		Long:    short + ". It sets spec.suspend; with GitOps, change it in the repository instead, or the next sync undoes it.",
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, sc, err := k.campaign(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			patch := client.MergeFrom(sc.DeepCopy())
			sc.Spec.Suspend = suspend
			if err := c.Patch(cmd.Context(), sc, patch); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "surveycampaign.surveys.surveyops.io/%s %sed\n", sc.Name, map[bool]string{true: "suspend", false: "resum"}[suspend])
			return nil
		},
	}
}

// printWavesCSV prints the waves for spreadsheets: one value a column (the primary question's
// score, its margin and its n apart), numbers without units.
func printWavesCSV(w io.Writer, sc *v1alpha1.SurveyCampaign, primary *v1alpha1.Question) error {
	out := csv.NewWriter(w)
	_ = out.Write([]string{"wave", "phase", "scheduled", "closes", "invited", "responded", "response_rate", "question", "score", "margin_of_error", "n"})
	for _, wv := range sc.Status.Waves {
		closes := ""
		if wv.CloseTime != nil {
			closes = wv.CloseTime.UTC().Format(time.RFC3339)
		}
		var q, value, margin, n string
		if primary != nil {
			q = primary.ID
			for _, s := range wv.Scores {
				if s.Question == primary.ID {
					value, margin, n = string(s.Value), string(s.MarginOfError), strconv.FormatInt(s.N, 10)
				}
			}
		}
		_ = out.Write([]string{wv.ID, string(wv.Phase), wv.ScheduledTime.UTC().Format(time.RFC3339), closes,
			strconv.FormatInt(wv.Invited, 10), strconv.FormatInt(wv.Responded, 10), string(wv.ResponseRate), q, value, margin, n})
	}
	out.Flush()
	return out.Error()
}
