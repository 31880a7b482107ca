package collector_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

// A campaign's retention, registered by the manager, is applied by the service's own clock:
// the responses go 30 days after the wave closes, and the wave's figures stay.
func TestRetentionExpiresResponsesOnTheServiceClock(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		path := responseapi.RoutePutRetention.Path(uid)
		for _, bad := range []responseapi.RetentionRegistration{
			{Namespace: "riverside-homes", Responses: "a year"},
			{Namespace: "riverside-homes", Responses: "720h", Keep: "Everything"},
			{Responses: "720h"},
		} {
			e.api(http.MethodPut, path, bad, http.StatusBadRequest, nil)
		}
		e.api(http.MethodPut, path, responseapi.RetentionRegistration{Namespace: "riverside-homes", Responses: "720h"}, http.StatusOK, nil)

		if resp, _ := e.post("/s/"+e.link("T-1", closes), url.Values{"q.tp01": {"5"}, "q.comments": {"The caretaker is great."}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("submit: %s", resp.Status)
		}
		var before, after responseapi.Summary
		e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "20260401-0900"), nil, http.StatusOK, &before)

		e.setNow(closes.Add(720*time.Hour - time.Minute))
		if got, err := e.server.Expire(context.Background()); err != nil || got != (store.Expired{}) {
			t.Fatalf("a minute early: %+v, %v", got, err)
		}
		e.setNow(closes.Add(720 * time.Hour))
		if got, err := e.server.Expire(context.Background()); err != nil || got.Responses != 1 || got.Answers != 2 {
			t.Fatalf("on time: %+v, %v", got, err)
		}
		if _, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", "T-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the response outlived its retention: %v", err)
		}
		e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "20260401-0900"), nil, http.StatusOK, &after)
		if len(after.Histograms) == 0 || !reflect.DeepEqual(after.Histograms, before.Histograms) {
			t.Errorf("the wave's figures changed: %+v, want %+v", after.Histograms, before.Histograms)
		}
		resp, err := http.Get(e.metrics.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), `survey_collector_expired_rows_total{data="answers"} 2`) {
			t.Errorf("metrics:\n%s", raw)
		}
	})
}

// Each field of a registration sets its own period: responses and invitations are kept for
// as long as each says, and Nothing drops the aggregates too.
func TestRetentionRegistrationIsStoredFieldByField(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		for name, c := range map[string]struct {
			reg  responseapi.RetentionRegistration
			want store.Retention
		}{
			"responses and invitations": {responseapi.RetentionRegistration{Namespace: "riverside-homes", Responses: "720h", Invitations: "2160h"},
				store.Retention{Namespace: "riverside-homes", Responses: 720 * time.Hour, Invitations: 2160 * time.Hour}},
			"invitations only": {responseapi.RetentionRegistration{Namespace: "riverside-homes", Invitations: "2160h"},
				store.Retention{Namespace: "riverside-homes", Invitations: 2160 * time.Hour}},
			"responses only, keeping nothing": {responseapi.RetentionRegistration{Namespace: "riverside-homes", Responses: "720h", Keep: responseapi.KeepNothing},
				store.Retention{Namespace: "riverside-homes", Responses: 720 * time.Hour, DropAggregates: true}},
			"keeping the aggregates": {responseapi.RetentionRegistration{Namespace: "riverside-homes", Responses: "8760h", Invitations: "720h",
				Keep: responseapi.KeepAggregates}, store.Retention{Namespace: "riverside-homes", Responses: 8760 * time.Hour, Invitations: 720 * time.Hour}},
		} {
			e.api(http.MethodPut, responseapi.RoutePutRetention.Path(uid), c.reg, http.StatusOK, nil)
			if got, err := e.store.GetRetention(context.Background(), uid); err != nil || got != c.want {
				t.Errorf("%s: stored %+v, %v; want %+v", name, got, err, c.want)
			}
		}
	})
}

// Expiry counts each kind of row it deleted under its own label: here 2 responses, their 3
// answers, 1 follow-up case and 4 invitations.
func TestExpiryCountsEachKindOfRow(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		e.api(http.MethodPut, "/api/v1/followups/fu-1", responseapi.FollowUpRegistration{Namespace: "riverside-homes", Name: "detractors",
			CampaignUID: uid, Trigger: "Response", When: "response.answers.tp01 <= 2", Active: true}, http.StatusOK, nil)
		e.api(http.MethodPut, responseapi.RoutePutRetention.Path(uid), responseapi.RetentionRegistration{Namespace: "riverside-homes",
			Responses: "720h", Invitations: "720h"}, http.StatusOK, nil)
		var invs []responseapi.Invitation
		for _, who := range []string{"T-1", "T-2", "T-3", "T-4"} {
			invs = append(invs, responseapi.Invitation{CampaignUID: uid, WaveID: "20260401-0900", RecipientKey: who, Namespace: "riverside-homes",
				Segment: "general-needs", Channel: "sms"})
		}
		e.api(http.MethodPost, responseapi.RouteReserve.Path(), responseapi.ReserveRequest{Invitations: invs}, http.StatusOK, nil)
		for who, form := range map[string]url.Values{
			"T-1": {"q.tp01": {"1"}, "q.comments": {"Nobody came."}}, // a case
			"T-2": {"q.tp01": {"5"}},
		} {
			if resp, _ := e.post("/s/"+e.link(who, closes), form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s", who, resp.Status)
			}
		}
		e.setNow(closes.Add(720 * time.Hour))
		want := store.Expired{Waves: 1, Responses: 2, Answers: 3, Cases: 1, Invitations: 4}
		if got, err := e.server.Expire(context.Background()); err != nil || got != want {
			t.Fatalf("expired %+v, %v; want %+v", got, err, want)
		}
		resp, err := http.Get(e.metrics.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range []string{`{data="responses"} 2`, `{data="answers"} 3`, `{data="cases"} 1`, `{data="invitations"} 4`} {
			if !strings.Contains(string(raw), "survey_collector_expired_rows_total"+line+"\n") {
				t.Errorf("metrics lack %s", line)
			}
		}
	})
}
