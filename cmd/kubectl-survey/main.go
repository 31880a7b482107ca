// Command kubectl-survey is a kubectl plugin for survey-operator: installed on the PATH it runs
// as `kubectl survey`. It sizes a survey before it is declared (plan), prints a campaign to start
// from (template), and reads and drives campaigns in a cluster (waves, results, export,
// send-now, suspend, resume, forget) with kubectl's own connection flags (-n, --context, --kubeconfig, ...).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "survey",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl survey"},
		Short:         "Plan, start and read satisfaction surveys run by survey-operator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.AddFlags(root.PersistentFlags())
	k := &kube{flags: flags}
	root.AddCommand(newPlanCommand(), newTemplateCommand(), newWavesCommand(k), newResultsCommand(k),
		newSendNowCommand(k), newSuspendCommand(k, true), newSuspendCommand(k, false), newExportCommand(k), newForgetCommand(k))
	return root
}
