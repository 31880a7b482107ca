package i18n

import "testing"

// BenchmarkMessageLanguage is what the sender does for each message: match the person's
// language against the survey's, and take the email words in it.
func BenchmarkMessageLanguage(b *testing.B) {
	langs := []string{"en", "cy"}
	for b.Loop() {
		lang, _ := Match(langs, "cy-GB")
		_ = Mail(lang)
	}
}
