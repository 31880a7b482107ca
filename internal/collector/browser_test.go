package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/testbrowser"
	"github.com/surveyops/survey-operator/internal/testenv"
	"github.com/surveyops/survey-operator/internal/token"
)

// artefacts is where the browser tests leave their screenshots (ignored by git).
func artefacts(t *testing.T) string {
	dir := filepath.Join(testenv.RepoRoot(), "test", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// keys presses keys one after another, as a person at a keyboard would.
func keys(seq ...string) chromedp.Action[chromedp.Void] {
	steps := make([]chromedp.Action[chromedp.Void], len(seq))
	for i, k := range seq {
		steps[i] = chromedp.KeyEvent(k)
	}
	return chromedp.Steps(steps...)
}

func repeat(k string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = k
	}
	return out
}

// typeText types into the focused element.
func typeText(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return chromedp.Void{}, err
	}
}

func scriptsDisabled(disabled bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: disabled})
		return chromedp.Void{}, err
	}
}

// answerByKeyboard answers the test survey with the keyboard only: Tab between questions,
// arrows within a group of options, typing in the text box, Enter on the button.
func answerByKeyboard() chromedp.Action[chromedp.Void] {
	var seq []string
	seq = append(seq, kb.Tab)                       // the first option of question 1
	seq = append(seq, repeat(kb.ArrowDown, 3)...)   // "Fairly satisfied" (4)
	seq = append(seq, kb.Tab)                       // question 2
	seq = append(seq, repeat(kb.ArrowDown, 5)...)   // "No repair in the last 12 months"
	seq = append(seq, kb.Tab, kb.ArrowDown, kb.Tab) // question 3: "No"; then the text box
	return chromedp.Steps(keys(seq...), typeText("Kind staff, slow repairs."), keys(kb.Tab, kb.Enter))
}

