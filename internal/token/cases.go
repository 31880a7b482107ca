package token

import (
	"strings"
	"time"
)

// Case names a follow-up case: a FollowUp's case for one person in one wave. A case link
// (PurposeResolve) carries it: "is it sorted?" for the person, and the case id a ticket webhook
// gives the helpdesk, which sends it back when the ticket is resolved.
type Case struct {
	FollowUpUID  string
	CampaignUID  string
	WaveID       string
	RecipientKey string
}

// SignCase makes a case's link token, valid until expiry.
func (r *KeyRing) SignCase(k Case, expiry time.Time) (string, error) {
	return r.Sign(Claims{Purpose: PurposeResolve, CampaignUID: k.CampaignUID, Wave: k.WaveID,
		Recipient: k.FollowUpUID + "/" + k.RecipientKey, Expiry: expiry})
}

// CaseOf reads the case a verified case link names; false for a link of another purpose or
// one that names no case.
func CaseOf(c Claims) (Case, bool) {
	fu, who, ok := strings.Cut(c.Recipient, "/")
	if c.Purpose != PurposeResolve || !ok || fu == "" || who == "" {
		return Case{}, false
	}
	return Case{FollowUpUID: fu, CampaignUID: c.CampaignUID, WaveID: c.Wave, RecipientKey: who}, true
}
