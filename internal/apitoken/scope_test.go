package apitoken

import (
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	old, current := []byte("the old master token, 0123456789"), []byte("the new master token, 0123456789")
	masters := [][]byte{current, old}
	sender := Credential(current, Sender, "riverside-homes")
	for name, c := range map[string]struct {
		given string
		want  Scope
		ok    bool
	}{
		"a master token":               {string(current), Scope{Kind: Manager}, true},
		"the other master token":       {string(old), Scope{Kind: Manager}, true},
		"a sender's":                   {sender, Scope{Kind: Sender, Namespace: "riverside-homes"}, true},
		"a reader's":                   {Credential(current, Reader, "lakeside"), Scope{Kind: Reader, Namespace: "lakeside"}, true},
		"an exporter's":                {Credential(current, Exporter, "lakeside"), Scope{Kind: Exporter, Namespace: "lakeside"}, true},
		"derived from the old master":  {Credential(old, Sender, "riverside-homes"), Scope{Kind: Sender, Namespace: "riverside-homes"}, true},
		"derived from a retired one":   {Credential([]byte("a retired master token 01234567"), Sender, "riverside-homes"), Scope{}, false},
		"another namespace's name":     {strings.Replace(sender, "riverside-homes", "lakeside", 1), Scope{}, false},
		"a manager's kind":             {strings.Replace(sender, ".sender.", ".manager.", 1), Scope{}, false},
		"no namespace":                 {Credential(current, Sender, ""), Scope{}, false},
		"upper-case hex":               {sender[:len(sender)-64] + strings.ToUpper(sender[len(sender)-64:]), Scope{}, false},
		"a truncated MAC":              {sender[:len(sender)-2], Scope{}, false},
		"nothing":                      {"", Scope{}, false},
		"a master token with a suffix": {string(current) + "x", Scope{}, false},
	} {
		got, ok := Authenticate([]byte(c.given), masters)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", name, got, ok, c.want, c.ok)
		}
	}
	if !(Scope{Kind: Sender, Namespace: "a"}).Permits("a") || (Scope{Kind: Sender, Namespace: "a"}).Permits("b") ||
		!(Scope{Kind: Manager}).Permits("b") || (Scope{Kind: Reader}).Permits("") {
		t.Error("Permits")
	}
}
