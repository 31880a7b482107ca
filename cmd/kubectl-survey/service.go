package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// How export and forget reach the response service. The address in the export Secret is the
// survey page's public one, which need not serve the API to this machine (the demo's is
// http://localhost:8080), so by default the plugin goes through the Kubernetes API server's
// service proxy
// (/api/v1/namespaces/NS/services/NAME:PORT/proxy/...), with kubectl's own credentials and
// transport, as other plugins reach in-cluster services. The API server takes the
// Authorization header for itself and removes it before it passes the request on, so the
// response service's credential travels in responseapi.CredentialHeader instead. --url calls
// an address directly instead (a port-forward), with the credential in Authorization.

// defaultService is where config/default deploys the response service.
const defaultService = "survey-operator-system/survey-operator-collector:http"

// reachingTheService ends the help of the commands that call the response service.
const reachingTheService = `It reaches the response service through the Kubernetes API server's service proxy, with
your kubeconfig's credentials, so nothing needs to be exposed or port-forwarded: by default the
Service survey-operator-collector, port http, in survey-operator-system, where make deploy puts
it (--service NAMESPACE/NAME[:PORT] names another; so does the export Secret's address when it
is a cluster one, http://NAME.NAMESPACE.svc:PORT). Besides reading the Secret, that needs the
services/proxy permission in that namespace for resource name survey-operator-collector:http:
verb get for export, create for forget (docs/privacy.md has the Role). Or call the response
service at an address of your own with --url, for example through a port-forward:

  kubectl port-forward -n survey-operator-system svc/survey-operator-collector 8080:http &
  kubectl survey ... --url http://localhost:8080`

// serviceFlags adds --url and --service to a command that calls the response service.
func serviceFlags(cmd *cobra.Command, direct, service *string) {
	cmd.Flags().StringVar(direct, "url", "", "call the response service at this address (a port-forward's, say) instead of through the API server")
	cmd.Flags().StringVar(service, "service", "", "the response service's Service, NAMESPACE/NAME[:PORT], reached through the API server (default "+defaultService+")")
}

// serviceRef names a Service port: the scheme ("" or "http", or "https"), namespace, name and
// port (a name or a number) of the service proxy's path.
type serviceRef struct {
	Scheme, Namespace, Name, Port string
}

// parseServiceRef reads NAMESPACE/NAME[:PORT] (the port "http" when it is left out).
func parseServiceRef(s string) (serviceRef, error) {
	namespace, tail, ok := strings.Cut(s, "/")
	name, port, _ := strings.Cut(tail, ":")
	if port == "" {
		port = "http"
	}
	if !ok || namespace == "" || name == "" || strings.ContainsAny(name+port, "/:") {
		return serviceRef{}, fmt.Errorf("--service %q: want NAMESPACE/NAME or NAMESPACE/NAME:PORT, for example %s", s, defaultService)
	}
	return serviceRef{Namespace: namespace, Name: name, Port: port}, nil
}

// serviceFromURL is the Service an in-cluster address names (http://NAME.NAMESPACE.svc:PORT,
// as the manager's --collector-url, with or without .cluster.local); false for any other
// address, such as the survey page's public one.
func serviceFromURL(address string) (serviceRef, bool) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" {
		return serviceRef{}, false
	}
	host := strings.TrimSuffix(strings.TrimSuffix(u.Hostname(), "."), ".cluster.local")
	labels := strings.Split(host, ".")
	if len(labels) != 3 || labels[2] != "svc" || labels[0] == "" || labels[1] == "" {
		return serviceRef{}, false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ref := serviceRef{Namespace: labels[1], Name: labels[0], Port: port}
	if u.Scheme == "https" {
		ref.Scheme = "https"
	}
	return ref, true
}

// proxyName is the name of the services/proxy subresource the API server authorises:
// [SCHEME:]NAME:PORT, what a Role's resourceNames must hold.
func (r serviceRef) proxyName() string {
	if r.Scheme != "" {
		return r.Scheme + ":" + r.Name + ":" + r.Port
	}
	return r.Name + ":" + r.Port
}

func (r serviceRef) String() string { return r.Namespace + "/" + r.Name + ":" + r.Port }

// responseService is the way to the response service: direct (--url) or through the API
// server's service proxy to ref.
type responseService struct {
	direct string
	ref    serviceRef
	api    *rest.RESTClient
}

// responseService is how this command reaches the response service: directly at direct when
// it is set (--url); else through the API server to the Service named by service (--service),
// else to the one the export Secret's address names when it is a cluster address, else to
// defaultService.
func (k *kube) responseService(direct, service, secretURL string) (*responseService, error) {
	if direct != "" {
		return &responseService{direct: direct}, nil
	}
	ref, ok := serviceFromURL(secretURL)
	if service != "" || !ok {
		if service == "" {
			service = defaultService
		}
		var err error
		if ref, err = parseServiceRef(service); err != nil {
			return nil, err
		}
	}
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	api, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &responseService{ref: ref, api: api}, nil
}

