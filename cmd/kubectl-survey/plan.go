package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surveyops/survey-operator/internal/scoring"
)

type planOptions struct {
	population   int
	margin       float64
	confidence   float64
	responseRate float64
	invitations  int
	output       string
}

// Plan is what `kubectl survey plan` reports; -o json prints it as is.
type Plan struct {
	Population           int     `json:"population"`
	MarginOfError        float64 `json:"marginOfError"`
	Confidence           float64 `json:"confidence"`
	ResponsesNeeded      int     `json:"responsesNeeded"`
	ExpectedResponseRate float64 `json:"expectedResponseRate"`
	InvitationsNeeded    int     `json:"invitationsNeeded"`
	Reachable            bool    `json:"reachable"`
	Current              Current `json:"currentPlan"`
}

// Current is what inviting a given number of people would give at the expected response rate.
type Current struct {
	Invitations       int     `json:"invitations"`
	ExpectedResponses int     `json:"expectedResponses"`
	MarginOfError     float64 `json:"marginOfError"`
	MeetsTarget       bool    `json:"meetsTarget"`
}

func newPlanCommand() *cobra.Command {
	o := planOptions{}
	cmd := &cobra.Command{
		Use:   "plan --population N --margin PERCENT",
		Short: "How many responses and invitations a survey needs for a margin of error",
		Long: `plan sizes a survey: the responses needed for a margin of error at a confidence level
(worst case, a 50% proportion, with the finite population correction), the invitations needed at
the response rate you expect, and the margin that inviting --invitations people (everyone, by
default) would give.

The tenant satisfaction measures ask landlords for ±5% under 2,500 homes, ±4% from 2,500 to 9,999
and ±3% from 10,000, at 95% confidence.`,
		Example: `  kubectl survey plan --population 7271 --margin 4
  kubectl survey plan --population 25000 --margin 3 --expected-response-rate 20 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plan, err := o.plan()
			if err != nil {
				return err
			}
			return o.print(cmd.OutOrStdout(), plan)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.population, "population", 0, "how many people the survey is about (homes, tenants, customers)")
	f.Float64Var(&o.margin, "margin", 0, "margin of error wanted, in percentage points (4 means ±4%)")
	f.Float64Var(&o.confidence, "confidence", 95, "confidence level, in percent")
	f.Float64Var(&o.responseRate, "expected-response-rate", 30, "share of those invited expected to answer, in percent")
	f.IntVar(&o.invitations, "invitations", 0, "invitations in the current plan (default: the whole population)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("population")
	_ = cmd.MarkFlagRequired("margin")
	return cmd
}

func (o planOptions) validate() error {
	switch {
	case o.population <= 0:
		return fmt.Errorf("--population must be a whole number of people above 0, not %d", o.population)
	case !(o.margin > 0 && o.margin <= 50):
		return fmt.Errorf("--margin is in percentage points and must be above 0 and at most 50, not %v", o.margin)
	case !(o.confidence >= 50 && o.confidence < 100):
		return fmt.Errorf("--confidence is a percentage from 50 to below 100 (such as 95), not %v", o.confidence)
	case !(o.responseRate > 0 && o.responseRate <= 100):
		return fmt.Errorf("--expected-response-rate is a percentage above 0 and at most 100, not %v", o.responseRate)
	case o.invitations < 0 || o.invitations > o.population:
		return fmt.Errorf("--invitations must be between 1 and the population (%d), not %d", o.population, o.invitations)
	case o.output != "text" && o.output != "json":
		return fmt.Errorf("unknown output format %q: use text or json", o.output)
	}
	return nil
}

func (o planOptions) plan() (Plan, error) {
	if err := o.validate(); err != nil {
		return Plan{}, err
	}
	conf := o.confidence / 100
	rate := o.responseRate / 100
	needed := scoring.SampleSize(o.population, o.margin/100, conf)
	invitations := int(math.Ceil(float64(needed)/rate - 1e-9))
	p := Plan{
		Population:           o.population,
		MarginOfError:        o.margin,
		Confidence:           o.confidence,
		ResponsesNeeded:      needed,
		ExpectedResponseRate: o.responseRate,
		InvitationsNeeded:    min(invitations, o.population),
		Reachable:            invitations <= o.population,
	}
	current := o.invitations
	if current == 0 {
		current = o.population
	}
	expected := int(math.Floor(float64(current)*rate + 1e-9))
	moe := 100 * scoring.MarginOfError(0.5, expected, o.population, conf)
	p.Current = Current{
		Invitations:       current,
		ExpectedResponses: expected,
		MarginOfError:     round1(moe),
		MeetsTarget:       expected >= needed,
	}
	return p, nil
}

func round1(x float64) float64 {
	if math.IsNaN(x) {
		return x
	}
	return math.Round(x*10) / 10
}

func (o planOptions) print(w io.Writer, p Plan) error {
	if o.output == "json" {
		if math.IsNaN(p.Current.MarginOfError) {
			p.Current.MarginOfError = 100 // no responses: no precision at all
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Population:               %s\n", thousands(p.Population))
	fmt.Fprintf(&b, "Target:                   ±%s points at %s%% confidence\n", trim(p.MarginOfError), trim(p.Confidence))
	fmt.Fprintf(&b, "Responses needed:         %s\n", thousands(p.ResponsesNeeded))
	if p.Reachable {
		fmt.Fprintf(&b, "Invitations needed:       %s at a %s%% response rate\n", thousands(p.InvitationsNeeded), trim(p.ExpectedResponseRate))
	} else {
		fmt.Fprintf(&b, "Invitations needed:       more than everyone: at a %s%% response rate even a census falls short\n", trim(p.ExpectedResponseRate))
	}
	current := "no responses expected"
	if p.Current.ExpectedResponses > 0 {
		current = fmt.Sprintf("±%s points", trim(p.Current.MarginOfError))
	}
	verdict := "meets the target"
	if !p.Current.MeetsTarget {
		verdict = "misses the target"
	}
	fmt.Fprintf(&b, "Current plan:             inviting %s gives about %s responses, %s (%s)\n",
		thousands(p.Current.Invitations), thousands(p.Current.ExpectedResponses), current, verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

func trim(x float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
