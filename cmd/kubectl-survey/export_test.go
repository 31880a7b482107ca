package main

import (
	"context"
	"encoding/csv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

const masterToken = "the-manager-api-token-0123456789"

// export reads the credential in the campaign's export Secret and streams the wave from the
// response service: for a person who may read the namespace's Secrets, and nobody else.
func TestExportThroughTheSecret(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	ctx := context.Background()

	// The response service, with the closed wave's responses.
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, _ := token.NewKeyRing(token.Key{ID: "k", Secret: make([]byte, 32)})
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte(masterToken)})
	if err != nil {
		t.Fatal(err)
	}
	service := httptest.NewServer(srv.Handler())
	defer service.Close()
	wave := "20261103-1800"
	if err := st.PutWave(ctx, store.Wave{CampaignUID: string(sc.UID), WaveID: wave, Namespace: ns, Campaign: sc.Name,
		Definition:      campaign.Definition(&sc.Spec.Survey).JSON(),
		PrimaryQuestion: "recommend", OpensAt: time.Date(2026, 11, 3, 18, 0, 0, 0, time.UTC), ClosesAt: time.Date(2026, 11, 10, 18, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for i, who := range []string{"J-1", "J-2", "J-3"} {
		v := 10 - i
		if _, err := st.SaveResponse(ctx, store.Response{CampaignUID: string(sc.UID), WaveID: wave, RecipientKey: who, Namespace: ns,
			Segment: "routine", Channel: "sms", Complete: true, Answers: []store.Answer{{Question: "recommend", Value: &v},
				{Question: "better", Text: "Turn up when you say you will."}}}, time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}

	// The operator's export Secret in the campaign's namespace.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: campaign.ExportSecretName(sc.Name), Namespace: ns},
		Data: map[string][]byte{
			campaign.ExportSecretToken: []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, ns)),
			campaign.ExportSecretURL:   []byte(service.URL),
		}}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}

	out, err := kubectlSurvey(t, "export", sc.Name, "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(records) != 4 || records[0][0] != "respondent" {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if records[1][7] != "10" || records[1][11] != "Turn up when you say you will." || strings.Contains(out, "J-1") {
		t.Errorf("the first row: %q", records[1])
	}
	if out, err := kubectlSurvey(t, "export", sc.Name, "-n", ns, "-o", "jsonl"); err != nil || strings.Count(out, "\n") != 3 {
		t.Errorf("export -o jsonl: %v\n%s", err, out)
	}

	// A credential for another namespace, put in this one's Secret, is refused by the service.
	secret.Data[campaign.ExportSecretToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, "lakeside"))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlSurvey(t, "export", sc.Name, "-n", ns); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("export with another namespace's credential: %v, want a refusal", err)
	}
	secret.Data[campaign.ExportSecretToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, ns))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}

	// Who may export is who may read the namespace's Secrets: a person who may read campaigns
	// but not Secrets is refused by the API server; given Secrets, they may.
	viewer := kubeconfigFor(t, "pat")
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "survey-viewer", Namespace: ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"surveys.surveyops.io"}, Resources: []string{"surveycampaigns"}, Verbs: []string{"get", "list"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pat", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "pat"}}}
	if err := c.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlSurveyAs(t, viewer, "results", sc.Name, "-n", ns); err != nil || !strings.Contains(out, "recommend") {
		t.Fatalf("pat cannot read the campaign's results: %v", err)
	}
	if _, err := kubectlSurveyAs(t, viewer, "export", sc.Name, "-n", ns); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("pat, who may not read Secrets, exported: %v", err)
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	if err := c.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlSurveyAs(t, viewer, "export", sc.Name, "-n", ns); err != nil || strings.Count(out, "\n") != 4 {
		t.Errorf("pat, who may read Secrets, cannot export: %v", err)
	}

	// forget erases one respondent with the eraser credential kept beside the exporter's: the
	// export loses them, and the namespace's erasure log has the entry printed.
	if _, err := kubectlSurveyAs(t, viewer, "forget", "J-2", "-n", ns); err == nil || !strings.Contains(err.Error(), "eraser credential") {
		t.Errorf("forget without an eraser credential: %v, want a refusal", err)
	}
	secret.Data[campaign.ExportSecretEraseToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Eraser, ns))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	out, err = kubectlSurveyAs(t, viewer, "forget", "J-2", "-n", ns)
	if err != nil || !strings.Contains(out, "Erased J-2's data in "+ns+": 0 invitations, 1 responses (2 answers), 0 follow-up cases.") {
		t.Fatalf("forget: %v\n%s", err, out)
	}
	log, err := st.Erasures(ctx, ns)
	if err != nil || len(log) != 1 || !strings.Contains(out, "Erasure log entry "+log[0].ID) {
		t.Errorf("erasure log %+v, %v; forget printed\n%s", log, err, out)
	}
	if out, err := kubectlSurvey(t, "export", sc.Name, "-n", ns); err != nil || strings.Count(out, "\n") != 3 {
		t.Errorf("the export after forget: %v\n%s", err, out)
	}
	if _, err := kubectlSurvey(t, "forget", "J-2", "-n", newNamespace(t, c)); err == nil || !strings.Contains(err.Error(), "no campaign in namespace") {
		t.Errorf("forget in a namespace without campaigns: %v", err)
	}
}

// kubeconfigFor is a kubeconfig of the test cluster for a user with no group but
// system:authenticated.
func kubeconfigFor(t *testing.T, user string) string {
	t.Helper()
	apiserver(t)
	u, err := cluster.env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
