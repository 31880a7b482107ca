package audience

import (
	"fmt"
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// A question's showIf is a CEL expression over answers: a map from the id of each earlier
// question answered to its answer (a number for a scale, the choice's text for a Choice, the
// text for Text; a question skipped, not asked or answered "don't know" is absent). The manager
// compiles it to validate the campaign; the response service evaluates it as a person answers.

var showIfEnv = func() *cel.Env {
	e, err := cel.NewEnv(cel.Variable("answers", cel.MapType(cel.StringType, cel.DynType)), ext.Strings())
	if err != nil {
		panic(err)
	}
	return e
}()

// CompileShowIf compiles a question's condition. When earlier is not nil, a reference to a
// question outside it (a later question, or none) is an error.
func CompileShowIf(expr string, earlier []string) (cel.Program, error) {
	checked, iss := showIfEnv.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if checked.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("the expression gives %s; it must give true or false", checked.OutputType())
	}
	if earlier != nil {
		for _, q := range fieldsOf(checked, "answers") {
			if !slices.Contains(earlier, q) {
				return nil, fmt.Errorf("answers.%s is not an earlier question; a condition may read only the questions before it (%v)", q, earlier)
			}
		}
	}
	return showIfEnv.Program(checked)
}

// Shown evaluates a compiled condition. A condition that cannot be evaluated (it reads an
// earlier question left unanswered, or compares an answer of another type) is false: the
// question is not asked.
func Shown(prg cel.Program, answers map[string]any) bool {
	out, _, err := prg.Eval(map[string]any{"answers": answers})
	if err != nil {
		return false
	}
	b, ok := out.Value().(bool)
	return ok && b
}