// url is where a request for path (a route's) goes.
func (s *responseService) url(method, path string, query url.Values) string {
	if s.direct != "" {
		u := strings.TrimSuffix(s.direct, "/") + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		return u
	}
	r := s.api.Verb(method).Namespace(s.ref.Namespace).Resource("services").Name(s.ref.proxyName()).SubResource("proxy").Suffix(path)
	for k, vs := range query {
		for _, v := range vs {
			r.Param(k, v)
		}
	}
	return r.URL().String()
}

// call calls a route of the response service with a credential, and answers its response when
// it is 200; otherwise an error that says who refused what, and what to do about it.
func (s *responseService) call(ctx context.Context, method, path string, query url.Values, credential, body []byte, what string) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url(method, path, query), reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.DefaultClient
	if s.direct != "" {
		req.Header.Set("Authorization", "Bearer "+string(credential))
	} else {
		req.Header.Set(responseapi.CredentialHeader, string(credential))
		client = s.api.Client
	}
	resp, err := client.Do(req)
	if err != nil {
		if s.direct != "" {
			return nil, fmt.Errorf("the response service at %s: %w (is the port-forward running?)", s.direct, err)
		}
		return nil, fmt.Errorf("reaching the response service through the API server: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if s.direct == "" {
		if st, ok := apiServerStatus(data); ok {
			return nil, s.unreachable(ctx, method, st)
		}
	}
	var e struct{ Error string }
	_ = json.Unmarshal(data, &e)
	err = fmt.Errorf("the response service refused %s: %s %s", what, resp.Status, e.Error)
	if s.direct == "" && resp.StatusCode == http.StatusUnauthorized {
		// The credential is the Secret's: refused whole, it was most likely not read at all.
		err = fmt.Errorf("%w\n(a response service older than this plugin does not read the credential in the %s header, "+
			"which the API server passes on: upgrade the operator, or use --url with a port-forward)", err, responseapi.CredentialHeader)
	}
	return nil, err
}

// apiServerStatus is the API server's own answer (a Status), as opposed to the response
// service's, which is {"error": "..."}.
func apiServerStatus(data []byte) (metav1.Status, bool) {
	var st metav1.Status
	if err := json.Unmarshal(data, &st); err != nil || st.Kind != "Status" {
		return metav1.Status{}, false
	}
	return st, true
}

// unreachable says why the API server did not pass a request on to the response service, and
// what to do: the RBAC it needs, the Service to name, or a port-forward and --url.
func (s *responseService) unreachable(ctx context.Context, method string, st metav1.Status) error {
	verb := "get"
	if method == http.MethodPost {
		verb = "create"
	}
	ref := s.ref
	portForward := fmt.Sprintf("or reach it yourself: kubectl port-forward -n %s svc/%s 8080:%s, then add --url http://localhost:8080",
		ref.Namespace, ref.Name, ref.Port)
	head := fmt.Sprintf("could not reach the response service (Service %s) through the API server: %s", ref, st.Message)
	otherService := fmt.Sprintf("If the operator's response service runs under another name or in another namespace, name it with "+
		"--service NAMESPACE/NAME[:PORT] (the default is %s);\n%s", defaultService, portForward)
	var hint string
	switch {
	case st.Reason == metav1.StatusReasonForbidden:
		hint = fmt.Sprintf("You need %q on services/proxy in namespace %s, resource name %s (a Role with apiGroups [\"\"], resources [services/proxy], "+
			"resourceNames [%s], verbs [%s]; export needs get, forget create);\n%s", verb, ref.Namespace, ref.proxyName(), ref.proxyName(), verb, portForward)
	case st.Reason == metav1.StatusReasonUnauthorized:
		hint = "The API server did not accept your kubeconfig's credentials (kubectl auth whoami says more)."
	case st.Reason == metav1.StatusReasonNotFound:
		hint = otherService
	case strings.Contains(st.Message, "no endpoints available"):
		// Said of a Service that is not there as of one without a ready pod: which is it?
		noPod := fmt.Sprintf("Is the response service running? kubectl get pods -n %s -l app.kubernetes.io/component=collector says.", ref.Namespace)
		switch err := s.api.Get().Namespace(ref.Namespace).Resource("services").Name(ref.Name).Do(ctx).Error(); {
		case err == nil:
			hint = "The Service has no ready pod. " + noPod
		case apierrors.IsNotFound(err):
			head = fmt.Sprintf("could not reach the response service through the API server: there is no Service %s/%s", ref.Namespace, ref.Name)
			hint = otherService
		default:
			hint = "Either the Service has no ready pod (" + noPod + "),\nor it is not there: " + otherService
		}
	default:
		hint = "The API server could not pass the request on (a NetworkPolicy, or an API server that cannot reach pods);\n" + portForward
	}
	return errors.New(head + "\n" + hint)
}
