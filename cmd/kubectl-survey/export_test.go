package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

const masterToken = "the-manager-api-token-0123456789"

// export reads the credential in the campaign's export Secret and streams the wave from the
// response service, through the API server's service proxy (no --url, no port-forward): for a
// person who may read the namespace's Secrets and use that proxy, and nobody else. forget
// erases one person the same way, and says so when it finds nobody.
func TestExportThroughTheSecret(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	ctx := context.Background()

	// The response service, with the closed wave's responses, behind the API server.
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
	direct := responseServiceInCluster(t, srv.Handler())
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

	// The operator's export Secret in the campaign's namespace, with the survey page's public
	// address, as the manager writes it (it does not serve this machine).
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: campaign.ExportSecretName(sc.Name), Namespace: ns},
		Data: map[string][]byte{
			campaign.ExportSecretToken: []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, ns)),
			campaign.ExportSecretURL:   []byte("http://localhost:8080"),
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
	// --url still calls an address directly (a port-forward's), and says what to check when
	// nothing answers there.
	if out, err := kubectlSurvey(t, "export", sc.Name, "-n", ns, "--url", direct); err != nil || strings.Count(out, "\n") != 4 {
		t.Errorf("export --url: %v\n%s", err, out)
	}
	if _, err := kubectlSurvey(t, "export", sc.Name, "-n", ns, "--url", "http://127.0.0.1:1"); err == nil ||
		!strings.Contains(err.Error(), "port-forward") {
		t.Errorf("export --url to nothing: %v, want a hint about the port-forward", err)
	}

	// A credential for another namespace, put in this one's Secret, is refused by the service.
	secret.Data[campaign.ExportSecretToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, "lakeside"))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlSurvey(t, "export", sc.Name, "-n", ns); err == nil || !strings.Contains(err.Error(), "the response service refused the export: 403") {
		t.Errorf("export with another namespace's credential: %v, want the service's refusal", err)
	}
	secret.Data[campaign.ExportSecretToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Exporter, ns))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}

	// Who may export is who may read the namespace's Secrets and reach the response service
	// through the API server: a person who may read campaigns but not Secrets is refused by the
	// API server; given Secrets, they are told the services/proxy permission they lack (or to
	// port-forward); given that, they may.
	viewer := kubeconfigFor(t, "pat")
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "survey-viewer", Namespace: ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"surveys.surveyops.io"}, Resources: []string{"surveycampaigns"}, Verbs: []string{"get", "list"}}}}
	grant(t, c, role, "pat")
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
	_, err = kubectlSurveyAs(t, viewer, "export", sc.Name, "-n", ns)
	for _, want := range []string{"could not reach the response service (Service survey-operator-system/survey-operator-collector:http)",
		`"get" on services/proxy in namespace survey-operator-system, resource name survey-operator-collector:http`,
		"kubectl port-forward -n survey-operator-system svc/survey-operator-collector 8080:http", "--url http://localhost:8080"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pat, who may not use the service proxy: %v, want %q", err, want)
		}
	}
	proxy := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "survey-export-" + ns, Namespace: "survey-operator-system"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services/proxy"}, ResourceNames: []string{"survey-operator-collector:http"}, Verbs: []string{"get"}}}}
	grant(t, c, proxy, "pat")
	if out, err := kubectlSurveyAs(t, viewer, "export", sc.Name, "-n", ns); err != nil || strings.Count(out, "\n") != 4 {
		t.Errorf("pat, who may read Secrets and use the service proxy, cannot export: %v", err)
	}

	// forget erases one respondent with the eraser credential kept beside the exporter's: the
	// export loses them, and the namespace's erasure log has the entry printed. It posts, so
	// it needs create on the service proxy where export needs get.
	if _, err := kubectlSurveyAs(t, viewer, "forget", "J-2", "-n", ns); err == nil || !strings.Contains(err.Error(), "eraser credential") {
		t.Errorf("forget without an eraser credential: %v, want a refusal", err)
	}
	secret.Data[campaign.ExportSecretEraseToken] = []byte(apitoken.Credential([]byte(masterToken), apitoken.Eraser, ns))
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlSurveyAs(t, viewer, "forget", "J-2", "-n", ns); err == nil || !strings.Contains(err.Error(), `"create" on services/proxy`) {
		t.Errorf("forget without create on the service proxy: %v, want the permission named", err)
	}
	proxy.Rules[0].Verbs = append(proxy.Rules[0].Verbs, "create")
	if err := c.Update(ctx, proxy); err != nil {
		t.Fatal(err)
	}
	out, err = kubectlSurveyAs(t, viewer, "forget", "J-2", "-n", ns)
	if err != nil || !strings.Contains(out, "Erased J-2's data in "+ns+": 0 invitations, 1 responses (2 answers), 0 follow-up cases, 0 touch-point events.") {
		t.Fatalf("forget: %v\n%s", err, out)
	}
	log, err := st.Erasures(ctx, ns)
	if err != nil || len(log) != 1 || !strings.Contains(out, "Erasure log entry "+log[0].ID) {
		t.Errorf("erasure log %+v, %v; forget printed\n%s", log, err, out)
	}
	if out, err := kubectlSurvey(t, "export", sc.Name, "-n", ns); err != nil || strings.Count(out, "\n") != 3 {
		t.Errorf("the export after forget: %v\n%s", err, out)
	}

	// An id that nobody has (mistyped, or erased already) is no success: forget says that it
	// found nothing and fails, and the request is in the erasure log all the same.
	for name, tc := range map[string]struct {
		args   []string
		stdout func(string) bool
	}{
		"table": {[]string{"forget", "NOSUCH-ID", "-n", ns}, func(out string) bool { return out == "" }},
		"json": {[]string{"forget", "J-2", "-n", ns, "-o", "json"}, func(out string) bool {
			var e responseapi.Erasure
			return json.Unmarshal([]byte(out), &e) == nil && e.ID != "" && e.Responses == 0
		}},
	} {
		t.Run("nothing found, "+name, func(t *testing.T) {
			before, _ := st.Erasures(ctx, ns)
			out, err := kubectlSurvey(t, tc.args...)
			after, _ := st.Erasures(ctx, ns)
			if len(after) != len(before)+1 {
				t.Fatalf("the erasure log went from %d to %d entries, want one more", len(before), len(after))
			}
			entry := after[len(after)-1].ID
			if err == nil || !strings.Contains(err.Error(), "nothing found for "+tc.args[1]+" in namespace "+ns) ||
				!strings.Contains(err.Error(), "erasure log all the same: entry "+entry) {
				t.Errorf("forget %s: %v, want a failure saying nothing was found, and the log entry %s", tc.args[1], err, entry)
			}
			if strings.Contains(out, "Erased") || !tc.stdout(out) {
				t.Errorf("forget %s printed\n%s", tc.args[1], out)
			}
		})
	}
	if _, err := kubectlSurvey(t, "forget", "J-2", "-n", newNamespace(t, c)); err == nil || !strings.Contains(err.Error(), "no campaign in namespace") {
		t.Errorf("forget in a namespace without campaigns: %v", err)
	}
}

