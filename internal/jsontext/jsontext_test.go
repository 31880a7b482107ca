package jsontext

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"plain":                            {`{"a":"café"}`, nil},
		"a surrogate pair":                 {`{"a":"\ud83d\ude00"}`, nil},
		"an escaped backslash, then u0000": {`{"a":"\\u0000"}`, nil},
		"an escaped quote, then a NUL":     {`{"a":"\"\u0000"}`, ErrNUL},
		"outside a string":                 {`{"\u0041":1} \u0000`, nil}, // a decoder refuses it
		"a NUL":                            {`{"a":"\u0000"}`, ErrNUL},
		"a NUL in a key":                   {`{"\u0000":1}`, ErrNUL},
		"a lone low surrogate":             {`{"a":"\udc00"}`, ErrLoneSurrogate},
		"a high surrogate at the end":      {`{"a":"\ud800"}`, ErrLoneSurrogate},
		"a high surrogate, then a letter":  {`{"a":"\ud800\u0041"}`, ErrLoneSurrogate},
		"a high surrogate, then text":      {`{"a":"\ud800abcdef"}`, ErrLoneSurrogate},
		"a malformed escape":               {`{"a":"\uZZZZ"}`, ErrMalformed},
		"invalid UTF-8":                    {"{\"a\":\"caf\xff\"}", ErrNotUTF8},
	} {
		if err := Check([]byte(tc.in)); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
