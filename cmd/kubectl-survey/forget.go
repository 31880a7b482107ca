package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

func newForgetCommand(k *kube) *cobra.Command {
	var direct, service, output string
	cmd := &cobra.Command{
		Use:   "forget ID [-n NAMESPACE]",
		Short: "Erase every record of one person in a namespace, on their request",
		Long: `forget erases everything the response service holds about one person in the namespace, the
person named by their id in the audience file (the idField column, such as a tenancy
reference): their invitations and reminders in every campaign and wave, their responses and
answers (comments included), and their follow-up cases. Every wave's figures are corrected
as if they had never been invited. If they had opted out, or an address of theirs bounced,
that is kept under a one-way hash of the id, so that a later list naming them again still
leaves them out.

The erasure log records that an erasure happened in the namespace, and when: not whom, not
what. forget prints the log entry's id and what was deleted; keep them with the request. When
nothing at all is found under the id (a mistyped id, or a person erased before), forget says
so and exits with status 1; the request is in the erasure log all the same.

Answers to anonymous surveys are stored with no link to anyone, so there is nothing of theirs
to find; and a wave's report in the cluster holds figures, never a person. Remove the person
from the audience file too, or the next wave invites them again (unless they opted out).

It uses the eraser credential the operator keeps in each campaign's export Secret
(<campaign>-export): whoever may read that namespace's Secrets may erase, nobody else.

` + reachingTheService,
		Example: `  kubectl survey forget T-10442 -n riverside-homes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "table", "json", "yaml"); err != nil {
				return err
			}
			c, namespace, err := k.client()
			if err != nil {
				return err
			}
			secret, err := eraserSecret(cmd.Context(), c, namespace)
			if err != nil {
				return err
			}
			svc, err := k.responseService(direct, service, string(secret.Data[campaign.ExportSecretURL]))
			if err != nil {
				return err
			}
			body, _ := json.Marshal(responseapi.ErasureRequest{ID: args[0]})
			resp, err := svc.call(cmd.Context(), http.MethodPost, responseapi.RouteErase.Path(namespace), nil,
				secret.Data[campaign.ExportSecretEraseToken], body, "the erasure")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var got responseapi.Erasure
			if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&got); err != nil {
				return fmt.Errorf("the erasure was made, but its answer could not be read: %w", err)
			}
			found := got.Invitations+got.Responses+got.Answers+got.Cases+got.OptOuts+got.Suppressions+got.Events+got.Decisions > 0
			if ok, err := printStructured(cmd.OutOrStdout(), output, got); ok || !found {
				if err == nil && !found {
					err = fmt.Errorf("nothing found for %s in namespace %s: no invitation, response, follow-up case, touch-point event, opt-out or bounce has that id. "+
						"Check it against the id column of the audience file (a person erased before has nothing left to find). "+
						"The request is in the erasure log all the same: entry %s, %s",
						args[0], namespace, got.ID, got.ErasedAt.Format("2006-01-02 15:04:05 MST"))
				}
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), `Erased %s's data in %s: %d invitations, %d responses (%d answers), %d follow-up cases, %d touch-point events.
Kept under a hash, so still honoured: %d opt-out, %d bounce suppressions.
Erasure log entry %s, %s.
`, args[0], namespace, got.Invitations, got.Responses, got.Answers, got.Cases, got.Events, got.OptOuts, got.Suppressions,
				got.ID, got.ErasedAt.Format("2006-01-02 15:04:05 MST"))
			return err
		},
	}
	serviceFlags(cmd, &direct, &service)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// eraserSecret is the export Secret of one of the namespace's campaigns (the first by name that
// has one): every one holds the same eraser credential, for the namespace.
func eraserSecret(ctx context.Context, c client.Client, namespace string) (*corev1.Secret, error) {
	var campaigns v1alpha1.SurveyCampaignList
	if err := c.List(ctx, &campaigns, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	slices.SortFunc(campaigns.Items, func(a, b v1alpha1.SurveyCampaign) int { return strings.Compare(a.Name, b.Name) })
	for _, sc := range campaigns.Items {
		var secret corev1.Secret
		err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: campaign.ExportSecretName(sc.Name)}, &secret)
		if err == nil && len(secret.Data[campaign.ExportSecretEraseToken]) > 0 {
			return &secret, nil
		}
	}
	return nil, fmt.Errorf("no campaign in namespace %s has an export Secret with an eraser credential yet (the operator writes one when a campaign's first wave starts)", namespace)
}
