package audience

import (
	"fmt"
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// A FollowUp's trigger.when is a CEL expression over one response: response.answers (a map
// from question id to the answer: a number for scale questions, the choice's text for Choice,
// the text for Text; a question skipped or answered "don't know" is absent), response.segment
// and response.channel. It is compiled and evaluated here, beside the audience's segment
// expressions, with the same checks: the manager compiles it to validate the FollowUp, the
// response service to evaluate it as each response is committed.

var triggerEnv = func() *cel.Env {
	e, err := cel.NewEnv(cel.Variable("response", cel.MapType(cel.StringType, cel.DynType)), ext.Strings())
	if err != nil {
		panic(err)
	}
	return e
}()

// responseFields are the fields of response.
var responseFields = []string{"answers", "segment", "channel"}

// CompileTrigger compiles a boolean trigger expression. When questions is not nil, a reference
// to a question outside it (response.answers.overal) is an error, and so is a field of response
// other than answers, segment and channel.
func CompileTrigger(expr string, questions []string) (cel.Program, error) {
	checked, iss := triggerEnv.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if checked.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("the expression gives %s; it must give true or false", checked.OutputType())
	}
	for _, f := range fieldsOf(checked, "response") {
		if !slices.Contains(responseFields, f) {
			return nil, fmt.Errorf("response has no field %q; it has answers, segment and channel", f)
		}
	}
	if questions != nil {
		for _, q := range fieldsOf(checked, "response.answers") {
			if !slices.Contains(questions, q) {
				return nil, fmt.Errorf("the survey has no question %q; its questions are %v", q, questions)
			}
		}
	}
	return triggerEnv.Program(checked)
}

// Matches evaluates a compiled trigger for one response. An error (an answer of the wrong type
// for a comparison) is returned, not taken as false.
func Matches(prg cel.Program, answers map[string]any, segment, channel string) (bool, error) {
	out, _, err := prg.Eval(map[string]any{"response": map[string]any{"answers": answers, "segment": segment, "channel": channel}})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %v, not true or false", out.Value())
	}
	return b, nil
}