func TestSurveyInABrowser(t *testing.T) {
	axe, err := testbrowser.AxeSource()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.setNow(opens.Add(2 * time.Hour)) // the server's clock, inside the wave's window
	for _, jsOn := range []bool{true, false} {
		name := "javascript-on"
		if !jsOn {
			name = "javascript-off"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
			defer cancelTimeout()

			recipient := "T-browser-" + name
			tok := e.link(recipient, closes.Add(365*24*time.Hour))
			err = chromedp.Do(ctx,
				scriptsDisabled(!jsOn),
				chromedp.Navigate(e.srv.URL+"/s/"+tok),
				chromedp.WaitVisible(chromedp.CSS("h1")),
				answerByKeyboard(),
				chromedp.WaitVisible(chromedp.CSS(".notice")),
			)
			if err != nil {
				t.Fatal(err)
			}
			location, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".notice h2")))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(location, "?saved=1&lang=en") || heading != "Thank you" {
				t.Errorf("after submitting: at %s, heading %q", location, heading)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artefacts(t), "survey-saved-"+name+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := e.store.GetResponse(context.Background(), uid, "20260401-0900", recipient)
			if err != nil {
				t.Fatalf("the browser's answers are not stored: %v", err)
			}
			got := map[string]string{}
			for _, a := range r.Answers {
				switch {
				case a.NotApplicable:
					got[a.Question] = "n/a"
				case a.Value != nil:
					got[a.Question] = strconv.Itoa(*a.Value)
				default:
					got[a.Question] = a.Text
				}
			}
			want := map[string]string{"tp01": "4", "tp02": "n/a", "visit": "1", "comments": "Kind staff, slow repairs."}
			for q, v := range want {
				if got[q] != v {
					t.Errorf("%s = %q, want %q (all: %v)", q, got[q], v, got)
				}
			}
		})
	}

	t.Run("axe", func(t *testing.T) {
		ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
		defer cancelTimeout()
		tok := e.link("T-axe", closes.Add(365*24*time.Hour))
		form := e.srv.URL + "/s/" + tok
		// An anonymous survey's page, which says so.
		anonymous := definition()
		anonymous.Anonymous = true
		e.api(http.MethodPut, responseapi.RoutePutWave.Path(uid, "anon"), responseapi.WaveRegistration{Namespace: "riverside-homes",
			Campaign: "staff-pulse", Definition: anonymous, OpensAt: opens, ClosesAt: closes}, http.StatusOK, nil)
		anonTok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid,
			Wave: "anon", Recipient: "T-axe", Segment: "general-needs", Channel: "email", Expiry: closes.Add(365 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// A survey with a question asked on a condition, once the answer calls for it.
		condTok := strings.TrimPrefix(e.repairsWave()("T-axe"), "/s/")
		for _, view := range []struct {
			name   string
			width  int64
			action chromedp.Action[chromedp.Void]
			noJS   bool // the page loaded with JavaScript off (axe runs once it is loaded)
		}{
			{"form", 1280, chromedp.Navigate(form), false},
			{"form-mobile", 375, chromedp.Navigate(form), false},
			{"problems", 1280, chromedp.Steps(chromedp.Navigate(form), chromedp.Click(chromedp.CSS("button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(".error-summary"))), false},
			{"anonymous", 1280, chromedp.Navigate(e.srv.URL + "/s/" + anonTok), false},
			{"conditional", 1280, chromedp.Steps(chromedp.Navigate(e.srv.URL+"/s/"+condTok), chromedp.Click(chromedp.CSS("#q-repair-0")),
				chromedp.WaitVisible(chromedp.CSS("#q-tp02-3"))), false},
			{"opt-out", 1280, chromedp.Navigate(e.srv.URL + "/o/" + tok), false},
			{"invalid-link", 1280, chromedp.Navigate(e.srv.URL + "/s/not-a-link"), false},
			// Each language the operator ships, one written right to left, with JavaScript off too.
			{"form-javascript-off", 1280, chromedp.Navigate(form), true},
			{"welsh", 1280, chromedp.Steps(chromedp.Navigate(e.srv.URL+"/s/"+condTok+"?lang=cy"), chromedp.Click(chromedp.CSS("#q-repair-0")),
				chromedp.WaitVisible(chromedp.CSS("#q-tp02-3"))), false},
			{"welsh-javascript-off", 1280, chromedp.Steps(chromedp.Navigate(e.srv.URL+"/s/"+condTok+"?lang=cy"),
				chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary"))), true},
			{"arabic-rtl", 1280, chromedp.Steps(chromedp.Navigate(e.srv.URL+"/s/"+condTok+"?lang=ar"), chromedp.Click(chromedp.CSS("#q-repair-0")),
				chromedp.WaitVisible(chromedp.CSS("#q-tp02-3"))), false},
			{"arabic-rtl-mobile-javascript-off", 375, chromedp.Navigate(e.srv.URL + "/s/" + condTok + "?lang=ar"), true},
		} {
			viewport := chromedp.EmulateViewport(view.width, 900)
			if view.width < 600 {
				viewport = chromedp.EmulateViewport(view.width, 800, chromedp.EmulateMobile)
			}
			if err := chromedp.Do(ctx, viewport, scriptsDisabled(view.noJS), view.action, chromedp.WaitVisible(chromedp.CSS("h1")),
				scriptsDisabled(false)); err != nil {
				t.Fatalf("%s: %v", view.name, err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true")); err != nil {
				t.Fatalf("%s: loading axe: %v", view.name, err)
			}
			raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("%s: running axe: %v", view.name, err)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artefacts(t), "survey-"+view.name+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
			var violations []struct {
				ID    string `json:"id"`
				Help  string `json:"help"`
				Nodes []struct {
					Target []string `json:"target"`
				} `json:"nodes"`
			}
			if err := json.Unmarshal([]byte(raw), &violations); err != nil {
				t.Fatalf("%s: axe said %q: %v", view.name, raw, err)
			}
			for _, v := range violations {
				for _, n := range v.Nodes {
					t.Errorf("%s: axe %s: %s at %v", view.name, v.ID, v.Help, n.Target)
				}
			}
			t.Logf("%s: axe-core %s found %d violations", view.name, testbrowser.AxeVersion, len(violations))
		}
	})
}

// A question asked on a condition, answered in a real browser, in English and in Welsh: with
// JavaScript it appears as soon as "Yes" ("Ydy") is chosen; without, when the answers before it
// are sent. Either way what is stored is the same, two topics ticked of a "tick all that apply"
// question included, with the language it was answered in.
func TestConditionalQuestionInABrowser(t *testing.T) {
	e := newEnv(t)
	link := e.repairsWave()
	for _, c := range []struct {
		lang   string
		jsOn   bool
		thanks string
	}{{"en", true, "Thank you"}, {"en", false, "Thank you"}, {"cy", true, "Diolch"}, {"cy", false, "Diolch"}} {
		jsOn := c.jsOn
		name := c.lang + "-javascript-on"
		if !jsOn {
			name = c.lang + "-javascript-off"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
			defer cancelTimeout()
			recipient := "T-cond-" + name
			steps := []chromedp.Action[chromedp.Void]{
				scriptsDisabled(!jsOn),
				chromedp.Navigate(e.srv.URL + link(recipient) + "?lang=" + c.lang),
				chromedp.WaitVisible(chromedp.CSS("h1")),
				chromedp.Click(chromedp.CSS("#q-repair-0")), // Yes (Ydy), a repair
			}
			if !jsOn { // the page learns of the repairs question when the answers are sent
				steps = append(steps, chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice h2")))
			}
			steps = append(steps,
				chromedp.WaitVisible(chromedp.CSS("#q-tp02-3")),
				chromedp.Click(chromedp.CSS("#q-tp02-3")),   // Fairly satisfied with repairs (4)
				chromedp.Click(chromedp.CSS("#q-tp01-4")),   // Very satisfied overall (5)
				chromedp.Click(chromedp.CSS("#q-topics-1")), // Rent
				chromedp.Click(chromedp.CSS("#q-topics-3")), // and communal areas: tick all that apply
				chromedp.Click(chromedp.CSS("button[type=submit]")),
			)
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatal(err)
			}
			// The page that thanks: the one before may still be there for a moment.
			var heading string
			for range 100 {
				if heading, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".notice h2"))); err == nil && heading == c.thanks {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if heading != c.thanks {
				t.Fatalf("after sending: %q, %v", heading, err)
			}
			r, err := e.store.GetResponse(context.Background(), uid, "cond", recipient)
			if err != nil {
				t.Fatalf("nothing stored: %v", err)
			}
			got := map[string]int{}
			for _, a := range r.Answers {
				if a.Value != nil {
					got[a.Question] = *a.Value
				}
			}
			if !r.Complete || len(got) != 4 || got["repair"] != 0 || got["tp02"] != 4 || got["tp01"] != 5 || got["topics"] != 0b1010 || r.Language != c.lang {
				t.Errorf("stored %v (complete %v, in %q)", got, r.Complete, r.Language)
			}
		})
	}
}

// acceptLanguage makes the browser send an Accept-Language header ("" for none of its own).
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		headers := network.Headers{}
		if lang != "" {
			headers["Accept-Language"] = lang
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers})
		return chromedp.Void{}, err
	}
}

// until waits for a script's value in the page, what it measures, to be want, through
// navigations; it fails the test with the last value seen.
func until(ctx context.Context, t *testing.T, what, script, want string) {
	t.Helper()
	var got string
	var err error
	for range 200 {
		if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](script)); err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %q (%v), want %q", what, got, err, want)
}

// pageLanguage is the page's language and direction, "lang dir".
const pageLanguage = `document.documentElement.lang + " " + document.documentElement.dir`

// headingSide is the side of the page the heading's text sits at: "right" when it ends at the
// right edge of the page's column, "left" when it starts at its left edge.
const headingSide = `(() => {
	const main = document.querySelector("main"), style = getComputedStyle(main), box = main.getBoundingClientRect();
	const range = document.createRange();
	range.selectNodeContents(document.querySelector("h1"));
	const text = range.getBoundingClientRect();
	if (Math.abs(box.right - parseFloat(style.paddingRight) - text.right) < 1) return "right";
	if (Math.abs(text.left - box.left - parseFloat(style.paddingLeft)) < 1) return "left";
	return "neither";
})()`

// barSide is the side of an element its coloured bar is on, as the browser lays it out: the
// side with a border and the padding inside it, "left", "right", or what it found.
func barSide(selector string) string {
	return `(() => {
	const el = document.querySelector(` + strconv.Quote(selector) + `);
	if (!el) return "no element";
	const s = getComputedStyle(el), l = parseFloat(s.borderLeftWidth), r = parseFloat(s.borderRightWidth);
	if (r > 0 && l === 0) return "right";
	if (l > 0 && r === 0) return "left";
	return "border left " + l + ", right " + r;
})()`
}

// The opt-out page in the person's language, from a link in it or from their browser's, right
// to left in Arabic: the question, then the page that confirms it; an expired link too.
func TestOptOutPageLanguagesInABrowser(t *testing.T) {
	e := newEnv(t)
	link := e.repairsWave()
	ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTimeout()
	for _, c := range []struct {
		name, query, accept string
		expired             bool
		lang, side          string // "lang dir", the heading's side
		heading, done       string
	}{
		{name: "welsh-link", query: "?lang=cy", lang: "cy ltr", side: "left",
			heading: "Peidio â chael arolygon", done: "Ni fyddwch yn cael rhagor o arolygon"},
		{name: "arabic-link", query: "?lang=ar", lang: "ar rtl", side: "right",
			heading: "إيقاف تلقي الاستبيانات", done: "لن تتلقى أي استبيانات أخرى"},
		{name: "arabic-browser", accept: "ar", lang: "ar rtl", side: "right",
			heading: "إيقاف تلقي الاستبيانات", done: "لن تتلقى أي استبيانات أخرى"},
		{name: "expired-arabic-link", query: "?lang=ar", expired: true, lang: "ar rtl", side: "right",
			heading: "إيقاف تلقي الاستبيانات", done: "لن تتلقى أي استبيانات أخرى"},
		{name: "english-browser", accept: "en-GB,en", lang: "en ltr", side: "left",
			heading: "Stop receiving surveys", done: "You will not receive any more surveys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			who := "T-optout-" + c.name
			tok := strings.TrimPrefix(link(who), "/s/")
			if c.expired {
				tok, err = e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "cond",
					Recipient: who, Segment: "general-needs", Channel: "email", Expiry: opens}) // before the service's clock
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := chromedp.Do(ctx, acceptLanguage(c.accept), chromedp.Navigate(e.srv.URL+"/o/"+tok+c.query),
				chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatal(err)
			}
			until(ctx, t, "the page's language and direction", pageLanguage, c.lang)
			until(ctx, t, "the heading", `document.querySelector("h1").textContent`, c.heading)
			until(ctx, t, "the side of the heading", headingSide, c.side)
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artefacts(t), "opt-out-"+c.name+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button[type=submit]"))); err != nil {
				t.Fatal(err)
			}
			until(ctx, t, "the heading once opted out", `document.querySelector("h1") ? document.querySelector("h1").textContent : ""`, c.done)
			until(ctx, t, "the page's language and direction", pageLanguage, c.lang)
			until(ctx, t, "the side of the heading", headingSide, c.side)
			var out responseapi.KeysResponse
			e.api(http.MethodPost, responseapi.RouteOptedOut.Path(), responseapi.KeysRequest{Namespace: "riverside-homes", Keys: []string{who}}, http.StatusOK, &out)
			if len(out.Keys) != 1 {
				t.Errorf("not opted out: %v", out.Keys)
			}
		})
	}
}

