package collector

import (
	"context"
	"errors"
	"net/http"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
)

// A Bearer route admits the kinds of credential its Route lists (a master token is the
// manager's; senders and readers hold credentials derived from it for one namespace), and a
// sender's or a reader's only for data of its namespace: the waves it names must have been
// registered in that namespace, the FollowUp it names must be of it. Anything else is 403, the
// same whether the wave or FollowUp exists in another namespace or not at all.

type scopeKey struct{}

func scopeOf(r *http.Request) apitoken.Scope {
	s, _ := r.Context().Value(scopeKey{}).(apitoken.Scope)
	return s
}

// authorize admits a request to a Bearer route with a credential the route allows, given in
// responseapi.CredentialHeader (through the API server's service proxy) or as the
// Authorization header's bearer token.
func (s *Server) authorize(route responseapi.Route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := headerValue(r, responseapi.CredentialHeader), true
		if given == "" {
			given, ok = cutBearer(headerValue(r, "Authorization"))
		}
		scope, valid := apitoken.Authenticate([]byte(given), s.cfg.APITokens())
		if !ok || !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="survey-collector"`)
			writeJSONError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if !route.Allows(scope.Kind) {
			writeJSONError(w, http.StatusForbidden, "a "+string(scope.Kind)+" credential cannot call this route")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scopeKey{}, scope)))
	})
}

func cutBearer(header string) (string, bool) {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || header[:len(prefix)] != prefix {
		return "", false
	}
	return header[len(prefix):], true
}

func forbidden(w http.ResponseWriter) {
	writeJSONError(w, http.StatusForbidden, "this credential is for another namespace")
}

// permit answers 403, and false, unless the caller may act on a namespace's data.
func permit(w http.ResponseWriter, r *http.Request, namespace string) bool {
	if !scopeOf(r).Permits(namespace) {
		forbidden(w)
		return false
	}
	return true
}

// permitWaves answers 403 (or the store's failure), and false, unless every wave was registered
// in a namespace the caller may act on. The manager's master token looks nothing up.
func (s *Server) permitWaves(w http.ResponseWriter, r *http.Request, waves ...store.WaveRef) bool {
	scope := scopeOf(r)
	if scope.Kind == apitoken.Manager {
		return true
	}
	seen := map[store.WaveRef]bool{}
	for _, wave := range waves {
		if seen[wave] {
			continue
		}
		seen[wave] = true
		namespace, err := s.namespaceOf(r.Context(), wave.CampaignUID, wave.WaveID)
		if !s.permitFound(w, r, namespace, err) {
			return false
		}
	}
	return true
}

// permitFollowUp answers 403 (or the store's failure), and false, unless the FollowUp is of a
// namespace the caller may act on.
func (s *Server) permitFollowUp(w http.ResponseWriter, r *http.Request, uid string) bool {
	if scopeOf(r).Kind == apitoken.Manager {
		return true
	}
	rule, err := s.store.GetFollowUp(r.Context(), nameOf(uid))
	return s.permitFound(w, r, rule.Namespace, err)
}

// permitFound is permit for the namespace of data looked up: data not found is 403 like data
// of another namespace, and a failure of the store is the store's error.
func (s *Server) permitFound(w http.ResponseWriter, r *http.Request, namespace string, err error) bool {
	switch {
	case errors.Is(err, store.ErrNotFound):
		forbidden(w)
		return false
	case err != nil:
		s.storeError(w, err)
		return false
	}
	return permit(w, r, namespace)
}
