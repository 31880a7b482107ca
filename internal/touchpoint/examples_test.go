package touchpoint_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	argo "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/touchpoint"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// The Argo Events pipeline of docs/touchpoints.md is what Argo Events reads (every field known
// to its own types, strictly), and delivers what the events route takes: the Sensor posts to
// the route of its namespace, with the sample campaign's events Secret as its credential, a
// structured CloudEvent of the type and source the sample campaign takes, which
// touchpoint.Read accepts.
func TestArgoEventsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/touchpoints.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources []argo.EventSource
	var sensors []argo.Sensor
	for _, block := range yamlBlock.FindAllSubmatch(doc, -1) {
		for _, part := range strings.Split(string(block[1]), "\n---\n") {
			if !strings.Contains(part, "apiVersion: argoproj.io/") {
				continue
			}
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(part), &meta); err != nil {
				t.Fatal(err)
			}
			switch meta.Kind {
			case "EventSource":
				var es argo.EventSource
				if err := yaml.UnmarshalStrict([]byte(part), &es); err != nil {
					t.Fatalf("the EventSource is not Argo Events': %v", err)
				}
				sources = append(sources, es)
			case "Sensor":
				var s argo.Sensor
				if err := yaml.UnmarshalStrict([]byte(part), &s); err != nil {
					t.Fatalf("the Sensor is not Argo Events': %v", err)
				}
				sensors = append(sensors, s)
			default:
				t.Fatalf("an Argo Events document of kind %q", meta.Kind)
			}
		}
	}
	if len(sources) != 1 || len(sensors) != 1 {
		t.Fatalf("found %d EventSources and %d Sensors in docs/touchpoints.md; want one of each", len(sources), len(sensors))
	}
	es, s := sources[0], sensors[0]

	// The sample campaign the pipeline feeds.
	raw, err := os.ReadFile("../../config/samples/surveys_v1alpha1_surveycampaign_post_repair.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha1.SurveyCampaign
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatal(err)
	}
	taken := c.Spec.Audience.Source.Events.Types[0]

	dep := s.Spec.Dependencies[0]
	if _, ok := es.Spec.Webhook[dep.EventName]; !ok || dep.EventSourceName != es.Name || es.Namespace != s.Namespace || s.Namespace != c.Namespace {
		t.Errorf("the Sensor depends on %s/%s; the EventSource is %s with %v, in %s; the campaign in %s", dep.EventSourceName, dep.EventName,
			es.Name, es.Spec.Webhook, es.Namespace, c.Namespace)
	}
	h := s.Spec.Triggers[0].Template.HTTP
	if h == nil {
		t.Fatal("the Sensor's trigger is not an HTTP trigger")
	}
	u, err := url.Parse(h.URL)
	if err != nil || u.Path != responseapi.RouteEvents.Path(s.Namespace) || h.Method != http.MethodPost {
		t.Errorf("the Sensor posts %s %s; want POST to %s", h.Method, h.URL, responseapi.RouteEvents.Path(s.Namespace))
	}
	if len(h.SecureHeaders) != 1 || h.SecureHeaders[0].Name != "Authorization" || h.SecureHeaders[0].ValueFrom.SecretKeyRef == nil ||
		h.SecureHeaders[0].ValueFrom.SecretKeyRef.Name != campaign.EventsSecretName(c.Name) ||
		h.SecureHeaders[0].ValueFrom.SecretKeyRef.Key != campaign.EventsSecretAuthorization {
		t.Errorf("the Sensor's credential: %+v; want the Authorization header from Secret %s, key %s", h.SecureHeaders,
			campaign.EventsSecretName(c.Name), campaign.EventsSecretAuthorization)
	}

	// What the Sensor would post for a webhook call, built as Argo builds a payload.
	context := map[string]string{"id": "c4a1e7d0-0a8b-4f53-9d37-0b2c1f7e9a11", "time": "2026-12-08T14:05:00Z",
		"source": es.Name, "type": "webhook", "specversion": "1.0"}
	body := map[string]any{"tenancy": "T-000123-01", "email": "tenant@example.org", "priority": "routine",
		"repairType": "plumbing", "contractor": "Dyfed Plumbing"}
	event := map[string]any{}
	for _, p := range h.Payload {
		switch {
		case p.Src.Value != nil:
			event[p.Dest] = *p.Src.Value
		case p.Src.ContextKey != "":
			event[p.Dest] = context[p.Src.ContextKey]
		case p.Src.DataKey == "body":
			event[p.Dest] = body
		default:
			t.Fatalf("a payload parameter this test cannot play: %+v", p)
		}
	}
	posted, _ := json.Marshal(event)
	header := http.Header{}
	for k, v := range h.Headers {
		header.Set(k, v)
	}
	got, err := touchpoint.Read(header, posted)
	if err != nil {
		t.Fatalf("the route would refuse what the Sensor posts: %v\n%s", err, posted)
	}
	if len(got) != 1 || got[0].Type != taken.Type || got[0].Source != taken.Source || got[0].ID != context["id"] ||
		got[0].Fields["tenancy"] != "T-000123-01" || !bytes.Contains(posted, []byte(`"specversion":"1.0"`)) {
		t.Errorf("the event read: %+v; want the sample campaign's type %s and source %s", got, taken.Type, taken.Source)
	}
}
