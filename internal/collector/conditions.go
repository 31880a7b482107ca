package collector

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"

	"github.com/surveyops/survey-operator/internal/audience"
	"github.com/surveyops/survey-operator/internal/survey"
)

// Questions asked on a condition (a question's showIf). The service alone decides which
// questions the answers so far call for, the same way whether the page asks it as the person
// answers (JavaScript, POST /s/{token}/visible) or the person sends the form and gets the page
// back with the questions their answers brought up (no JavaScript).

// shows decides a conditional question by its compiled showIf. A condition that does not
// compile (the manager refuses such a campaign) asks nothing.
func (s *Server) shows(q survey.Question, earlier map[string]any) bool {
	prg, err := s.conditions.get(q.ShowIf, func() (cel.Program, error) { return audience.CompileShowIf(q.ShowIf, nil) })
	return err == nil && audience.Shown(prg, earlier)
}

// asked are the questions a set of form values calls for.
func (s *Server) asked(def survey.Definition, get func(field string) []string) map[string]bool {
	_, asked, _, _ := def.ReadForm(get, true, s.shows)
	out := make(map[string]bool, len(asked))
	for _, id := range asked {
		out[id] = true
	}
	return out
}

// shownField is the form field listing the questions the page showed, space-separated.
const shownField = "shown"

// unseen reports whether the answers sent call for a question the page did not show.
func unseen(asked []string, shown string) bool {
	seen := strings.Fields(shown)
	for _, id := range asked {
		if !slices.Contains(seen, id) {
			return true
		}
	}
	return false
}

// visible answers the questions the answers so far call for: {"visible": [ids]}.
func (s *Server) visible(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := parseForm(r); err != nil {
		writeJSONError(w, http.StatusBadRequest, "the answers could not be read")
		return
	}
	l, ok := s.open(w, r)
	if !ok {
		return
	}
	_, asked, _, _ := l.def.ReadForm(formField(r), true, s.shows)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"visible": asked})
}
