package collector_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/token"
)

// An anonymous survey says so on its page, takes one answer per person, shows nothing of it
// back, opens no follow-up case, and exports only the written answers.
func TestAnonymousSurveyPage(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		def := definition()
		def.Anonymous = true
		e.api(http.MethodPut, responseapi.RoutePutWave.Path(uid, "anon"), responseapi.WaveRegistration{
			Namespace: "riverside-homes", Campaign: "staff-pulse", Definition: def, OpensAt: opens, ClosesAt: closes}, http.StatusOK, nil)
		e.api(http.MethodPut, responseapi.RoutePutFollowUp.Path("fu-anon"), responseapi.FollowUpRegistration{Namespace: "riverside-homes",
			Name: "unhappy", CampaignUID: uid, Trigger: "Response", When: "response.answers.tp01 <= 2", Active: true}, http.StatusOK, nil)
		link := func(who string) string {
			tok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "anon",
				Recipient: who, Segment: "front-line", Channel: "email", Expiry: closes})
			if err != nil {
				t.Fatal(err)
			}
			return "/s/" + tok
		}

		if _, page := e.get(link("S-1")); !strings.Contains(page, "This survey is anonymous.") || !strings.Contains(page, "<form") {
			t.Errorf("the page before answering:\n%s", page)
		}
		answers := url.Values{"q.tp01": {"1"}, "q.comments": {"=HYPERLINK(\"x\") My manager never listens."}}
		if resp, _ := e.post(link("S-1"), answers); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("answering: %s", resp.Status)
		}
		_, page := e.get(link("S-1") + "?saved=1")
		if !strings.Contains(page, "saved, anonymously") || strings.Contains(page, "<form") || strings.Contains(page, "never listens") {
			t.Errorf("the page after answering:\n%s", page)
		}
		if _, page := e.get(link("S-1")); !strings.Contains(page, "cannot be shown or changed") || strings.Contains(page, "<form") {
			t.Errorf("the page on a later visit:\n%s", page)
		}
		resp, page := e.post(link("S-1"), url.Values{"q.tp01": {"5"}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "answered this survey already") {
			t.Errorf("a second answer: %s\n%s", resp.Status, page)
		}
		var stats responseapi.CaseStats
		e.api(http.MethodGet, responseapi.RouteFollowUpStats.Path("fu-anon"), nil, http.StatusOK, &stats)
		if stats.Matched != 0 {
			t.Errorf("an anonymous answer opened a follow-up case: %+v", stats)
		}

		// The export: the written answers, nothing else, and no pseudonym.
		exporter := http.Header{"Authorization": {"Bearer " + apitoken.Credential([]byte(apiToken), apitoken.Exporter, "riverside-homes")}}
		code, csv := e.send(http.MethodGet, responseapi.RouteExport.Path(uid, "anon")+"?format=csv", nil, exporter)
		if code != http.StatusOK || csv != "question,comment\ncomments,\"'=HYPERLINK(\"\"x\"\") My manager never listens.\"\n" {
			t.Errorf("export: %d\n%s", code, csv)
		}
		if code, jsonl := e.send(http.MethodGet, responseapi.RouteExport.Path(uid, "anon")+"?format=jsonl", nil, exporter); code != http.StatusOK ||
			jsonl != `{"comment":"=HYPERLINK(\"x\") My manager never listens.","question":"comments"}`+"\n" {
			t.Errorf("export -o jsonl: %d\n%s", code, jsonl)
		}
	})
}
