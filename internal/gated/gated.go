// Package gated holds what has passed the response service's gate, in types that only its
// constructors make, and the store as the service's handlers call it: through Store, whose
// methods take those types for every name and text, and check every string of the rows they are
// given, before the database sees any of it.
//
// The response service (internal/collector) reads a request only through its gate's accessors
// (a lint rule holds it), and reaches the store only through Store (the same rule forbids
// store.Store's methods there). So a value from a request can reach the database only as a
// Name or a Text, made by ParseName or ParseText, or inside a row that Store has checked
// field by field: a handler that forgets to check something gets a bad-input error (answered
// 400), never a server error from the database, and nothing is written.
package gated

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
)

// Bounds of what passes.
const (
	// MaxName bounds a Name: what the stores key their rows by and can index (a person's key,
	// a wave's id, a namespace, a segment, a channel, a campaign's or a FollowUp's UID).
	MaxName = 253
	// MaxText bounds a Text (a reason, a ticket reference, a question's id to pair with).
	MaxText = 4096
	// MaxRowText bounds any other string of a row given to the store (a written answer, a
	// condition of a FollowUp).
	MaxRowText = 64 << 10
)

// ErrInvalid is a value that did not pass. It is a store.ErrBadInput, so that the service
// answers it as it answers what the database refuses: 400.
var ErrInvalid = fmt.Errorf("%w: a value did not pass the gate", store.ErrBadInput)

// Name is a value the store keys its rows by: 1 to MaxName bytes of plain text with no control
// characters at all (no tab or line break either). Only ParseName makes one.
type Name struct{ s string }

// ParseName checks s as a Name.
func ParseName(s string) (Name, error) {
	if !validName(s) {
		return Name{}, fmt.Errorf("%w: a name must be 1 to %d bytes of text without control characters", ErrInvalid, MaxName)
	}
	return Name{s}, nil
}

// ParseNames checks each of ss as a Name.
func ParseNames(ss []string) ([]Name, error) {
	out := make([]Name, len(ss))
	for i, s := range ss {
		n, err := ParseName(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = n
	}
	return out, nil
}

// String is the name.
func (n Name) String() string { return n.s }

// IsZero reports whether n is the zero Name, which no ParseName makes.
func (n Name) IsZero() bool { return n.s == "" }

// Text is plain text of at most MaxText bytes, possibly empty: valid UTF-8 with no NUL and no
// control character but tab, line feed and carriage return. Only ParseText makes one.
type Text struct{ s string }

// ParseText checks s as a Text.
func ParseText(s string) (Text, error) {
	if len(s) > MaxText || !plainText(s) {
		return Text{}, fmt.Errorf("%w: text must be at most %d bytes of UTF-8 without control characters", ErrInvalid, MaxText)
	}
	return Text{s}, nil
}

// String is the text.
func (t Text) String() string { return t.s }

func validName(s string) bool {
	return s != "" && len(s) <= MaxName && survey.PlainText(s) && !strings.ContainsAny(s, "\t\n\r")
}

// plainText: valid UTF-8, no NUL and no control character but tab, line feed and carriage
// return (the survey's rule for the text it keeps).
func plainText(s string) bool { return survey.PlainText(s) }

// CheckRow checks every string a row holds, however deep (struct fields, slices, maps' keys
// and values, pointers): a field tagged `gate:"name"` (a map's keys and a slice's elements
// too, for a map or slice field so tagged) is empty or a Name; one tagged `gate:"key"` is a
// Name, never empty (a key the row is stored under); every other string is plain text of at
// most MaxRowText bytes. Byte slices are not text and are not checked; unexported
// fields (a time.Time's) are not reached. The error names the field: "Response.Answers[2].Text".
func CheckRow(row any) error {
	v := reflect.ValueOf(row)
	if !v.IsValid() {
		return nil
	}
	return walk(v, v.Type().Name(), text)
}

// rule is what a string of a row must be.
type rule int

const (
	text rule = iota // plain text, at most MaxRowText
	name             // empty, or a Name
	key              // a Name
)

// ruleOf is a field's rule: its tag's, else the rule it is within (a tagged slice's elements).
func ruleOf(f reflect.StructField, within rule) rule {
	switch f.Tag.Get("gate") {
	case "key":
		return key
	case "name":
		return max(within, name)
	}
	return within
}

func walk(v reflect.Value, at string, r rule) error {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		switch {
		case r == key && !validName(s):
			return fmt.Errorf("%w: %s must be 1 to %d bytes of text without control characters", ErrInvalid, at, MaxName)
		case r == name && s != "" && !validName(s):
			return fmt.Errorf("%w: %s must be empty or 1 to %d bytes of text without control characters", ErrInvalid, at, MaxName)
		case r == text && (len(s) > MaxRowText || !plainText(s)):
			return fmt.Errorf("%w: %s must be at most %d bytes of UTF-8 without control characters", ErrInvalid, at, MaxRowText)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return walk(v.Elem(), at, r)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			field := at + "." + f.Name
			if f.Anonymous {
				field = at
			}
			if err := walk(v.Field(i), field, ruleOf(f, r)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes, not text
		}
		for i := range v.Len() {
			if err := walk(v.Index(i), at+"["+strconv.Itoa(i)+"]", r); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := walk(it.Key(), at+"[key]", r); err != nil {
				return err
			}
			if err := walk(it.Value(), at+"[value]", r); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsInvalid reports whether err is a value that did not pass.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