// The bars that mark a question with a problem and a notice sit where the lines start: on the
// left in English and Welsh, on the right in Arabic, with the padding on their side.
func TestBarsWhereLinesStartInABrowser(t *testing.T) {
	e := newEnv(t)
	link := e.repairsWave()
	ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTimeout()
	padding := func(selector string) string {
		return `(() => { const s = getComputedStyle(document.querySelector(` + strconv.Quote(selector) + `));
			return "left " + s.paddingLeft + ", right " + s.paddingRight; })()`
	}
	for _, c := range []struct {
		lang, side, padding string
	}{{"en", "left", "left 16px, right 0px"}, {"cy", "left", "left 16px, right 0px"}, {"ar", "right", "left 0px, right 16px"}} {
		t.Run(c.lang, func(t *testing.T) {
			who := "T-bars-" + c.lang
			// Sent with nothing answered: the questions with a problem are marked.
			if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+link(who)+"?lang="+c.lang), chromedp.WaitVisible(chromedp.CSS("h1")),
				chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary"))); err != nil {
				t.Fatal(err)
			}
			until(ctx, t, "the side of a problem's bar", barSide(".has-error"), c.side)
			until(ctx, t, "the padding of a problem's bar", padding(".has-error"), c.padding)
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artefacts(t), "bars-problems-"+c.lang+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
			// Answered: the notice that thanks.
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#q-repair-1")), chromedp.Click(chromedp.CSS("#q-tp01-3")),
				chromedp.Click(chromedp.CSS("button[type=submit]"))); err != nil {
				t.Fatal(err)
			}
			until(ctx, t, "the page after sending", `location.search`, "?saved=1&lang="+c.lang)
			until(ctx, t, "the side of the notice's bar", barSide(".notice"), c.side)
		})
	}
}

