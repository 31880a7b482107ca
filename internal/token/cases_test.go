package token

import (
	"bytes"
	"testing"
	"time"
)

func TestCaseLinks(t *testing.T) {
	r, err := NewKeyRing(Key{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	k := Case{FollowUpUID: "fu-1", CampaignUID: "3f2b6c1e-8a4d-4e5f-9b7a-0c1d2e3f4a5b", WaveID: "20260401-0900", RecipientKey: "T-1/flat 2"}
	tok, err := r.SignCase(k, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := CaseOf(c); !ok || got != k {
		t.Errorf("CaseOf = %+v, %v; want %+v", got, ok, k)
	}
	for name, claims := range map[string]Claims{
		"a survey link":       {Purpose: PurposeSurvey, CampaignUID: k.CampaignUID, Wave: k.WaveID, Recipient: "fu-1/T-1"},
		"no follow-up":        {Purpose: PurposeResolve, CampaignUID: k.CampaignUID, Wave: k.WaveID, Recipient: "/T-1"},
		"no person":           {Purpose: PurposeResolve, CampaignUID: k.CampaignUID, Wave: k.WaveID, Recipient: "fu-1/"},
		"no separator at all": {Purpose: PurposeResolve, CampaignUID: k.CampaignUID, Wave: k.WaveID, Recipient: "fu-1"},
	} {
		if got, ok := CaseOf(claims); ok {
			t.Errorf("%s: CaseOf = %+v, want none", name, got)
		}
	}
}
