package token

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	now   = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	key1  = Key{ID: "2026-01", Secret: bytes.Repeat([]byte{1}, 32)}
	key2  = Key{ID: "2026-04", Secret: bytes.Repeat([]byte{2}, 48)}
	claim = Claims{
		Purpose:     PurposeSurvey,
		CampaignUID: "6f1c2b7e-8d3a-4c5e-9f10-2a3b4c5d6e7f",
		Wave:        "20260401-0900",
		Recipient:   "T-000123-01",
		Segment:     "general-needs",
		Channel:     "sms",
		Expiry:      now.Add(21 * 24 * time.Hour),
	}
)

func ring(t testing.TB, keys ...Key) *KeyRing {
	t.Helper()
	r, err := NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	r := ring(t, key1)
	tok, err := r.Sign(claim)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 110 {
		t.Errorf("token is %d characters, too long for an SMS link: %s", len(tok), tok)
	}
	if strings.ContainsAny(tok, "+/=?&#%") {
		t.Errorf("token is not URL-safe: %s", tok)
	}
	got, err := r.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got != claim {
		t.Errorf("claims = %+v, want %+v", got, claim)
	}
	if _, err := r.VerifyFor(tok, PurposeSurvey, claim.CampaignUID, now); err != nil {
		t.Errorf("VerifyFor: %v", err)
	}
	again, _ := r.Sign(claim)
	if again != tok {
		t.Error("signing is not deterministic")
	}
}

func TestRefusals(t *testing.T) {
	r := ring(t, key1)
	tok, _ := r.Sign(claim)
	raw, _ := encoding.DecodeString(tok)
	other := ring(t, key2)

	refused := map[string]string{
		"empty":       "",
		"garbage":     "not-a-token",
		"not base64":  "!!!!",
		"truncated":   tok[:len(tok)-1],
		"half":        tok[:len(tok)/2],
		"extra":       tok + "A",
		"huge":        strings.Repeat("A", MaxLength+4),
		"header only": encoding.EncodeToString(raw[:headerSize]),
		"wrong version": func() string {
			b := append([]byte(nil), raw...)
			b[0] = 2<<4 | byte(PurposeSurvey)
			return encoding.EncodeToString(b)
		}(),
	}
	// Every single-byte alteration.
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		refused["altered byte "+string(rune('A'+i%26))+strings.Repeat("'", i/26)] = encoding.EncodeToString(b)
	}
	for name, bad := range refused {
		if _, err := r.Verify(bad, now); err != ErrInvalid {
			t.Errorf("%s: err = %v, want exactly ErrInvalid", name, err)
		}
	}
	// Signed with a key that is not in the ring.
	forged, _ := other.Sign(claim)
	if _, err := r.Verify(forged, now); err != ErrInvalid {
		t.Errorf("other key: %v", err)
	}
	// Another campaign, another purpose.
	if _, err := r.VerifyFor(tok, PurposeSurvey, "00000000-0000-0000-0000-000000000000", now); err != ErrInvalid {
		t.Errorf("other campaign: %v", err)
	}
	if _, err := r.VerifyFor(tok, PurposeResolve, claim.CampaignUID, now); err != ErrInvalid {
		t.Errorf("other purpose: %v", err)
	}
	// Expired: authentic, so the claims come back to say when the survey closed.
	got, err := r.Verify(tok, claim.Expiry)
	if !errors.Is(err, ErrExpired) || got.Expiry != claim.Expiry {
		t.Errorf("expired: %+v, %v", got, err)
	}
	if _, err := r.VerifyFor(tok, PurposeSurvey, claim.CampaignUID, claim.Expiry.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired VerifyFor: %v", err)
	}
	// An expired forgery is invalid, not expired.
	if _, err := r.Verify(forged, claim.Expiry.Add(time.Hour)); err != ErrInvalid {
		t.Errorf("expired forgery: %v", err)
	}
}

func TestRotation(t *testing.T) {
	old := ring(t, key1)
	oldLink, _ := old.Sign(claim)

	rotated := ring(t, key2, key1) // order does not matter: the newest id signs
	if rotated.SigningKeyID() != "2026-04" {
		t.Fatalf("signing key %q", rotated.SigningKeyID())
	}
	newLink, _ := rotated.Sign(claim)
	if newLink == oldLink {
		t.Fatal("the new key did not sign")
	}
	for _, l := range []string{oldLink, newLink} {
		if _, err := rotated.Verify(l, now); err != nil {
			t.Errorf("during rotation: %v", err)
		}
	}
	retired := ring(t, key2)
	if _, err := retired.Verify(oldLink, now); err != ErrInvalid {
		t.Errorf("a retired key still verifies: %v", err)
	}
	if _, err := retired.Verify(newLink, now); err != nil {
		t.Errorf("after retiring the old key: %v", err)
	}
}

func TestSignRefuses(t *testing.T) {
	r := ring(t, key1)
	for name, c := range map[string]Claims{
		"bad UID":    {Purpose: PurposeSurvey, CampaignUID: "campaign-1", Expiry: claim.Expiry},
		"no purpose": {CampaignUID: claim.CampaignUID, Expiry: claim.Expiry},
		"no expiry":  {Purpose: PurposeSurvey, CampaignUID: claim.CampaignUID},
		"long key":   {Purpose: PurposeSurvey, CampaignUID: claim.CampaignUID, Recipient: strings.Repeat("x", 256), Expiry: claim.Expiry},
		"after 2106": {Purpose: PurposeSurvey, CampaignUID: claim.CampaignUID, Expiry: time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := r.Sign(c); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short":     {{ID: "k", Secret: []byte("secret")}},
		"no id":     {{Secret: key1.Secret}},
		"duplicate": {key1, key1},
	} {
		if _, err := NewKeyRing(keys...); err == nil {
			t.Errorf("%s: key ring accepted", name)
		}
	}
}

// A Secret volume: keys are symlinks into a timestamped directory, beside dot files.
func TestLoadKeyRingFromSecretVolume(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_04_01_09_00_00.000000001")
	must(t, os.Mkdir(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, key1.ID), key1.Secret, 0o400))
	must(t, os.WriteFile(filepath.Join(data, key2.ID), key2.Secret, 0o400))
	must(t, os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")))
	for _, k := range []Key{key1, key2} {
		must(t, os.Symlink(filepath.Join("..data", k.ID), filepath.Join(dir, k.ID)))
	}
	r, err := LoadKeyRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.SigningKeyID() != key2.ID || len(r.keys) != 2 {
		t.Errorf("loaded %d keys, signing with %q", len(r.keys), r.SigningKeyID())
	}
	if _, err := LoadKeyRing(t.TempDir()); err == nil {
		t.Error("an empty directory gave a key ring")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Whatever the input, Verify does not panic; a token it accepts is exactly what signing its
// claims gives, so no two texts verify to the same claims (no malleability).
func FuzzVerify(f *testing.F) {
	r := ring(f, key1)
	tok, _ := r.Sign(claim)
	f.Add(tok)
	f.Add(tok[:20])
	f.Add("")
	f.Add("AQEB")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := r.Verify(s, now)
		if err != nil {
			if err != ErrInvalid && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := r.Sign(c)
		if err != nil || again != s {
			t.Fatalf("accepted %q, but its claims sign as %q (%v)", s, again, err)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	r := ring(b, key1)
	for b.Loop() {
		_, _ = r.Sign(claim)
	}
}

func BenchmarkVerify(b *testing.B) {
	r := ring(b, key1, key2)
	tok, _ := r.Sign(claim)
	for b.Loop() {
		_, _ = r.Verify(tok, now)
	}
}
