package token

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// A namespace's keys are HKDF-SHA256 of the master keys with the namespace in the info. The
// figure was computed apart from this code (RFC 5869 with Python's hmac): a change of the
// derivation would break every link in flight, so it must be deliberate.
func TestDeriveSecretKnownAnswer(t *testing.T) {
	got := hex.EncodeToString(DeriveSecret([]byte("0123456789abcdef0123456789abcdef"), "riverside-homes"))
	if want := "59cf39684a5536030426e8bad2c208d6d3448ed4ebdf4339d0d6bdd94a4b7bfe"; got != want {
		t.Fatalf("DeriveSecret = %s, want %s", got, want)
	}
}

func TestNamespaceRings(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	claims := Claims{Purpose: PurposeSurvey, CampaignUID: "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f", Wave: "20261129-0900",
		Recipient: "RH-0001", Segment: "general-needs", Channel: "email", Expiry: now.Add(time.Hour)}
	old, _ := NewKeyRing(Key{ID: "2026-01", Secret: make([]byte, 32)})
	master, _ := NewKeyRing(Key{ID: "2026-01", Secret: make([]byte, 32)}, Key{ID: "2026-11", Secret: []byte("the november master key, 32 byte")})

	// A link signed before the rotation, with the namespace's old key, still verifies.
	before, err := old.ForNamespace("riverside-homes").Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	after, err := master.ForNamespace("riverside-homes").Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"before the rotation": before, "after": after} {
		if _, err := master.ForNamespace("riverside-homes").Verify(tok, now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, other := range []*KeyRing{master.ForNamespace("lakeside"), master.ForNamespace("riverside-homes2"), master} {
			if _, err := other.Verify(tok, now); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: verified by another ring: %v", name, err)
			}
		}
	}
	if id := master.ForNamespace("riverside-homes").SigningKeyID(); id != "2026-11" {
		t.Errorf("the namespace's ring signs with %q, want the newest master key's id", id)
	}

	// Peek reads what a token claims before it is verified, and refuses what is not a token.
	if c, err := Peek(after); err != nil || c.CampaignUID != claims.CampaignUID || c.Wave != claims.Wave {
		t.Errorf("Peek = %+v, %v", c, err)
	}
	for _, bad := range []string{"", "hello", after[:10], after + "\n"} {
		if _, err := Peek(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Peek(%q) = %v", bad, err)
		}
	}
}
