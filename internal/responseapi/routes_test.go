package responseapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPath(t *testing.T) {
	for name, c := range map[string]struct {
		route  Route
		values []string
		want   string
	}{
		"no wildcard":   {RouteReserve, nil, "/api/v1/ledger/reserve"},
		"two wildcards": {RouteSummary, []string{"3f2b6c1e", "20260401-0900"}, "/api/v1/waves/3f2b6c1e/20260401-0900/summary"},
		"escaped":       {RoutePutFollowUp, []string{"a/b c"}, "/api/v1/followups/a%2Fb%20c"},
		"last wildcard": {RoutePutWave, []string{"u", "w"}, "/api/v1/waves/u/w"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := c.route.Path(c.values...); got != c.want {
				t.Errorf("Path = %q, want %q", got, c.want)
			}
		})
	}
	for name, values := range map[string][]string{"too few": {"u"}, "too many": {"u", "w", "x"}} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			RoutePutWave.Path(values...)
		})
	}
}

// What the client calls is what a mux registered with the same routes serves, wildcard by
// wildcard.
func TestPathsMatchTheirPatterns(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		if seen[r.Pattern()] {
			t.Errorf("%s listed twice", r.Pattern())
		}
		seen[r.Pattern()] = true
		mux := http.NewServeMux()
		matched := ""
		mux.HandleFunc(r.Pattern(), func(_ http.ResponseWriter, req *http.Request) { matched = req.Pattern })
		values := []string{}
		for range countWildcards(r.Template) {
			values = append(values, "v")
		}
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.Method, r.Path(values...), nil))
		if matched != r.Pattern() {
			t.Errorf("%s: the client's path %s is not served by it", r.Pattern(), r.Path(values...))
		}
	}
}

func countWildcards(s string) int {
	n := 0
	for _, c := range s {
		if c == '{' {
			n++
		}
	}
	return n
}
