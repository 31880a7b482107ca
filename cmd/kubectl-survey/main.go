// Command kubectl-survey is a kubectl plugin for survey-operator: installed on the PATH it runs
// as `kubectl survey`. Its first subcommand, plan, sizes a survey before it is declared.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "kubectl survey",
		Short:         "Plan and inspect satisfaction surveys run by survey-operator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newPlanCommand())
	return root
}
