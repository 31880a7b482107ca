package collector

import (
	"net/http"

	"github.com/surveyops/survey-operator/internal/gated"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// erase erases every record of one person in a namespace, on their request: the manager's or
// the namespace's eraser credential. The log line, like the erasure log, names the erasure, not
// the person.
func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	namespace := pathID(r, "namespace")
	if !permit(w, r, namespace) {
		return
	}
	var req responseapi.ErasureRequest
	if !decode(w, r, &req) {
		return
	}
	id, err := gated.ParseName(req.ID)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "id: the person's id in the audience, text of 1 to 253 bytes")
		return
	}
	got, err := s.store.Erase(r.Context(), pathName(r, "namespace"), id, s.cfg.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.log.Info("erased a person's data", "namespace", namespace, "erasure", got.ID, "by", string(scopeOf(r).Kind))
	writeJSON(w, http.StatusOK, responseapi.Erasure{ID: got.ID, ErasedAt: got.ErasedAt, Invitations: got.Invitations,
		Responses: got.Responses, Answers: got.Answers, Cases: got.Cases, OptOuts: got.OptOuts, Suppressions: got.Suppressions, Events: got.Events,
		Decisions: got.Decisions})
}
