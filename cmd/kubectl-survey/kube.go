package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
)

// kube connects to the cluster kubectl's flags name.
type kube struct {
	flags *genericclioptions.ConfigFlags
}

// client is a client for the cluster, and the namespace the command acts in.
func (k *kube) client() (client.Client, string, error) {
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	namespace, _, err := k.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return c, namespace, err
}

// campaign reads a campaign by name.
func (k *kube) campaign(ctx context.Context, name string) (client.Client, *v1alpha1.SurveyCampaign, error) {
	c, namespace, err := k.client()
	if err != nil {
		return nil, nil, err
	}
	var sc v1alpha1.SurveyCampaign
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &sc); err != nil {
		return nil, nil, err
	}
	return c, &sc, nil
}

// load refuses an output format the command does not print, then reads the campaign named.
func (k *kube) load(cmd *cobra.Command, name, format string, formats ...string) (client.Client, *v1alpha1.SurveyCampaign, error) {
	if err := checkFormat(format, formats...); err != nil {
		return nil, nil, err
	}
	return k.campaign(cmd.Context(), name)
}

// printStructured prints v as JSON or YAML; false for another format.
func printStructured(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(data)
		return true, err
	}
	return false, nil
}

// table is rows under a header, printed aligned (table) or as CSV.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer, format string) error {
	if format == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(t.header); err != nil {
			return err
		}
		if err := cw.WriteAll(t.rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// checkFormat refuses an output format the command does not print.
func checkFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(allowed, ", "))
}

// orDash is "-" for an empty cell.
func orDash[T ~string](v T) string {
	if v == "" {
		return "-"
	}
	return string(v)
}
