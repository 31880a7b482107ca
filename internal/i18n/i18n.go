// Package i18n holds the survey page's own words (buttons, notices, problems, dates) in every
// language the operator ships, as message catalogues in locales/ (go-i18n's JSON, with CLDR
// plural forms: Welsh has six), and chooses a person's language among a campaign's.
//
// The words of a survey itself (its title, questions, choices) are the campaign's, in
// spec.survey and spec.translations; this package only picks which of them a person reads.
package i18n

import (
	"embed"
	"encoding/json"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

//go:embed locales/*.json
var locales embed.FS

// bundle holds every catalogue; English is the fallback for a message a catalogue lacks.
var bundle = func() *i18n.Bundle {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	files, err := fs.Glob(locales, "locales/*.json")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		if _, err := b.LoadMessageFileFS(locales, f); err != nil {
			panic(err)
		}
	}
	return b
}()

// Shipped are the languages whose page words ship with the operator (BCP 47 tags).
func Shipped() []string {
	var out []string
	for _, t := range bundle.LanguageTags() {
		out = append(out, t.String())
	}
	slices.Sort(out)
	return out
}

// Words are the page's words in one language.
type Words struct {
	lang string
	loc  *i18n.Localizer
}

// For are the page's words in a language (BCP 47), English where the catalogues lack it.
func For(lang string) *Words {
	return &Words{lang: lang, loc: i18n.NewLocalizer(bundle, lang, "en")}
}

// Lang is the language the words are for.
func (w *Words) Lang() string { return w.lang }

// Dir is the direction of the words' script: "rtl" or "ltr".
func (w *Words) Dir() string { return Dir(w.lang) }

// T is a message, its template filled from pairs of names and values ("Closes", "1 May 2026").
func (w *Words) T(id string, pairs ...any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if k, ok := pairs[i].(string); ok {
			data[k] = pairs[i+1]
		}
	}
	s, err := w.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id // a message no catalogue has: a bug the catalogue test catches
	}
	return s
}

// Count is a message in the plural form of n, its template given Count.
func (w *Words) Count(id string, n int) string {
	s, err := w.loc.Localize(&i18n.LocalizeConfig{MessageID: id, PluralCount: n, TemplateData: map[string]any{"Count": n}})
	if err != nil {
		return id
	}
	return s
}

// Date is a day in the words' language: "Wednesday 1 April 2026", "Dydd Mercher 1 Ebrill 2026".
func (w *Words) Date(t time.Time) string {
	return w.T("date", "Weekday", w.T("day_"+strconv.Itoa(int(t.Weekday()))), "Day", t.Day(),
		"Month", w.T("month_"+strconv.Itoa(int(t.Month()))), "Year", t.Year())
}

// Name is a language's name in itself ("Cymraeg", "العربية"), for a language switch.
func Name(lang string) string {
	t, err := language.Parse(lang)
	if err != nil {
		return lang
	}
	if n := display.Self.Name(t); n != "" {
		return n
	}
	return lang
}

