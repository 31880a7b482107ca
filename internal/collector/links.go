package collector

import (
	"context"
	"errors"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// verify checks a link token with the keys of its campaign's namespace
// (token.KeyRing.ForNamespace): a namespace's keys, which its sending Jobs hold, sign links for
// its own campaigns only. The namespace is the one the manager registered the campaign's waves
// in; a token naming a wave the service does not know is invalid like any forgery. A link
// signed with the master keys themselves (every link sent before keys were per namespace) is
// also accepted: only the operator's namespace holds them.
//
// err is token.ErrInvalid, token.ErrExpired (with the claims), or the store's error.
func (s *Server) verify(ctx context.Context, tok string, now time.Time) (token.Claims, error) {
	peek, err := token.Peek(tok)
	// The claims are not verified yet: they serve only to find the key, and pass the gate
	// before they do (a made-up wave id of NUL bytes must never reach the store).
	if err != nil || !validToken(tok) || !ValidID(peek.CampaignUID) || !ValidID(peek.Wave) {
		return token.Claims{}, token.ErrInvalid
	}
	namespace, err := s.namespaceOf(ctx, peek.CampaignUID, peek.Wave)
	if errors.Is(err, store.ErrNotFound) {
		return token.Claims{}, token.ErrInvalid
	}
	if err != nil {
		return token.Claims{}, err
	}
	master := s.cfg.Keys()
	c, err := master.ForNamespace(namespace).Verify(tok, now)
	if errors.Is(err, token.ErrInvalid) {
		c, err = master.Verify(tok, now)
	}
	return c, err
}

// linkError tells a verification's refusal (invalid or expired) from a failure of the store.
func linkError(err error) bool {
	return err == nil || errors.Is(err, token.ErrInvalid) || errors.Is(err, token.ErrExpired)
}

// maxNamespaces bounds the namespaces of campaigns the server remembers: a campaign's UID names
// it for its life, and its namespace never changes. Only campaigns the store knows get in, so
// forged tokens cannot fill it.
const maxNamespaces = 4096

// namespaceOf is the namespace of the campaign a wave belongs to.
func (s *Server) namespaceOf(ctx context.Context, campaignUID, waveID string) (string, error) {
	return s.namespaces.get(campaignUID, func() (string, error) {
		wave, err := s.store.GetWave(ctx, nameOf(campaignUID), nameOf(waveID))
		return wave.Namespace, err
	})
}
