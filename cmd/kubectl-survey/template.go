package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surveyops/survey-operator/config/samples"
)

// templates name the sample campaigns `kubectl survey template` prints.
var templates = map[string]string{
	"tsm":   "surveys_v1alpha1_surveycampaign_tsm.yaml",
	"nps":   "surveys_v1alpha1_surveycampaign_repairs_nps.yaml",
	"pulse": "surveys_v1alpha1_surveycampaign_staff_pulse.yaml",
}

var metadataNamespace = regexp.MustCompile(`(?m)^  namespace: .*$`)

func newTemplateCommand() *cobra.Command {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range templates {
			if !yield(n) {
				return
			}
		}
	})
	return &cobra.Command{
		Use:   "template " + strings.Join(names, "|"),
		Short: "Print a valid, commented campaign to start from",
		Long: `template prints a campaign to edit and apply:

  tsm    a quarterly tenant satisfaction survey: the twelve perception questions of the tenant
         satisfaction measures (TP01-TP12), each tenure group reached the way that suits it,
         general-needs tenants sampled, with targets and benchmarks
  nps    a transactional survey after each repair: Net Promoter Score, satisfaction and effort,
         every weekday evening
  pulse  a monthly staff pulse: staff as internal customers, by directorate

The campaign is in the namespace -n names (riverside-homes without it). It names Secrets (the
audience file, the SMTP credentials, the gateways' keys) that must exist in that namespace.`,
		Example: `  kubectl survey template tsm -n riverside-homes > tenant-satisfaction.yaml
  kubectl survey template nps | kubectl apply -f -`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, ok := templates[args[0]]
			if !ok {
				return fmt.Errorf("no template %q: use one of %s", args[0], strings.Join(names, ", "))
			}
			data, err := samples.Files.ReadFile(file)
			if err != nil {
				return err
			}
			text := string(data)
			if ns, _ := cmd.Flags().GetString("namespace"); ns != "" {
				text = metadataNamespace.ReplaceAllLiteralString(text, "  namespace: "+ns)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
}
