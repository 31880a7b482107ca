package audience

import (
	"fmt"
	"strings"
)

// Placement is what became of one person placed on their own (Place).
type Placement int

const (
	// Placed: in a segment, in its sample, and reachable through one of its channels.
	Placed Placement = iota
	// NoSegment: no segment's match takes them.
	NoSegment
	// NotSampled: in a segment, outside its sample.
	NotSampled
	// Unreachable: in a segment and its sample, with no contact for any of its channels.
	Unreachable
)

func (p Placement) String() string {
	switch p {
	case Placed:
		return "placed"
	case NoSegment:
		return "no-segment"
	case NotSampled:
		return "not-sampled"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("Placement(%d)", int(p))
}

// Place places one person, given as their fields (a touch-point event's data, which a campaign
// maps with the same idField, contact and language columns as an audience file's), as Scan and
// Select place a line: their id, their segment (the first whose match is true), the first of
// its channels with a contact, their contacts and their language.
//
// A sampled segment (Percent) takes a person when the hash of seed and sampleKey falls in its
// share, as a scan's sample does: for an event, sampleKey is its source and id, so the same
// event delivered twice is always in or always out. A segment sampled by Count (a number to ask
// of a whole list) has no meaning for one person: Place refuses it.
//
// Unlike a list's line, which is counted unreachable, data with no contact for any channel is
// an error: an event that can reach nobody is a producer's mistake, to be refused, not counted.
//
// An error is the person's data that cannot be placed, named by field and never quoted (a
// *LineError without a line): no id, an id that is not one, no contact for any channel of the
// campaign, or a match that cannot be evaluated on it.
func (p *Plan) Place(fields map[string]string, seed, sampleKey string) (Invitee, Placement, error) {
	rec := &Record{Attrs: fields, names: p.names}
	id, _ := rec.slot(p.idSlot) // as a list's line gives it: not trimmed
	if id == "" {
		return Invitee{}, 0, lineErr(0, "the data has no %q, the person's id", p.spec.IDField)
	}
	if bad := badID(id); bad != "" {
		return Invitee{}, 0, lineErr(0, "%q %s", p.spec.IDField, bad)
	}
	contacts := p.contacts(rec)
	if len(contacts.Map()) == 0 {
		return Invitee{}, 0, lineErr(0, "the data has no contact: none of %s", p.contactFields())
	}
	seg, err := p.segmentOf(rec, nil)
	if err != nil {
		return Invitee{}, 0, err
	}
	inv := Invitee{Key: id, Contacts: contacts, Language: p.language(rec)}
	if seg < 0 {
		return inv, NoSegment, nil
	}
	s := p.spec.Segments[seg]
	inv.Segment = s.Name
	if s.Count > 0 {
		return inv, 0, lineErr(0, "spec.audience.segments[%d].sample.count: a number to ask of a list; one person at a time can only be sampled by percent", seg)
	}
	// Reachability, then the sample, in the order a list's scan decides them.
	inv.Channel, inv.Contact = p.reach(seg, rec)
	if inv.Channel == "" {
		return inv, Unreachable, nil
	}
	if s.Percent > 0 && s.Percent < 100 && hash(seed, sampleKey) > percentThreshold(s.Percent) {
		return Invitee{Key: id, Segment: s.Name, Contacts: contacts, Language: inv.Language}, NotSampled, nil
	}
	return inv, Placed, nil
}

// contactFields names the contact columns, in channel order: "email (email), mobile (sms)".
func (p *Plan) contactFields() string {
	parts := make([]string, len(p.channels))
	for i, ch := range p.channels {
		parts[i] = fmt.Sprintf("%q (%s)", p.spec.ContactColumns[ch], ch)
	}
	return strings.Join(parts, ", ")
}

// Reach finds, in one person's fields (the data of a touch-point event that invited them), the
// first of channels with a contact, as Lookup finds it in a list's line: for a follow-up of a
// campaign whose people came in events. ok is false when none of them has one.
func (p *Plan) Reach(fields map[string]string, channels []string) (inv Invitee, ok bool) {
	rec := &Record{Attrs: fields, names: p.names}
	key, _ := rec.slot(p.idSlot)
	for _, ch := range channels {
		if v, _ := rec.Get(p.spec.ContactColumns[ch]); v != "" {
			return Invitee{Key: key, Channel: ch, Contact: v, Contacts: p.contacts(rec), Language: p.language(rec)}, true
		}
	}
	return Invitee{Key: key}, false
}
