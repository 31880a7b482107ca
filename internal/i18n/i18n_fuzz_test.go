package i18n

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

// fuzzCampaigns are the languages of a few surveys, one of which each input picks: a few
// lists only, as a process sees (matcherFor keeps a matcher per list).
var fuzzCampaigns = [][]string{
	{"en", "cy"},
	{"cy", "en", "ar"},
	{"en-GB", "fr-CA", "zh-Hant", "pt-BR"},
	{"ar"},
	{"de", "en", "ku-Arab", "sr-Latn"},
}

// FuzzChoose chooses a survey's language for a link's language and an Accept-Language header.
// Properties:
//   - the choice is always one of the survey's languages, its first when nothing is asked;
//   - a link's language that one of the survey's other languages matches wins over the
//     header; one that cannot be read is as if there were none;
//   - Match says a language of the survey or nothing, and agrees with Choose;
//   - the chosen language has a direction.
func FuzzChoose(f *testing.F) {
	f.Fuzz(func(t *testing.T, pick uint8, link, header string) {
		campaign := fuzzCampaigns[int(pick)%len(fuzzCampaigns)]
		got := Choose(campaign, link, header)
		if !slices.Contains(campaign, got) {
			t.Fatalf("Choose(%q, %q, %q) = %q, not one of the survey's", campaign, link, header, got)
		}
		if first := Choose(campaign); first != campaign[0] {
			t.Fatalf("Choose(%q) = %q", campaign, first)
		}
		byLink := Choose(campaign, link)
		if byLink != campaign[0] && got != byLink {
			t.Fatalf("Choose(%q, %q, %q) = %q, but the link asks for %q", campaign, link, header, got, byLink)
		}
		if prefs, _, err := language.ParseAcceptLanguage(link); strings.TrimSpace(link) == "" || err != nil || len(prefs) == 0 {
			if byHeader := Choose(campaign, header); got != byHeader {
				t.Fatalf("Choose(%q, %q, %q) = %q, but the link's language cannot be read and the header's gives %q",
					campaign, link, header, got, byHeader)
			}
		}
		m, ok := Match(campaign, link)
		if ok != (m != "") || ok && !slices.Contains(campaign, m) || ok && m != byLink {
			t.Fatalf("Match(%q, %q) = %q, %v; Choose gives %q", campaign, link, m, ok, byLink)
		}
		if d := Dir(got); d != "ltr" && d != "rtl" {
			t.Fatalf("Dir(%q) = %q", got, d)
		}
	})
}
