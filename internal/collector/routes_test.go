package collector_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/responseapi"
)

// Every route of the API is served, and every Bearer route refuses a caller without the token:
// a route registered without authorization fails here, whichever it is.
func TestEveryRouteIsServedAndGuarded(t *testing.T) {
	e := newEnv(t)
	// call answers the status and whether the route's own handler answered: the API answers in
	// JSON, the catch-all "not found" page in HTML.
	call := func(route responseapi.Route, auth string) (int, bool) {
		t.Helper()
		values := make([]string, strings.Count(route.Template, "{"))
		for i := range values {
			values[i] = "x"
		}
		path := route.Path(values...)
		var body *strings.Reader
		if route.Method == http.MethodGet || route.Method == http.MethodDelete {
			body = strings.NewReader("")
		} else {
			body = strings.NewReader(`{}`)
		}
		req, _ := http.NewRequest(route.Method, e.srv.URL+path, body)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	}
	for _, route := range responseapi.Routes {
		t.Run(route.Pattern(), func(t *testing.T) {
			switch route.Auth {
			case responseapi.Bearer:
				for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + apiToken, "Bearer " + apiToken + "x"} {
					if got, _ := call(route, auth); got != http.StatusUnauthorized {
						t.Errorf("Authorization %q: %d, want 401", auth, got)
					}
				}
				if got, api := call(route, "Bearer "+apiToken); got == http.StatusUnauthorized || !api && got != http.StatusNoContent {
					t.Errorf("with the token: %d (answered by the API: %v)", got, api)
				}
			case responseapi.Signed:
				// No bearer token is asked, and an unsigned body is refused.
				if got, api := call(route, "Bearer "+apiToken); got/100 == 2 || !api {
					t.Errorf("unsigned: %d (answered by the API: %v)", got, api)
				}
			}
		})
	}
}
