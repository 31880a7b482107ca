package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
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

// The credential may come in responseapi.CredentialHeader instead of Authorization: the API
// server's service proxy, through which kubectl survey forget and export reach the service,
// removes Authorization. An erasure that finds nobody answers zeros and is logged all the same.
func TestEraseCredentialHeaders(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		path := responseapi.RouteErase.Path("riverside-homes")
		body, _ := json.Marshal(responseapi.ErasureRequest{ID: "T-404"})
		own := apitoken.Credential([]byte(apiToken), apitoken.Eraser, "riverside-homes")
		for name, tc := range map[string]struct {
			header http.Header
			want   int
		}{
			"bearer":            {http.Header{"Authorization": {"Bearer " + own}}, http.StatusOK},
			"credential header": {http.Header{responseapi.CredentialHeader: {own}}, http.StatusOK},
			"credential header beside a proxy's own Authorization": {http.Header{responseapi.CredentialHeader: {own},
				"Authorization": {"Basic cGF0OnNlY3JldA=="}}, http.StatusOK},
			"credential header for another namespace": {http.Header{responseapi.CredentialHeader: {
				apitoken.Credential([]byte(apiToken), apitoken.Eraser, "lakeside")}}, http.StatusForbidden},
			"credential header with Bearer": {http.Header{responseapi.CredentialHeader: {"Bearer " + own}}, http.StatusUnauthorized},
			"no credential":                 {http.Header{}, http.StatusUnauthorized},
		} {
			t.Run(name, func(t *testing.T) {
				before, err := e.store.Erasures(context.Background(), "riverside-homes")
				if err != nil {
					t.Fatal(err)
				}
				code, msg := e.send(http.MethodPost, path, body, tc.header)
				if code != tc.want {
					t.Fatalf("%d %s, want %d", code, msg, tc.want)
				}
				after, _ := e.store.Erasures(context.Background(), "riverside-homes")
				if code != http.StatusOK {
					if len(after) != len(before) {
						t.Errorf("a refused erasure was logged")
					}
					return
				}
				var got responseapi.Erasure
				if err := json.Unmarshal([]byte(msg), &got); err != nil || got.ID == "" ||
					got.Invitations+got.Responses+got.Answers+got.Cases+got.OptOuts+got.Suppressions != 0 {
					t.Errorf("erasing nobody: %s, %v", msg, err)
				}
				logged := slices.ContainsFunc(after, func(l store.ErasureEntry) bool { return l.ID == got.ID })
				if len(after) != len(before)+1 || !logged {
					t.Errorf("the erasure log has %d entries after %d (%+v), want one more: %s", len(after), len(before), after, got.ID)
				}
			})
		}
	})
}
