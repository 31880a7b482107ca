package collector_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// A survey in English, Welsh and Arabic: the page speaks the link's or the browser's language,
// the operator's own words and scale labels included, right to left in Arabic; a switch keeps
// the answers given; the answers mean the same in every language, and the response records
// the language it was given in.
func TestSurveyLanguages(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		link := e.repairsWave()
		get := func(path, accept string) string {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
			if accept != "" {
				req.Header.Set("Accept-Language", accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return html.UnescapeString(string(b))
		}

		// The browser's language chooses; the operator's Welsh words and scale labels come with it.
		page := get(link("T-1"), "cy-GB,cy;q=0.9,en;q=0.5")
		mustContain(t, page, `<html lang="cy" dir="ltr">`, "<h1>Arolwg tenantiaid Cartrefi Glan yr Afon</h1>", "Bodlon iawn", "Ydy",
			"Anfon fy atebion", "(gofynnol)", `<a href="?lang=en" lang="en" hreflang="en" dir="ltr">English</a>`,
			`name="switch-lang" value="ar" lang="ar" dir="rtl">العربية</button>`)
		// The link's language wins over the browser's; a language the survey lacks gets its own.
		mustContain(t, get(link("T-1")+"?lang=en", "cy"), `<html lang="en" dir="ltr">`, "Very satisfied")
		mustContain(t, get(link("T-1"), "fr-FR,fr"), `<html lang="en" dir="ltr">`)
		mustContain(t, get(link("T-1")+"?lang=ar", ""), `<html lang="ar" dir="rtl">`, "راضٍ جدًا", "إرسال إجاباتي")

		// Problems in Welsh, CLDR plural and all.
		resp, page := e.post(link("T-1")+"?lang=cy", url.Values{"q.topics": {"0", "1", "2"}, "shown": {"repair tp01 topics"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("problems: %s", resp.Status)
		}
		mustContain(t, html.UnescapeString(page), "Mae 3 problem gyda'ch atebion", "Atebwch y cwestiwn hwn.", "Dewiswch ddim mwy na 2 o'r atebion (fe wnaethoch ddewis 3).",
			"<title>Gwall: Arolwg tenantiaid Cartrefi Glan yr Afon</title>")

		// Switching to Arabic keeps the answers given, saves nothing.
		resp, page = e.post(link("T-1")+"?lang=cy", url.Values{"q.repair": {"1"}, "q.tp01": {"4"}, "shown": {"repair tp01 topics"}, "switch-lang": {"ar"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("switch: %s", resp.Status)
		}
		mustContain(t, page, `<html lang="ar" dir="rtl">`, `id="q-repair-1" value="1" checked`, `id="q-tp01-3" value="4" checked`)
		if strings.Contains(page, "error-summary") {
			t.Error("switching the language showed problems")
		}
		if _, err := e.store.GetResponse(t.Context(), uid, "cond", "T-1"); err == nil {
			t.Error("switching the language saved the answers")
		}

		// "Ydy" is the choice "Yes", which the repairs question's condition reads: sent without
		// JavaScript, it brings the question up.
		_, page = e.post(link("T-1")+"?lang=cy", url.Values{"q.repair": {"0"}, "q.tp01": {"4"}, "shown": {"repair tp01 topics"}})
		mustContain(t, page, "Rhagor o gwestiynau", `name="shown" value="repair tp02 tp01 topics"`, `data-question="tp02">`)

		// Answered in Welsh.
		resp, _ = e.post(link("T-1")+"?lang=cy", url.Values{"q.repair": {"0"}, "q.tp02": {"5"}, "q.tp01": {"4"}, "shown": {"repair tp02 tp01 topics"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "?saved=1&lang=cy") {
			t.Fatalf("answering in Welsh: %s %s", resp.Status, resp.Header.Get("Location"))
		}
		r, err := e.store.GetResponse(t.Context(), uid, "cond", "T-1")
		if err != nil || r.Language != "cy" || len(r.Answers) != 3 {
			t.Fatalf("stored %+v, %v", r, err)
		}
		mustContain(t, get(resp.Header.Get("Location"), ""), "<h2>Diolch</h2>", "Gallwch eu newid ar y dudalen hon tan Dydd Mercher 22 Ebrill 2026")

		// The wave's figures count the responses by language (for its report); a re-submission in
		// another language moves its count.
		for who, lang := range map[string]string{"T-2": "en", "T-3": "ar"} {
			if resp, _ := e.post(link(who)+"?lang="+lang, url.Values{"q.repair": {"1"}, "q.tp01": {"5"}, "shown": {"repair tp01 topics"}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s in %s: %s", who, lang, resp.Status)
			}
		}
		if resp, _ := e.post(link("T-3")+"?lang=cy", url.Values{"q.repair": {"1"}, "q.tp01": {"4"}, "shown": {"repair tp01 topics"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("T-3 again, in Welsh: %s", resp.Status)
		}
		var sum responseapi.Summary
		e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "cond"), nil, http.StatusOK, &sum)
		if fmt.Sprint(sum.Languages) != "[{cy 2} {en 1}]" {
			t.Errorf("responses by language: %v", sum.Languages)
		}
	})
}

// The opt-out pages speak the person's language as the survey page does: the link's, else their
// browser's, of the survey's languages, right to left in Arabic; the page that confirms it too,
// and the one an expired link still opts out from.
func TestOptOutLanguages(t *testing.T) {
	e := newEnv(t)
	link := e.repairsWave()
	welsh := []string{`<html lang="cy" dir="ltr">`, "<h1>Peidio â chael arolygon</h1>", ">Peidiwch ag anfon arolygon ataf</button>"}
	welshDone := []string{`<html lang="cy" dir="ltr">`, "<h1>Ni fyddwch yn cael rhagor o arolygon</h1>"}
	arabic := []string{`<html lang="ar" dir="rtl">`, "<h1>إيقاف تلقي الاستبيانات</h1>", ">أوقفوا إرسال الاستبيانات إلي</button>"}
	arabicDone := []string{`<html lang="ar" dir="rtl">`, "<h1>لن تتلقى أي استبيانات أخرى</h1>"}
	english := []string{`<html lang="en" dir="ltr">`, "<h1>Stop receiving surveys</h1>"}
	englishDone := []string{`<html lang="en" dir="ltr">`, "<h1>You will not receive any more surveys</h1>"}
	for name, c := range map[string]struct {
		query, accept string
		expired       bool
		page, done    []string
	}{
		"a Welsh link":                     {query: "?lang=cy", page: welsh, done: welshDone},
		"an Arabic link":                   {query: "?lang=ar", page: arabic, done: arabicDone},
		"a browser in Arabic":              {accept: "ar", page: arabic, done: arabicDone},
		"a browser in Welsh, then English": {accept: "cy-GB,cy;q=0.9,en;q=0.5", page: welsh, done: welshDone},
		"the link's language first":        {query: "?lang=cy", accept: "ar", page: welsh, done: welshDone},
		"a language the survey lacks":      {accept: "fr", page: english, done: englishDone},
		"an expired Arabic link":           {query: "?lang=ar", expired: true, page: arabic, done: arabicDone},
		"an expired link, a Welsh browser": {accept: "cy", expired: true, page: welsh, done: welshDone},
	} {
		t.Run(name, func(t *testing.T) {
			who := "T-optout-" + name
			path := "/o/" + strings.TrimPrefix(link(who), "/s/") + c.query
			e.setNow(opens.Add(time.Hour))
			if c.expired {
				e.setNow(closes.Add(400 * 24 * time.Hour)) // past the wave and the link
			}
			header := http.Header{}
			if c.accept != "" {
				header.Set("Accept-Language", c.accept)
			}
			code, page := e.send(http.MethodGet, path, nil, header)
			if code != http.StatusOK {
				t.Fatalf("GET: %d\n%s", code, page)
			}
			mustContain(t, page, c.page...)
			header.Set("Content-Type", "application/x-www-form-urlencoded")
			code, page = e.send(http.MethodPost, path, []byte("List-Unsubscribe=One-Click"), header)
			if code != http.StatusOK {
				t.Fatalf("POST: %d\n%s", code, page)
			}
			mustContain(t, page, c.done...)
			var out responseapi.KeysResponse
			e.api(http.MethodPost, "/api/v1/ledger/opted-out", responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{who}}, http.StatusOK, &out)
			if len(out.Keys) != 1 {
				t.Errorf("not opted out: %v", out.Keys)
			}
		})
	}

	// A wave whose survey cannot be read still lets people opt out, in the operator's languages.
	e.setNow(opens.Add(time.Hour))
	if err := e.store.PutWave(t.Context(), store.Wave{CampaignUID: uid, WaveID: "unreadable", Namespace: "riverside-homes",
		Campaign: "tenant-satisfaction", Definition: []byte(`{"title": 3}`), OpensAt: opens, ClosesAt: closes}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "unreadable",
		Recipient: "T-unreadable", Segment: "general-needs", Channel: "email", Expiry: closes})
	if err != nil {
		t.Fatal(err)
	}
	if code, page := e.send(http.MethodGet, "/s/"+tok, nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("the survey page of an unreadable survey: %d\n%s", code, page)
	}
	arabicBrowser := http.Header{"Accept-Language": {"ar"}, "Content-Type": {"application/x-www-form-urlencoded"}}
	code, page := e.send(http.MethodGet, "/o/"+tok, nil, arabicBrowser)
	if code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", code, page)
	}
	mustContain(t, page, arabic...)
	if code, page = e.send(http.MethodPost, "/o/"+tok+"?lang=cy", nil, arabicBrowser); code != http.StatusOK {
		t.Fatalf("POST: %d\n%s", code, page)
	}
	mustContain(t, page, welshDone...)
	var out responseapi.KeysResponse
	e.api(http.MethodPost, "/api/v1/ledger/opted-out", responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{"T-unreadable"}}, http.StatusOK, &out)
	if len(out.Keys) != 1 {
		t.Errorf("not opted out: %v", out.Keys)
	}
}
