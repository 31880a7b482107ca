package collector

import "testing"

// A free-text cell that a spreadsheet would read as a formula gets a leading apostrophe,
// whichever of OWASP's starting characters it begins with; other text is left as it is.
func TestDefuse(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"equals":                    {`=HYPERLINK("http://x")`, `'=HYPERLINK("http://x")`},
		"plus":                      {"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		"minus":                     {"-2+3", "'-2+3"},
		"at":                        {"@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"},
		"tab":                       {"\t=1+1", "'\t=1+1"},
		"carriage return":           {"\r=1+1", "'\r=1+1"},
		"plain text":                {"Quick and polite.", "Quick and polite."},
		"a formula later":           {"It was 5 = good", "It was 5 = good"},
		"empty":                     {"", ""},
		"a pipe":                    {"|cmd /C calc", "'|cmd /C calc"},
		"behind a zero-width space": {"\u200b=1+1", "'\u200b=1+1"},
		"behind a byte-order mark":  {"\ufeff=1+1", "'\ufeff=1+1"},
		"fullwidth equals":          {"\uff1dHYPERLINK(1)", "'\uff1dHYPERLINK(1)"},
		"fullwidth plus":            {"\uff0b1", "'\uff0b1"},
		"invisible, then text":      {"\u200bfine", "\u200bfine"},
		"a minus in Welsh text":     {"Da iawn - diolch", "Da iawn - diolch"},
	} {
		if got := defuse(c.text); got != c.want {
			t.Errorf("%s: defuse(%q) = %q, want %q", name, c.text, got, c.want)
		}
	}
}
