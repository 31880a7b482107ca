package apitoken

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FuzzCredentials reads a token file, then a bearer token under its master tokens (or two
// fixed ones when the file is refused), then a credential derived here for a kind and a
// namespace, which a fuzzer could not forge. Properties:
//   - Parse gives tokens or an error, never both: each token trimmed, at least MinBytes long,
//     with no control character but a tab (an HTTP header could not carry it), one per line
//     that holds one, the first the one First reads; an error names
//     a line the file has;
//   - Authenticate accepts exactly the master tokens, as Manager, and the credentials one of
//     them derives, in their one spelling, as their kind and namespace; anything else is
//     refused with no scope;
//   - a derived credential is accepted exactly when its kind is a credential's and its
//     namespace is not empty and has no full stop;
//   - a scope permits its own namespace only (a Manager's, every one), never the empty one.
func FuzzCredentials(f *testing.F) {
	fixed := [][]byte{[]byte("the new master token, 0123456789"), []byte("the old master token, 0123456789")}
	f.Fuzz(func(t *testing.T, file []byte, given, kind, namespace string) {
		masters := checkParse(t, file)
		if masters == nil {
			masters = fixed
		}
		scope, ok := Authenticate([]byte(given), masters)
		checkScope(t, given, masters, scope, ok)

		derived := Credential(masters[len(namespace)%len(masters)], Kind(kind), namespace)
		scope, ok = Authenticate([]byte(derived), masters)
		checkScope(t, derived, masters, scope, ok)
		want := slices.Contains([]Kind{Sender, Reader, Exporter, Eraser}, Kind(kind)) && namespace != "" && !strings.Contains(namespace, ".")
		if want && (!ok || scope != Scope{Kind: Kind(kind), Namespace: namespace}) {
			t.Fatalf("the credential of %q in %q: %+v, %v", kind, namespace, scope, ok)
		}
		if !want && ok && scope.Kind != Manager {
			t.Fatalf("the credential of %q in %q is accepted as %+v", kind, namespace, scope)
		}
	})
}

// checkParse checks what Parse makes of a file, and returns its tokens (nil when refused).
func checkParse(t *testing.T, file []byte) [][]byte {
	t.Helper()
	tokens, err := Parse(file)
	lines := bytes.Split(file, []byte("\n"))
	if err != nil {
		if tokens != nil {
			t.Fatalf("Parse(%q) = %q and %v", file, tokens, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "holds no token") {
			var line int
			if n, _ := fmt.Sscanf(msg, "the API token on line %d", &line); n != 1 || line < 1 || line > len(lines) {
				t.Fatalf("Parse(%q): %v names no line of the file's %d", file, err, len(lines))
			}
		}
		return nil
	}
	var want [][]byte
	for _, l := range lines {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			want = append(want, l)
		}
	}
	if !slices.EqualFunc(tokens, want, bytes.Equal) {
		t.Fatalf("Parse(%q) = %q, want the lines %q", file, tokens, want)
	}
	for _, tok := range tokens {
		if len(tok) < MinBytes || !bytes.Equal(tok, bytes.TrimSpace(tok)) ||
			bytes.ContainsFunc(tok, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			t.Fatalf("Parse(%q) gave the token %q", file, tok)
		}
	}
	if first := First(string(file)); first != string(tokens[0]) {
		t.Fatalf("First(%q) = %q, but Parse's first token is %q", file, first, tokens[0])
	}
	return tokens
}

// checkScope checks what Authenticate made of a bearer token.
func checkScope(t *testing.T, given string, masters [][]byte, scope Scope, ok bool) {
	t.Helper()
	switch {
	case !ok:
		if scope != (Scope{}) {
			t.Fatalf("Authenticate(%q) refused it with the scope %+v", given, scope)
		}
		for _, m := range masters {
			if string(m) == given {
				t.Fatalf("Authenticate refused the master token %q", given)
			}
		}
		return
	case scope.Kind == Manager:
		if scope.Namespace != "" || !slices.ContainsFunc(masters, func(m []byte) bool { return string(m) == given }) {
			t.Fatalf("Authenticate(%q) = %+v, but it is no master token", given, scope)
		}
	default:
		if !slices.Contains([]Kind{Sender, Reader, Exporter, Eraser}, scope.Kind) || scope.Namespace == "" {
			t.Fatalf("Authenticate(%q) = %+v", given, scope)
		}
		if !slices.ContainsFunc(masters, func(m []byte) bool { return Credential(m, scope.Kind, scope.Namespace) == given }) {
			t.Fatalf("Authenticate(%q) = %+v, but no master token derives it in that spelling", given, scope)
		}
	}
	if !scope.Permits(scope.Namespace) && scope.Namespace != "" || scope.Permits("") != (scope.Kind == Manager) ||
		scope.Permits(scope.Namespace+"x") != (scope.Kind == Manager) {
		t.Fatalf("%+v permits the wrong namespaces", scope)
	}
}
