// Package jsontext checks JSON text as received, before a decoder sees it, for what Go's
// encoding/json would take without a word: bytes that are not UTF-8 (it would keep U+FFFD),
// an escaped NUL (\u0000) and a lone surrogate (\ud800, kept as U+FFFD). The response
// service's strict decoder and the touch-point reader both refuse these.
package jsontext

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Errors of Check.
var (
	ErrNotUTF8       = errors.New("it is not valid UTF-8")
	ErrMalformed     = errors.New("a malformed \\u escape")
	ErrNUL           = errors.New("a NUL character (\\u0000)")
	ErrLoneSurrogate = errors.New("a lone surrogate")
)

// Check refuses JSON text that is not UTF-8, or whose strings escape a NUL or a lone
// surrogate. It does not otherwise check the JSON: a decoder does.
func Check(data []byte) error {
	if !utf8.Valid(data) {
		return ErrNotUTF8
	}
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\' && i+1 < len(data):
			i++
			if data[i] != 'u' || i+4 >= len(data) {
				continue
			}
			r, err := strconv.ParseUint(string(data[i+1:i+5]), 16, 32)
			if err != nil {
				return ErrMalformed
			}
			i += 4
			switch {
			case r == 0:
				return ErrNUL
			case 0xDC00 <= r && r <= 0xDFFF:
				return ErrLoneSurrogate
			case 0xD800 <= r && r <= 0xDBFF:
				low := uint64(0)
				if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
					low, _ = strconv.ParseUint(string(data[i+3:i+7]), 16, 32)
				}
				if low < 0xDC00 || low > 0xDFFF {
					return ErrLoneSurrogate
				}
				i += 6
			}
		}
	}
	return nil
}