// When the API server cannot pass the request on, the error says what to do about it.
func TestExportWhenTheServiceCannotBeReached(t *testing.T) {
	c, _ := apiserver(t)
	ns := newNamespace(t, c)
	sc := campaignWithResults(t, c, ns)
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: campaign.ExportSecretName(sc.Name), Namespace: ns},
		Data: map[string][]byte{campaign.ExportSecretToken: []byte("x"), campaign.ExportSecretURL: []byte("https://surveys.example.org")}}); err != nil {
		t.Fatal(err)
	}
	operatorNamespace(t, c)
	idle := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "idle-" + ns, Namespace: "survey-operator-system"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
	if err := c.Create(ctx, idle); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		service string
		want    []string
	}{
		"no such Service": {"survey-operator-system/nothing-here", []string{
			"there is no Service survey-operator-system/nothing-here",
			"--service NAMESPACE/NAME[:PORT]", "kubectl port-forward -n survey-operator-system svc/nothing-here 8080:http"}},
		"no such Service, by port number": {"survey-operator-system/nothing-here:8080", []string{
			"could not reach the response service (Service survey-operator-system/nothing-here:8080)", "not found",
			"--service NAMESPACE/NAME[:PORT]", "kubectl port-forward -n survey-operator-system svc/nothing-here 8080:8080"}},
		"no ready pod": {"survey-operator-system/" + idle.Name + ":http", []string{
			"no endpoints available", "The Service has no ready pod",
			"kubectl get pods -n survey-operator-system -l app.kubernetes.io/component=collector"}},
		"not a Service": {"surveys", []string{"want NAMESPACE/NAME or NAMESPACE/NAME:PORT"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kubectlSurvey(t, "export", sc.Name, "-n", ns, "--service", tc.service)
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("export --service %s: %v, want %q", tc.service, err, want)
				}
			}
		})
	}
}

