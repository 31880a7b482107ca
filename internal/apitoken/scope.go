package apitoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// The master tokens (the file's lines) are the manager's: they stay in the operator's
// namespace and open every route. Everyone else holds a credential derived from the first of
// them for what it does and where: a sending Job's can only do what a sender does, for its own
// namespace's waves; a reader's only reads its namespace's figures. A credential is
//
//	sv1.<kind>.<namespace>.<hex HMAC-SHA256(master, "survey-operator api credential v1\x00" + kind + "\x00" + namespace)>
//
// so the service verifies it against its master tokens without a database, and it rotates with
// them: the manager derives it again from the new first line, and the service accepts a
// credential derived from any line it accepts.

// Kind is what a credential may do.
type Kind string

const (
	// Manager is a master token: every route, every namespace.
	Manager Kind = "manager"
	// Sender is a sending Job's (and a follow-up contact Job's): the ledger, the frame and the
	// cases to contact, for its namespace.
	Sender Kind = "sender"
	// Reader reads a namespace's figures: summaries and follow-up statistics.
	Reader Kind = "reader"
	// Exporter reads a namespace's responses, respondent by respondent under a pseudonym: the
	// export. The manager hands it out only in a Secret of the namespace, so exactly those who
	// may read that namespace's Secrets may export.
	Exporter Kind = "exporter"
	// Eraser erases one person's data in its namespace, on their request (GDPR Art. 17). The
	// manager hands it out beside the exporter's, in the same Secret.
	Eraser Kind = "eraser"
	// Events posts touch-point events (CloudEvents) for its namespace, and does nothing else:
	// what a producer or a pipeline delivering them holds (docs/touchpoints.md).
	Events Kind = "events"
)

// Scope is what a bearer token proves: a kind, and the namespace it is for ("" for Manager).
type Scope struct {
	Kind      Kind
	Namespace string
}

// Permits reports whether the scope may act on a namespace's data.
func (s Scope) Permits(namespace string) bool {
	return s.Kind == Manager || (s.Namespace != "" && s.Namespace == namespace)
}

const credentialPrefix = "sv1."

func credentialMAC(master []byte, kind Kind, namespace string) []byte {
	h := hmac.New(sha256.New, master)
	h.Write([]byte("survey-operator api credential v1\x00" + string(kind) + "\x00" + namespace))
	return h.Sum(nil)
}

// Credential is the bearer token of a sender's or a reader's scope in a namespace, derived from
// a master token.
func Credential(master []byte, kind Kind, namespace string) string {
	return credentialPrefix + string(kind) + "." + namespace + "." + hex.EncodeToString(credentialMAC(master, kind, namespace))
}

// Authenticate reports the scope a bearer token proves under the accepted master tokens: a
// master token itself is Manager; a credential derived from one of them (in constant time
// against each) is its kind and namespace.
func Authenticate(given []byte, masters [][]byte) (Scope, bool) {
	match := 0
	for _, m := range masters {
		match |= subtle.ConstantTimeCompare(given, m)
	}
	if match == 1 {
		return Scope{Kind: Manager}, true
	}
	rest, ok := strings.CutPrefix(string(given), credentialPrefix)
	if !ok {
		return Scope{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || !slices.Contains([]Kind{Sender, Reader, Exporter, Eraser, Events}, Kind(parts[0])) || parts[1] == "" {
		return Scope{}, false
	}
	mac, err := hex.DecodeString(parts[2])
	if err != nil || len(mac) != sha256.Size || hex.EncodeToString(mac) != parts[2] {
		return Scope{}, false
	}
	kind, namespace := Kind(parts[0]), parts[1]
	for _, m := range masters {
		match |= subtle.ConstantTimeCompare(mac, credentialMAC(m, kind, namespace))
	}
	if match != 1 {
		return Scope{}, false
	}
	return Scope{Kind: kind, Namespace: namespace}, true
}
