package i18n

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every catalogue has every message of the English one, and each renders.
func TestCataloguesAreComplete(t *testing.T) {
	raw, err := locales.ReadFile("locales/en.json")
	if err != nil {
		t.Fatal(err)
	}
	var en map[string]any
	if err := json.Unmarshal(raw, &en); err != nil {
		t.Fatal(err)
	}
	for _, lang := range Shipped() {
		raw, err := locales.ReadFile("locales/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var messages map[string]any
		if err := json.Unmarshal(raw, &messages); err != nil {
			t.Fatal(err)
		}
		w := For(lang)
		for id := range en {
			if _, ok := messages[id]; !ok {
				t.Errorf("%s lacks %q", lang, id)
			}
			got := w.T(id, "Closes", "x", "On", "x", "N", 2, "Min", 1, "Max", 3, "Title", "x", "Problem", "x", "Weekday", "x", "Day", 1, "Month", "x", "Year", 2026)
			if id != "problems" && (got == id || strings.Contains(got, "<no value>")) {
				t.Errorf("%s %s renders %q", lang, id, got)
			}
		}
	}
}

func TestWords(t *testing.T) {
	if got := Shipped(); strings.Join(got, " ") != "ar cy en" {
		t.Errorf("shipped %v", got)
	}
	cy := For("cy")
	for n, want := range map[int]string{1: "Mae problem gyda'ch atebion", 2: "Mae 2 broblem gyda'ch atebion", 3: "Mae 3 problem gyda'ch atebion"} {
		if got := cy.Count("problems", n); got != want {
			t.Errorf("cy %d problems: %q, want %q", n, got, want)
		}
	}
	if got := For("en").Count("problems", 1); got != "There is a problem with your answers" {
		t.Errorf("en 1 problem: %q", got)
	}
	if got := cy.Date(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)); got != "Dydd Mercher 1 Ebrill 2026" {
		t.Errorf("cy date %q", got)
	}
	if got := For("pl").T("send"); got != "Send my answers" {
		t.Errorf("a language with no catalogue falls back to English: %q", got)
	}
	for lang, want := range map[string]string{"ar": "rtl", "ur": "rtl", "he-IL": "rtl", "ku-Arab": "rtl", "ku-Latn": "ltr", "cy": "ltr", "en-GB": "ltr", "x!": "ltr"} {
		if got := Dir(lang); got != want {
			t.Errorf("Dir(%s) = %s", lang, got)
		}
	}
	if Name("cy") != "Cymraeg" || Name("ar") != "العربية" {
		t.Errorf("names %q %q", Name("cy"), Name("ar"))
	}
}

func TestChoose(t *testing.T) {
	for name, c := range map[string]struct {
		campaign []string
		wanted   []string
		want     string
	}{
		"nothing asked: the campaign's default": {[]string{"en", "cy"}, nil, "en"},
		"the link's language":                   {[]string{"en", "cy"}, []string{"cy"}, "cy"},
		"no link language: the browser's":       {[]string{"en", "cy"}, []string{"", "cy-GB,cy;q=0.9,en;q=0.5"}, "cy"},
		"nothing matches: the default":          {[]string{"en", "cy"}, []string{"", "fr-FR,fr;q=0.9"}, "en"},
		"the link's language wins":              {[]string{"en", "cy"}, []string{"en", "cy"}, "en"},
		"a link language not offered":           {[]string{"en", "cy"}, []string{"de", "en-GB,en;q=0.8"}, "en"},
		// A regional variant asks for its language: en-GB reads the campaign's en, not its
		// first language.
		"a regional variant, not the first":     {[]string{"cy", "en"}, []string{"en-GB"}, "en"},
		"a browser's regional variant":          {[]string{"cy", "en"}, []string{"", "en-GB"}, "en"},
		"a regional variant of the first":       {[]string{"en", "cy"}, []string{"cy-GB"}, "cy"},
		"an unparseable link language":          {[]string{"en", "cy"}, []string{"not a tag!", "cy-GB,cy;q=0.9"}, "cy"},
		"an unparseable browser header":         {[]string{"en", "cy"}, []string{"", "not a tag!"}, "en"},
		"a campaign without languages: English": {nil, []string{"cy"}, "en"},
	} {
		if got := Choose(c.campaign, c.wanted...); got != c.want {
			t.Errorf("%s: Choose(%v, %q) = %s, want %s", name, c.campaign, c.wanted, got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for wanted, want := range map[string]string{"cy": "cy", "cy-GB": "cy", "en-GB": "en", "fr": "", "": "", "not a tag!": ""} {
		got, ok := Match([]string{"en", "cy"}, wanted)
		if got != want || ok != (want != "") {
			t.Errorf("Match(%q) = %q, %v; want %q", wanted, got, ok, want)
		}
	}
}

// The operator's own scale labels: one a point (NPS labels its ends and middle, numbers the
// rest), lowest first, in a shipped language or a regional variant of one; none otherwise.
func TestScaleLabels(t *testing.T) {
	for name, c := range map[string]struct {
		kind, lang  string
		n           int
		first, last string
	}{
		"CSAT":                   {"CSAT", "en", 5, "Very dissatisfied", "Very satisfied"},
		"CES":                    {"CES", "en", 7, "Strongly disagree", "Strongly agree"},
		"NPS":                    {"NPS", "en", 11, "0 - Not at all likely", "10 - Extremely likely"},
		"CSAT in Welsh":          {"CSAT", "cy", 5, "Anfodlon iawn", "Bodlon iawn"},
		"CES in British Welsh":   {"CES", "cy-GB", 7, "Anghytuno'n gryf", "Cytuno'n gryf"},
		"a language not shipped": {"CSAT", "fr", 0, "", ""},
		"another kind":           {"Rating", "en", 0, "", ""},
		"not a language":         {"CSAT", "not a tag!", 0, "", ""},
	} {
		got := ScaleLabels(c.kind, c.lang)
		if len(got) != c.n || c.n > 0 && (got[0] != c.first || got[c.n-1] != c.last) {
			t.Errorf("%s: %q", name, got)
		}
	}
	if nps := ScaleLabels("NPS", "en"); nps[1] != "1" || nps[5] != For("en").T("nps_5") || nps[9] != "9" {
		t.Errorf("NPS: %q, want numbers between the labelled ends and middle", nps)
	}
}
