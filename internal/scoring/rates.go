package scoring

// Dispositions are the final outcomes of a wave's invitations, in the categories of the AAPOR
// Standard Definitions. The people asked come from the organisation's own list of residents or
// customers, so everyone invited is known to be eligible unless marked otherwise.
//
// How the operator maps its ledger onto them:
//   - Complete (I): a submitted response with every required question answered.
//   - Partial (P): a response saved with some, not all, required questions answered.
//   - Refusal (R): opted out, or refused, after the invitation.
//   - NonContact (NC): the invitation could not be delivered (bounce, gateway refusal).
//   - NoAnswer: delivered, and nothing came back (AAPOR's eligible non-interview).
//   - UnknownEligibility (UH, UO): whether the person is in scope is not known.
//   - NotEligible: out of scope (for example the tenancy ended); left out of every rate.
//
// People left out before sending (opted out earlier, contacted too recently) were never
// invited and are in none of these.
type Dispositions struct {
	Complete, Partial, Refusal, NonContact, NoAnswer, UnknownEligibility, NotEligible int
}

// eligibleKnown is every invitation known to be eligible.
func (d Dispositions) eligibleKnown() float64 {
	return float64(d.Complete + d.Partial + d.Refusal + d.NonContact + d.NoAnswer)
}

// RR1 is AAPOR response rate 1, the minimum response rate: completes over everyone possibly
// eligible, I / ((I+P) + (R+NC+O) + (UH+UO)). It is NaN with nobody invited.
func (d Dispositions) RR1() float64 {
	return ratio(float64(d.Complete), d.eligibleKnown()+float64(d.UnknownEligibility))
}

// RR2 is AAPOR response rate 2: complete and partial responses over everyone possibly eligible,
// (I+P) / ((I+P) + (R+NC+O) + (UH+UO)).
//
// RR2 is the rate the operator reports in status and compares with spec.targets.responseRate:
// a partial response still carries answers that count towards the scores, and with a list of
// known residents there is rarely any unknown eligibility to estimate, so RR2 equals RR4.
func (d Dispositions) RR2() float64 {
	return ratio(float64(d.Complete+d.Partial), d.eligibleKnown()+float64(d.UnknownEligibility))
}

// RR3 is AAPOR response rate 3: like RR1 with only the estimated eligible share e (0..1) of the
// cases of unknown eligibility in the denominator.
func (d Dispositions) RR3(e float64) float64 {
	return ratio(float64(d.Complete), d.eligibleKnown()+clamp(e, 0, 1)*float64(d.UnknownEligibility))
}

// RR4 is AAPOR response rate 4: like RR2 with only the estimated eligible share e (0..1) of the
// cases of unknown eligibility in the denominator.
func (d Dispositions) RR4(e float64) float64 {
	return ratio(float64(d.Complete+d.Partial), d.eligibleKnown()+clamp(e, 0, 1)*float64(d.UnknownEligibility))
}

func ratio(num, den float64) float64 {
	if den <= 0 {
		return nan()
	}
	return num / den
}
