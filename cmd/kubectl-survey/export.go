package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

func newExportCommand(k *kube) *cobra.Command {
	var output, wave, direct, service string
	cmd := &cobra.Command{
		Use:   "export CAMPAIGN [--wave ID] [-o csv|jsonl]",
		Short: "Export a wave's responses, one row per respondent under a pseudonym",
		Long: `export writes a wave's responses to standard output (the latest wave with responses unless
--wave names one), one row per respondent: a pseudonym that is the same in every export of the
campaign and is never the person's key or address, the segment, the channel, complete or
partial, the times, and each answer (a scale's point, a choice's text, N/A, the comments).
For an anonymous survey there is no row per respondent: the written answers only, one per
row (question, comment), in random order.

It uses the credential the operator keeps in the campaign's export Secret
(<campaign>-export), so whoever may read that namespace's Secrets may export its responses,
and nobody else.

` + reachingTheService,
		Example: `  kubectl survey export tenant-satisfaction -n riverside-homes > responses.csv
  kubectl survey export tenant-satisfaction --wave 20261001-1000 -o jsonl | jq .answers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, sc, err := k.load(cmd, args[0], output, "csv", "jsonl")
			if err != nil {
				return err
			}
			wv, err := pickWave(sc, wave)
			if err != nil {
				return err
			}
			var secret corev1.Secret
			name := campaign.ExportSecretName(sc.Name)
			if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: sc.Namespace, Name: name}, &secret); err != nil {
				return fmt.Errorf("reading the export credential (Secret %s/%s): %w", sc.Namespace, name, err)
			}
			svc, err := k.responseService(direct, service, string(secret.Data[campaign.ExportSecretURL]))
			if err != nil {
				return err
			}
			resp, err := svc.call(cmd.Context(), http.MethodGet, responseapi.RouteExport.Path(string(sc.UID), wv.ID), url.Values{"format": {output}},
				secret.Data[campaign.ExportSecretToken], nil, "the export")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), resp.Body); err != nil {
				return errors.Join(errors.New("the export was cut off; what was written is incomplete"), err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "csv", "output format: csv or jsonl")
	cmd.Flags().StringVar(&wave, "wave", "", "the wave's ID (default: the latest wave with responses)")
	serviceFlags(cmd, &direct, &service)
	return cmd
}
