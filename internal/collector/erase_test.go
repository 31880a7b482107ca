package collector_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// The namespace's eraser credential erases a person who answered through the page; another
// namespace's cannot; the figures lose the person; the logs name the erasure, not the person.
func TestEraseThroughTheAPI(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		logs := &bytes.Buffer{}
		e := newEnv(t, func(c *collector.Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		for _, who := range []string{"T-1", "T-2"} {
			if resp, _ := e.post("/s/"+e.link(who, closes), url.Values{"q.tp01": {"2"}, "q.comments": {"Nobody came."}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("submit: %s", resp.Status)
			}
		}
		path := responseapi.RouteErase.Path("riverside-homes")
		body, _ := json.Marshal(responseapi.ErasureRequest{ID: "T-1"})
		bearer := func(ns string) http.Header {
			return http.Header{"Authorization": {"Bearer " + apitoken.Credential([]byte(apiToken), apitoken.Eraser, ns)}}
		}
		if code, msg := e.send(http.MethodPost, path, body, bearer("lakeside")); code != http.StatusForbidden {
			t.Errorf("another namespace's eraser: %d %s", code, msg)
		}
		if code, msg := e.send(http.MethodPost, path, []byte(`{"id": ""}`), bearer("riverside-homes")); code != http.StatusBadRequest || !strings.Contains(msg, "id") {
			t.Errorf("no id: %d %s", code, msg)
		}
		code, msg := e.send(http.MethodPost, path, body, bearer("riverside-homes"))
		var got responseapi.Erasure
		if err := json.Unmarshal([]byte(msg), &got); code != http.StatusOK || err != nil || got.Responses != 1 || got.Answers != 2 || got.ID == "" {
			t.Fatalf("erase: %d %s", code, msg)
		}
		var sum responseapi.Summary
		e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "20260401-0900"), nil, http.StatusOK, &sum)
		if len(sum.Responded) != 1 || sum.Responded[0].Count != 1 {
			t.Errorf("responded after the erasure: %+v", sum.Responded)
		}
		if !strings.Contains(logs.String(), got.ID) || strings.Contains(logs.String(), "T-1") {
			t.Errorf("the logs should name the erasure %s and never the person:\n%s", got.ID, logs)
		}
	})
}
