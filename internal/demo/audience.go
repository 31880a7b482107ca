// Package demo is the synthetic side of `make demo` and the end-to-end tests: an audience of
// residents with a housing association's tenure mix, and a respondent who reads the invitations
// that arrived at the demo's mail sink, follows their links and answers the survey page the way
// real tenants spread their answers. Nothing here is used by the operator itself.
package demo

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
)

// tenures is the mix of a mid-sized housing association's homes (general needs, shared
// ownership, supported and older persons' housing).
var tenures = []struct {
	name   string
	weight int
}{{"general-needs", 70}, {"shared-ownership", 12}, {"supported", 8}, {"older-persons", 10}}

var areas = []string{"Riverside", "Northgate", "Millbrook", "Eastfield", "Hollins Park"}

// WriteAudience writes n synthetic residents as CSV: tenancy_ref, email, mobile, tenure, area.
// Every address is in the example.org domain and reaches nobody; the same seed gives the same
// file.
func WriteAudience(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"tenancy_ref", "email", "mobile", "tenure", "area"}); err != nil {
		return err
	}
	total := 0
	for _, t := range tenures {
		total += t.weight
	}
	for i := 1; i <= n; i++ {
		pick, tenure := r.IntN(total), ""
		for _, t := range tenures {
			if pick < t.weight {
				tenure = t.name
				break
			}
			pick -= t.weight
		}
		ref := fmt.Sprintf("T%06d", 100000+i)
		mobile := ""
		if r.IntN(10) < 6 {
			mobile = fmt.Sprintf("+44 7700 9%05d", r.IntN(100000))
		}
		if err := cw.Write([]string{ref, "tenant." + ref + "@residents.example.org", mobile, tenure, areas[r.IntN(len(areas))]}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
