package token

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MinKeySize is the shortest key accepted: 32 bytes, the size of the HMAC-SHA256 output.
const MinKeySize = 32

// Key is one signing key.
type Key struct {
	// ID names the key; the newest key is the one whose ID sorts last, so name keys by date
	// (for example "2026-11").
	ID     string
	Secret []byte
}

type ringKey struct {
	id     string
	tag    byte
	secret []byte
}

// KeyRing holds the keys that verify links; the newest of them signs.
type KeyRing struct {
	keys []*ringKey // sorted by id
}

// NewKeyRing makes a key ring. Every key must have an ID and at least MinKeySize bytes.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	r := &KeyRing{}
	seen := map[string]bool{}
	for _, k := range keys {
		if k.ID == "" {
			return nil, errors.New("a key has no id")
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("key %q is given twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < MinKeySize {
			return nil, fmt.Errorf("key %q has %d bytes; a key needs at least %d random bytes", k.ID, len(k.Secret), MinKeySize)
		}
		id := sha256.Sum256([]byte(k.ID))
		r.keys = append(r.keys, &ringKey{id: k.ID, tag: id[0], secret: append([]byte(nil), k.Secret...)})
	}
	if len(r.keys) == 0 {
		return nil, errors.New("the key ring has no keys")
	}
	sort.Slice(r.keys, func(i, j int) bool { return r.keys[i].id < r.keys[j].id })
	return r, nil
}

// LoadKeyRing reads a key ring from a directory, such as a mounted Secret: each regular file is
// a key, its name the key id and its content the key. Dot files (the Secret volume's own
// bookkeeping) are ignored.
func LoadKeyRing(dir string) (*KeyRing, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading token keys: %w", err)
	}
	var keys []Key
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path) // follows the Secret volume's symlinks
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		secret, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading token key %q: %w", e.Name(), err)
		}
		keys = append(keys, Key{ID: e.Name(), Secret: secret})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no token keys in %s", dir)
	}
	return NewKeyRing(keys...)
}

// SigningKeyID is the id of the key that signs new links.
func (r *KeyRing) SigningKeyID() string {
	if k := r.signing(); k != nil {
		return k.id
	}
	return ""
}

func (r *KeyRing) signing() *ringKey {
	if r == nil || len(r.keys) == 0 {
		return nil
	}
	return r.keys[len(r.keys)-1]
}

func (r *KeyRing) keysWithTag(tag byte) []*ringKey {
	if r == nil {
		return nil
	}
	var out []*ringKey
	for _, k := range r.keys {
		if k.tag == tag {
			out = append(out, k)
		}
	}
	return out
}

// Links are signed per namespace: the keys a campaign's namespace holds (its sending Jobs mount
// them) are derived from the master keys with HKDF-SHA256, the namespace in the info, under the
// same ids. They sign and verify only that namespace's links: whoever reads a namespace's
// Secrets cannot sign links for another's campaigns, and the master keys never leave the
// operator's namespace. Rotation is the master ring's: a new master key gives every namespace
// a new key of the same id.

// namespaceInfo is the HKDF info of a namespace's key; the NUL keeps the label and the name apart.
const namespaceInfo = "survey-operator link key v1\x00"

// DeriveSecret is the secret a namespace's key of the given master secret has: 32 bytes.
func DeriveSecret(master []byte, namespace string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, namespaceInfo+namespace, MinKeySize)
	if err != nil { // only for a length HKDF-SHA256 cannot give; 32 bytes it always can
		panic(err)
	}
	return key
}

// ForNamespace is the ring of a namespace's keys: each key derived (DeriveSecret), same ids.
func (r *KeyRing) ForNamespace(namespace string) *KeyRing {
	if r == nil {
		return nil
	}
	out := &KeyRing{keys: make([]*ringKey, len(r.keys))}
	for i, k := range r.keys {
		out.keys[i] = &ringKey{id: k.id, tag: k.tag, secret: DeriveSecret(k.secret, namespace)}
	}
	return out
}