// numberedSurvey asks three of its seven questions only on a condition.
func numberedSurvey() *v1alpha1.Survey {
	return &v1alpha1.Survey{Title: "Riverside Homes tenant survey", PrimaryQuestion: "tp01", Questions: []v1alpha1.Question{
		{ID: "repair", Kind: v1alpha1.QuestionChoice, Required: true, Choices: []string{"Yes", "No"}, Text: "Have we repaired anything in your home this year?"},
		{ID: "tp02", Kind: v1alpha1.QuestionCSAT, ShowIf: `answers.repair == "Yes"`, Text: "How satisfied are you with the repairs service?"},
		{ID: "first", Kind: v1alpha1.QuestionChoice, ShowIf: `answers.repair == "Yes"`, Choices: []string{"Yes", "No"}, Text: "Was it done at the first visit?"},
		{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Required: true, Text: "How satisfied are you with our service overall?"},
		{ID: "contact", Kind: v1alpha1.QuestionChoice, Choices: []string{"Yes", "No"}, Text: "Have you contacted us this year?"},
		{ID: "why", Kind: v1alpha1.QuestionText, ShowIf: `answers.contact == "Yes"`, Text: "What did you contact us about?"},
		{ID: "comments", Kind: v1alpha1.QuestionText, Text: "Is there anything else you would like to tell us?"},
	}}
}

