// Package token signs and verifies the personal links sent to respondents.
//
// A token carries who was invited to what: the campaign UID, the wave, the recipient's key, the
// segment, the channel, the purpose of the link and its expiry, signed with HMAC-SHA256 (the tag
// truncated to 128 bits, as RFC 2104 allows) under a key of a key ring. It is URL-safe base64 of
// a compact binary form; with typical values (a 13-character wave id, a 12-character tenancy
// reference, a segment and a channel name) it is about 100 characters.
//
// Keys rotate without breaking links already sent: the newest key of the ring signs, and every
// key of the ring verifies. The key id travels in the token as one byte, so verification tries
// only the keys that share it.
//
// Verification fails with ErrInvalid for anything forged, truncated, altered, signed with a key
// no longer in the ring or meant for another campaign or purpose, without saying which check
// failed. Only an authentic token whose time has passed gets ErrExpired, with its claims, so the
// page can say when the survey closed.
package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Purpose says what a link is for, so that a link for one use cannot be replayed for another.
type Purpose byte

const (
	// PurposeSurvey is a survey invitation; the same token also opts its holder out.
	PurposeSurvey Purpose = 1
	// PurposeResolve is a follow-up link where the person says whether the matter is resolved;
	// Recipient then holds the follow-up case id.
	PurposeResolve Purpose = 2
)

// Claims are what a token asserts.
type Claims struct {
	Purpose     Purpose
	CampaignUID string // a UUID, as Kubernetes writes metadata.uid
	Wave        string
	Recipient   string
	Segment     string
	Channel     string
	Expiry      time.Time // second precision
}

var (
	// ErrInvalid is every refusal except expiry. It deliberately does not say which check failed.
	ErrInvalid = errors.New("invalid link")
	// ErrExpired is an authentic token past its expiry.
	ErrExpired = errors.New("link expired")
)

const (
	version    = 1
	tagSize    = 16
	maxField   = 255
	headerSize = 1 + 1 + 4 + 16 // version and purpose, key id, expiry, campaign UID
	// MaxLength bounds the text of a token; longer input is refused before decoding.
	MaxLength = 4 * (headerSize + 4*(1+maxField) + tagSize) / 3
)

// encoding is strict: no padding bits set, and (checked before decoding) no character outside
// the URL-safe alphabet, such as the CR and LF the decoder would otherwise skip. A token has
// one spelling.
var encoding = base64.RawURLEncoding.Strict()

// urlSafe reports whether s holds only characters of the URL-safe base64 alphabet.
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Sign returns the token for claims, signed with the newest key of the ring.
func (r *KeyRing) Sign(c Claims) (string, error) {
	key := r.signing()
	if key == nil {
		return "", errors.New("the key ring is empty")
	}
	uid, err := parseUUID(c.CampaignUID)
	if err != nil {
		return "", err
	}
	if c.Purpose != PurposeSurvey && c.Purpose != PurposeResolve {
		return "", fmt.Errorf("unknown purpose %d", c.Purpose)
	}
	exp := c.Expiry.Unix()
	if exp <= 0 || exp > 1<<32-1 {
		return "", fmt.Errorf("expiry %s is out of range", c.Expiry)
	}
	var b bytes.Buffer
	b.WriteByte(version<<4 | byte(c.Purpose))
	b.WriteByte(key.tag)
	_ = binary.Write(&b, binary.BigEndian, uint32(exp))
	b.Write(uid[:])
	names := []string{"wave", "recipient", "segment", "channel"}
	for i, f := range []string{c.Wave, c.Recipient, c.Segment, c.Channel} {
		if len(f) > maxField {
			return "", fmt.Errorf("%s is longer than %d bytes", names[i], maxField)
		}
		b.WriteByte(byte(len(f)))
		b.WriteString(f)
	}
	b.Write(mac(key.secret, b.Bytes()))
	return encoding.EncodeToString(b.Bytes()), nil
}

// Verify checks a token at `now` and returns its claims. It fails with ErrInvalid, or with
// ErrExpired (and the claims) for an authentic token past its expiry.
func (r *KeyRing) Verify(tok string, now time.Time) (Claims, error) {
	if len(tok) > MaxLength || !urlSafe(tok) {
		return Claims{}, ErrInvalid
	}
	raw, err := encoding.DecodeString(tok)
	if err != nil || len(raw) < headerSize+4+tagSize || raw[0]>>4 != version {
		return Claims{}, ErrInvalid
	}
	body, tag := raw[:len(raw)-tagSize], raw[len(raw)-tagSize:]
	// Every key sharing the id byte is tried, without stopping at a match, and each tag is
	// compared in constant time.
	authentic := false
	for _, k := range r.keysWithTag(raw[1]) {
		if hmac.Equal(tag, mac(k.secret, body)) {
			authentic = true
		}
	}
	if !authentic {
		return Claims{}, ErrInvalid
	}
	c, err := decodeBody(body)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	if !now.Before(c.Expiry) {
		return c, ErrExpired
	}
	return c, nil
}

// Peek reads a token's claims without verifying it, so that the verifier can find which keys
// to verify it with (the namespace of its campaign). Nothing it returns may be trusted before
// Verify; a token that is not even well formed is ErrInvalid.
func Peek(tok string) (Claims, error) {
	if len(tok) > MaxLength || !urlSafe(tok) {
		return Claims{}, ErrInvalid
	}
	raw, err := encoding.DecodeString(tok)
	if err != nil || len(raw) < headerSize+4+tagSize || raw[0]>>4 != version {
		return Claims{}, ErrInvalid
	}
	return decodeBody(raw[:len(raw)-tagSize])
}

// VerifyFor is Verify that also requires the token to be of a purpose and for a campaign.
func (r *KeyRing) VerifyFor(tok string, purpose Purpose, campaignUID string, now time.Time) (Claims, error) {
	c, err := r.Verify(tok, now)
	if err != nil && !errors.Is(err, ErrExpired) {
		return Claims{}, err
	}
	if c.Purpose != purpose || c.CampaignUID != campaignUID {
		return Claims{}, ErrInvalid
	}
	return c, err
}

func decodeBody(body []byte) (Claims, error) {
	c := Claims{Purpose: Purpose(body[0] & 0x0f)}
	if c.Purpose != PurposeSurvey && c.Purpose != PurposeResolve {
		return Claims{}, ErrInvalid
	}
	exp := binary.BigEndian.Uint32(body[2:6])
	if exp == 0 { // Sign never writes it: a token has one spelling of its claims
		return Claims{}, ErrInvalid
	}
	c.Expiry = time.Unix(int64(exp), 0).UTC()
	c.CampaignUID = formatUUID(body[6:22])
	rest := body[22:]
	fields := make([]string, 4)
	for i := range fields {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return Claims{}, ErrInvalid
		}
		n := int(rest[0])
		fields[i] = string(rest[1 : 1+n])
		rest = rest[1+n:]
	}
	if len(rest) != 0 {
		return Claims{}, ErrInvalid
	}
	c.Wave, c.Recipient, c.Segment, c.Channel = fields[0], fields[1], fields[2], fields[3]
	return c, nil
}

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)[:tagSize]
}

func parseUUID(s string) ([16]byte, error) {
	var out [16]byte
	hexText := strings.ReplaceAll(s, "-", "")
	if len(s) != 36 || len(hexText) != 32 {
		return out, fmt.Errorf("campaign UID %q is not a UUID", s)
	}
	if _, err := hex.Decode(out[:], []byte(hexText)); err != nil {
		return out, fmt.Errorf("campaign UID %q is not a UUID", s)
	}
	return out, nil
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
