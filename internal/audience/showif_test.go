package audience

import (
	"strings"
	"testing"
)

func TestShowIf(t *testing.T) {
	earlier := []string{"repair", "tp01", "first-visit"}
	for expr, want := range map[string]string{
		`answers.repair == "Yes"`:                             "",
		`answers["first-visit"] == "No" && answers.tp01 <= 2`: "",
		`answers.tp02 >= 3`:                                   "answers.tp02 is not an earlier question",
		`answers.repair`:                                      "it must give true or false",
		`response.answers.repair == "Yes"`:                    "undeclared reference to 'response'",
	} {
		_, err := CompileShowIf(expr, earlier)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", expr, err, want)
		}
	}
	prg, err := CompileShowIf(`answers.repair == "Yes" && answers.tp01 <= 2`, earlier)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		answers map[string]any
		want    bool
	}{
		{map[string]any{"repair": "Yes", "tp01": int64(1)}, true},
		{map[string]any{"repair": "No", "tp01": int64(1)}, false},
		{map[string]any{"repair": "Yes"}, false},                 // tp01 unanswered: not asked
		{map[string]any{"repair": "Yes", "tp01": "very"}, false}, // another type: not asked
		{map[string]any{}, false},
	} {
		if got := Shown(prg, c.answers); got != c.want {
			t.Errorf("%v: %v, want %v", c.answers, got, c.want)
		}
	}
}
