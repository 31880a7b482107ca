package collector

import (
	"context"
	"errors"
	"sync"
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
	if err != nil {
		return token.Claims{}, token.ErrInvalid
	}
	namespace, err := s.namespaces.of(ctx, s.cfg.Store, peek.CampaignUID, peek.Wave)
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

// namespaces remembers the namespace of each campaign whose waves were found: a campaign's UID
// names it for its life, and its namespace never changes. At most maxNamespaces are kept, then
// it starts again; only campaigns the store knows get in, so forged tokens cannot fill it.
type namespaces struct {
	mu sync.Mutex
	m  map[string]string
}

const maxNamespaces = 4096

func (n *namespaces) of(ctx context.Context, st store.Store, campaignUID, waveID string) (string, error) {
	n.mu.Lock()
	ns, ok := n.m[campaignUID]
	n.mu.Unlock()
	if ok {
		return ns, nil
	}
	wave, err := st.GetWave(ctx, campaignUID, waveID)
	if err != nil {
		return "", err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) >= maxNamespaces {
		n.m = map[string]string{}
	}
	n.m[campaignUID] = wave.Namespace
	return wave.Namespace, nil
}
