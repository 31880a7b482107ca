package apitoken_test

import (
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/apitoken"
)

func TestParseTokens(t *testing.T) {
	got, err := apitoken.Parse([]byte("\r\n new-token-0123456789\r\n\n old-token-0123456789 \n"))
	if err != nil || len(got) != 2 || string(got[0]) != "new-token-0123456789" || string(got[1]) != "old-token-0123456789" {
		t.Errorf("Parse = %q, %v", got, err)
	}
	for _, c := range []struct{ data, want string }{
		{"", "holds no token"},
		{" \n\n", "holds no token"},
		{"long-enough-token-0123\nshort\n", "line 2 is shorter than 16 bytes"},
	} {
		if _, err := apitoken.Parse([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.data, err, c.want)
		}
	}
	if got := apitoken.First("\n  new-token-0123456789\nold-token-0123456789\n"); got != "new-token-0123456789" {
		t.Errorf("First = %q", got)
	}
}