// The way to the response service: the Service the flags or the export Secret name, and the
// path of the API server's service proxy for a route.
func TestResponseServiceRoute(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig") // empty: the server is the flag's
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k := &kube{flags: genericclioptions.NewConfigFlags(false)}
	k.flags.KubeConfig, k.flags.APIServer = ptr.To(kubeconfig), ptr.To("https://k8s.example.org:6443/clusters/c-1")
	exportPath := responseapi.RouteExport.Path("0f8c", "20261103-1800")
	for name, tc := range map[string]struct {
		direct, service, secretURL string
		want                       string
		err                        string
	}{
		"the default Service, the Secret holding the public address": {secretURL: "https://surveys.example.org",
			want: "https://k8s.example.org:6443/clusters/c-1/api/v1/namespaces/survey-operator-system/services/survey-operator-collector:http/proxy/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"the Service the Secret's cluster address names": {secretURL: "http://collector.surveys.svc.cluster.local:8080",
			want: "https://k8s.example.org:6443/clusters/c-1/api/v1/namespaces/surveys/services/collector:8080/proxy/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"an https Service in the Secret": {secretURL: "https://collector.surveys.svc",
			want: "https://k8s.example.org:6443/clusters/c-1/api/v1/namespaces/surveys/services/https:collector:443/proxy/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"--service over the Secret": {service: "team-a/responses", secretURL: "http://collector.surveys.svc:8080",
			want: "https://k8s.example.org:6443/clusters/c-1/api/v1/namespaces/team-a/services/responses:http/proxy/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"--service with a port": {service: "team-a/responses:9000",
			want: "https://k8s.example.org:6443/clusters/c-1/api/v1/namespaces/team-a/services/responses:9000/proxy/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"--url over everything": {direct: "http://localhost:8080/", service: "team-a/responses", secretURL: "http://collector.surveys.svc:8080",
			want: "http://localhost:8080/api/v1/waves/0f8c/20261103-1800/export?format=csv"},
		"--service without a namespace": {service: "responses", err: "want NAMESPACE/NAME"},
		"--service with a path":         {service: "team-a/responses/x", err: "want NAMESPACE/NAME"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := k.responseService(tc.direct, tc.service, tc.secretURL)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.url(http.MethodGet, exportPath, url.Values{"format": {"csv"}}); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// grant binds role, made in its namespace, to a user.
func grant(t *testing.T, c client.Client, role *rbacv1.Role, user string) {
	t.Helper()
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name + "-" + user, Namespace: role.Namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
	for _, o := range []client.Object{role, binding} {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// operatorNamespace makes survey-operator-system, where config/default puts the response
// service, once.
func operatorNamespace(t *testing.T, c client.Client) {
	t.Helper()
	err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "survey-operator-system"}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// responseServiceInCluster serves h as the test cluster's response service, where
// config/default deploys it: behind the Service survey-operator-collector, port http, in
// survey-operator-system, so that the plugin reaches it through the API server's real service
// proxy. It answers h's address, for --url.
//
// The API server proxies only to an address that the Service's EndpointSlice gives for a Pod
// whose status has that address, and never to a loopback address; envtest runs no kubelet and
// no EndpointSlice controller. So h listens on an address of this machine that is not
// loopback, and the test writes the Pod (never run) and the EndpointSlice that a cluster would.
func responseServiceInCluster(t *testing.T, h http.Handler) string {
	t.Helper()
	c, _ := apiserver(t)
	ctx := context.Background()
	ip := hostAddress(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	serving := strconv.FormatInt(time.Now().UnixNano(), 36) // which test's service answers
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test-Service", serving)
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	port := int32(ln.Addr().(*net.TCPAddr).Port)

	const ns, name = "survey-operator-system", "survey-operator-collector"
	operatorNamespace(t, c)
	labels := map[string]string{"app.kubernetes.io/name": "survey-operator", "app.kubernetes.io/component": "collector"}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http")}}}}
	if err := c.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-0", Namespace: ns, Labels: labels}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "collector", Image: "survey-operator:test", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	if err := c.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase, pod.Status.PodIP, pod.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-test", Namespace: ns,
		Labels: map[string]string{discoveryv1.LabelServiceName: name}}}
	_, err = controllerutil.CreateOrUpdate(ctx, c, slice, func() error {
		slice.AddressType = discoveryv1.AddressTypeIPv4
		slice.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID}}}
		slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The API server follows EndpointSlices through an informer: wait until it proxies here.
	hc, err := rest.HTTPClientFor(cluster.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	healthz := strings.TrimSuffix(cluster.env.Config.Host, "/") + "/api/v1/namespaces/" + ns + "/services/" + name + ":http/proxy/healthz"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(healthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Test-Service") == serving {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not proxy to the test's response service at %s: %v", ln.Addr(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return srv.URL
}

// hostAddress is an IPv4 address of this machine that is not loopback (the API server does
// not proxy to loopback addresses).
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address but loopback, and the API server proxies to no loopback address: " +
		"the plugin's way through the service proxy cannot be tested here")
	return ""
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