// rtl are the languages, by base, written right to left.
var rtl = []string{"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "ug", "ur", "yi"}

// Dir is the direction of a language's usual script: "rtl" or "ltr". A script subtag decides
// when there is one (ku-Arab is rtl, ku-Latn ltr).
func Dir(lang string) string {
	t, err := language.Parse(lang)
	if err != nil {
		return "ltr"
	}
	if script, conf := t.Script(); conf == language.Exact {
		switch script.String() {
		case "Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg":
			return "rtl"
		}
		return "ltr"
	}
	base, _ := t.Base()
	if slices.Contains(rtl, base.String()) {
		return "rtl"
	}
	return "ltr"
}

// Match is the one of a survey's languages that a person's language (a BCP 47 tag, as an
// audience's language column holds it) asks for; false when none does, or it is empty.
func Match(campaign []string, wanted string) (string, bool) {
	if strings.TrimSpace(wanted) == "" || len(campaign) == 0 {
		return "", false
	}
	got := Choose(campaign, wanted)
	if got != campaign[0] {
		return got, true
	}
	// The survey's own language: say so only when it is the one asked for.
	prefs, _, err := language.ParseAcceptLanguage(wanted)
	if err != nil || len(prefs) == 0 {
		return "", false
	}
	if _, _, conf := matcherFor(campaign[:1]).Match(prefs...); conf >= language.High {
		return got, true
	}
	return "", false
}

// Choose is the language a person reads a campaign in: the first of wanted (a language the
// link asks for, then the browser's Accept-Language header) that matches one of the
// campaign's languages, or the first of them (its default).
func Choose(campaign []string, wanted ...string) string {
	if len(campaign) == 0 {
		return "en"
	}
	matcher := matcherFor(campaign)
	for _, w := range wanted {
		if strings.TrimSpace(w) == "" {
			continue
		}
		prefs, _, err := language.ParseAcceptLanguage(w)
		if err != nil || len(prefs) == 0 {
			continue
		}
		if _, i, conf := matcher.Match(prefs...); conf >= language.High {
			return campaign[i]
		}
	}
	return campaign[0]
}

// matchers holds a matcher per list of languages: making one costs more than the rest of a
// choice, which the sender makes for every message. A process sees few lists (its surveys').
var matchers sync.Map // strings.Join(campaign, "\x00") → language.Matcher

func matcherFor(campaign []string) language.Matcher {
	key := strings.Join(campaign, "\x00")
	if m, ok := matchers.Load(key); ok {
		return m.(language.Matcher)
	}
	tags := make([]language.Tag, 0, len(campaign))
	for _, l := range campaign {
		tags = append(tags, language.Make(l))
	}
	m, _ := matchers.LoadOrStore(key, language.NewMatcher(tags))
	return m.(language.Matcher)
}

// ScaleLabels are the operator's own labels of an NPS (0-10), CSAT (1-5) or CES (1-7) scale in
// a language it ships words for; nil for another language or kind.
func ScaleLabels(kind, lang string) []string {
	t, err := language.Parse(lang)
	if err != nil {
		return nil
	}
	shipped := false
	for _, s := range bundle.LanguageTags() {
		if b1, _ := s.Base(); b1 == base(t) {
			shipped = true
		}
	}
	if !shipped {
		return nil
	}
	w := For(lang)
	var out []string
	switch kind {
	case "CSAT":
		for i := 1; i <= 5; i++ {
			out = append(out, w.T("csat_"+strconv.Itoa(i)))
		}
	case "CES":
		for i := 1; i <= 7; i++ {
			out = append(out, w.T("ces_"+strconv.Itoa(i)))
		}
	case "NPS":
		for i := 0; i <= 10; i++ {
			switch i {
			case 0, 5, 10:
				out = append(out, w.T("nps_"+strconv.Itoa(i)))
			default:
				out = append(out, strconv.Itoa(i))
			}
		}
	}
	return out
}

func base(t language.Tag) language.Base {
	b, _ := t.Base()
	return b
}

// StopWords are the SMS replies that mean "send me no more" in every language the operator
// ships (capitals; a reply is compared in capitals, alone in the message): a gateway's reply
// carries no page language, so any of them counts.
func StopWords() []string {
	var out []string
	for _, lang := range Shipped() {
		for w := range strings.SplitSeq(For(lang).T("stop_words"), "|") {
			if w = strings.ToUpper(strings.TrimSpace(w)); w != "" && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// mailWords are the catalogue's words of the operator's own invitation and reminder emails.
var mailWords = []string{"mail_reminder", "mail_invite", "mail_remind", "mail_start", "mail_confidential", "mail_optout", "stop",
	"mail_sms_invite", "mail_sms_stop"}

// Mail are the words of the operator's own emails in a language (English where the catalogues
// lack it), by name without the "mail_" prefix: reminder, invite, remind, start, confidential,
// optout, stop, and the SMS's sms_invite and sms_stop. The map is shared, made once per
// language (the sender takes it for every message): it must not be changed.
func Mail(lang string) map[string]string {
	if m, ok := mails.Load(lang); ok {
		return m.(map[string]string)
	}
	w := For(lang)
	out := make(map[string]string, len(mailWords))
	for _, id := range mailWords {
		out[strings.TrimPrefix(id, "mail_")] = w.T(id)
	}
	m, _ := mails.LoadOrStore(lang, out)
	return m.(map[string]string)
}

// mails holds Mail's maps by language.
var mails sync.Map
