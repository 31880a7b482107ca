package controllers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// Every PromQL expression the operator ships (the alerting rules and the Grafana dashboard's
// queries) parses with Prometheus' own parser, and each metric it names is one the manager or
// the response service really registers.
func TestShippedQueriesNameRegisteredMetrics(t *testing.T) {
	known := registeredNames(t)
	// up is the series Prometheus writes for each scrape target.
	known["up"] = true

	exprs := map[string]string{} // where -> expression
	var rules monitoringv1.PrometheusRule
	readYAML(t, "../config/prometheus/rules.yaml", &rules)
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("rule group %s: a rule without an alert name", g.Name)
			}
			exprs["alert "+r.Alert] = r.Expr.String()
		}
	}
	if len(exprs) < 6 {
		t.Errorf("%d alerts; want at least 6 (stalled, wave failed, SLA, response rate, collector down)", len(exprs))
	}

	data, err := os.ReadFile("../config/grafana/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Name, Type, Query string }
		}
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatal(err)
	}
	for _, p := range dashboard.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, q := range p.Targets {
			exprs["panel "+p.Title+" #"+string(rune('A'+i))] = grafanaVariables.Replace(q.Expr)
		}
	}
	// A variable's label_values(selector, label) names a metric too.
	labelValues := regexp.MustCompile(`^label_values\((.+), *\w+\)$`)
	for _, v := range dashboard.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Query)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Query)
			continue
		}
		exprs["variable "+v.Name] = grafanaVariables.Replace(m[1])
	}

	p := parser.NewParser(parser.Options{})
	for where, expr := range exprs {
		e, err := p.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
			continue
		}
		named := 0
		parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			named++
			if !known[vs.Name] && !known[strings.TrimSuffix(vs.Name, "_bucket")] {
				t.Errorf("%s: %s is not a metric the manager or the response service registers", where, vs.Name)
			}
			return nil
		})
		if named == 0 {
			t.Errorf("%s reads no metric: %s", where, expr)
		}
	}
}

// grafanaVariables replaces the dashboard's variables with values PromQL parses.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1d")

// registeredNames are the names of the metrics the manager (controller-runtime's registry, with
// the operator's gauges) and the response service register, read from their registries.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	registeredMetrics()
	manager, ok := metrics.Registry.(prometheus.Collector)
	if !ok {
		t.Fatalf("controller-runtime's registry is a %T, which cannot describe its metrics", metrics.Registry)
	}
	registries := []prometheus.Collector{manager}
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := token.NewKeyRing(token.Key{ID: "k", Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys },
		APIToken: []byte("an-api-token-for-the-test"), Registry: reg}); err != nil {
		t.Fatal(err)
	}
	registries = append(registries, reg)

	names := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, r := range registries {
		ch := make(chan *prometheus.Desc)
		go func() { r.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	for _, want := range []string{"survey_campaign_response_rate", "survey_collector_responses_total"} {
		if !names[want] {
			t.Fatalf("%s not found among the registered metrics %v", want, slices.Sorted(func(yield func(string) bool) {
				for n := range names {
					if !yield(n) {
						return
					}
				}
			}))
		}
	}
	return names
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
