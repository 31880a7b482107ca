package token

import (
	"bytes"
	"testing"
	"time"
)

// A token has one spelling: no character the decoder would skip (CR, LF), no padding, and no
// other last character that decodes to the same bytes.
func TestOneSpelling(t *testing.T) {
	r, err := NewKeyRing(Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	tok, err := r.Sign(Claims{Purpose: PurposeSurvey, CampaignUID: "3f2b6c1e-8a4d-4e5f-9b7a-0c1d2e3f4a5b", Wave: "20260401-0900",
		Recipient: "T-1", Segment: "general-needs", Channel: "sms", Expiry: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(tok, now); err != nil {
		t.Fatalf("the token itself: %v", err)
	}
	accepted := 0
	try := func(s string) {
		if s == tok {
			return
		}
		if _, err := r.Verify(s, now); err == nil {
			accepted++
			t.Errorf("another spelling accepted: %q", s)
		}
	}
	for i := 0; i <= len(tok); i++ {
		for _, extra := range []string{"\n", "\r", "\r\n", "=", " "} {
			try(tok[:i] + extra + tok[i:])
		}
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range alphabet { // the last character carries padding bits
		try(tok[:len(tok)-1] + string(c))
	}
	try(tok + "==")
	if accepted != 0 {
		t.Errorf("%d other spellings accepted", accepted)
	}
}