// The numbers a person sees go 1, 2, 3… over the questions shown, however many are hidden, as
// the answers bring questions up and put them away, with JavaScript and without.
func TestQuestionNumbersInABrowser(t *testing.T) {
	e := newEnv(t)
	e.api(http.MethodPut, responseapi.RoutePutWave.Path(uid, "numbered"), responseapi.WaveRegistration{Namespace: "riverside-homes",
		Campaign: "tenant-satisfaction", Definition: campaign.Definition(numberedSurvey()), OpensAt: opens, ClosesAt: closes}, http.StatusOK, nil)
	tok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "numbered",
		Recipient: "T-numbers", Segment: "general-needs", Channel: "email", Expiry: closes})
	if err != nil {
		t.Fatal(err)
	}
	// What a person sees: each question shown, its number and the start of its text.
	const seen = `[...document.querySelectorAll("[data-question]")].filter(q => q.checkVisibility())
		.map(q => q.querySelector("legend, label").innerText.split(" ")[0]).join(" ")`
	const (
		none       = "1. 2. 3. 4."          // repair, tp01, contact, comments
		repair     = "1. 2. 3. 4. 5. 6."    // tp02 and first come up
		everything = "1. 2. 3. 4. 5. 6. 7." // and why
		contact    = "1. 2. 3. 4. 5."       // repair answered No: why only
	)
	for _, c := range []struct {
		name  string
		jsOn  bool
		steps []chromedp.Action[chromedp.Void]
		want  []string // what is seen after each step
	}{
		{name: "javascript-on", jsOn: true, steps: []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS("#q-repair-0")), chromedp.Click(chromedp.CSS("#q-contact-0")), chromedp.Click(chromedp.CSS("#q-repair-1")),
		}, want: []string{repair, everything, contact}},
		{name: "javascript-off", steps: []chromedp.Action[chromedp.Void]{
			chromedp.Steps(chromedp.Click(chromedp.CSS("#q-repair-0")), chromedp.Click(chromedp.CSS("#q-contact-0")),
				chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#q-why"))),
		}, want: []string{everything}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel, err := testbrowser.New(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
			defer cancelTimeout()
			if err := chromedp.Do(ctx, scriptsDisabled(!c.jsOn), chromedp.Navigate(e.srv.URL+"/s/"+tok), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatal(err)
			}
			until(ctx, t, "the numbers seen at first", seen, none)
			for i, step := range c.steps {
				if err := chromedp.Do(ctx, step); err != nil {
					t.Fatal(err)
				}
				until(ctx, t, fmt.Sprintf("the numbers seen after step %d", i+1), seen, c.want[i])
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artefacts(t), "numbers-"+c.name+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
