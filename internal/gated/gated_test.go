package gated

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/store"
)

var (
	storeType = reflect.TypeFor[store.Store]()
	gatedType = reflect.TypeFor[Store]()
	ctxType   = reflect.TypeFor[context.Context]()
	nameType  = reflect.TypeFor[Name]()
	textType  = reflect.TypeFor[Text]()
)

// Every method of store.Store has its gated twin, which takes no raw string: a new store method
// must be added here, with its names typed, before the response service can call it.
func TestEveryStoreMethodIsGated(t *testing.T) {
	for i := range storeType.NumMethod() {
		want := storeType.Method(i)
		got, ok := gatedType.MethodByName(want.Name)
		if !ok {
			t.Errorf("gated.Store has no %s: the response service could not call it, or would call store.Store directly", want.Name)
			continue
		}
		gt := got.Type // its receiver first
		if gt.NumIn()-1 != want.Type.NumIn() || gt.NumOut() != want.Type.NumOut() {
			t.Errorf("%s: gated %s, store %s", want.Name, gt, want.Type)
			continue
		}
		for j := range want.Type.NumOut() {
			if gt.Out(j) != want.Type.Out(j) {
				t.Errorf("%s: result %d is %s, the store's %s", want.Name, j, gt.Out(j), want.Type.Out(j))
			}
		}
		for j := range want.Type.NumIn() {
			in, storeIn := gt.In(j+1), want.Type.In(j)
			if rawString(in) {
				t.Errorf("%s: argument %d is %s: it must be a Name or a Text", want.Name, j, in)
			}
			typed := in == nameType || in == textType || in == reflect.SliceOf(nameType) || (storeIn.Kind() == reflect.Map && in.Key() == nameType)
			if rawString(storeIn) && !typed {
				t.Errorf("%s: argument %d is %s where the store takes %s", want.Name, j, in, storeIn)
			}
		}
	}
	if gatedType.NumMethod() != storeType.NumMethod() {
		t.Errorf("gated.Store has %d methods, store.Store %d", gatedType.NumMethod(), storeType.NumMethod())
	}
}

// rawString reports whether t is a string, or a slice or map of strings (keyed by them).
func rawString(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return t.PkgPath() == "" // store.InvitationState is a named constant set, not text from a request
	case reflect.Slice:
		return rawString(t.Elem())
	case reflect.Map:
		return rawString(t.Key())
	}
	return false
}

// Each gated method refuses, before it reaches the store, any one of its arguments that does
// not pass, the others being valid: a missing name (the zero Name, in a list or a frame's keys
// too), and a NUL in each string of each row. The store here is nil, so reaching it panics; with
// every argument valid, each method must reach it.
func TestEveryMethodRefusesBeforeTheStore(t *testing.T) {
	g := reflect.ValueOf(NewStore(nil))
	valid := func(at reflect.Type) reflect.Value {
		switch {
		case at == ctxType:
			return reflect.ValueOf(context.Background())
		case at == nameType:
			return reflect.ValueOf(Name{"n"})
		case at == reflect.SliceOf(nameType):
			return reflect.ValueOf([]Name{{"n"}, {"m"}})
		case at.Kind() == reflect.Map && at.Key() == nameType:
			m := reflect.MakeMap(at)
			m.SetMapIndex(reflect.ValueOf(Name{"n"}), reflect.Zero(at.Elem()))
			return m
		}
		return reflect.Zero(at) // a zero row passes: its names may be empty
	}
	call := func(m reflect.Method, args []reflect.Value) (reached bool, err error) {
		defer func() {
			if p := recover(); p != nil {
				reached = true
			}
		}()
		out := m.Func.Call(append([]reflect.Value{g}, args...))
		err, _ = out[len(out)-1].Interface().(error)
		return false, err
	}
	for i := range gatedType.NumMethod() {
		m := gatedType.Method(i)
		var args []reflect.Value
		for j := 1; j < m.Type.NumIn(); j++ {
			args = append(args, valid(m.Type.In(j)))
		}
		t.Run(m.Name, func(t *testing.T) {
			if reached, err := call(m, args); !reached {
				t.Fatalf("with every argument valid, it did not reach the store: %v", err)
			}
			refused := func(what string, j int, bad reflect.Value) {
				t.Helper()
				poisoned := append([]reflect.Value{}, args...)
				poisoned[j] = bad
				reached, err := call(m, poisoned)
				if reached || !IsInvalid(err) || !store.IsBadInput(err) {
					t.Errorf("argument %d, %s: reached the store %v, error %v; want a gated.ErrInvalid (a store.ErrBadInput) first", j, what, reached, err)
				}
			}
			for j := range args {
				at := m.Type.In(j + 1)
				switch {
				case at == nameType:
					refused("the zero Name", j, reflect.Zero(at))
				case at == reflect.SliceOf(nameType):
					refused("a zero Name in the list", j, reflect.ValueOf([]Name{{"n"}, {}}))
				case at.Kind() == reflect.Map && at.Key() == nameType:
					bad := reflect.MakeMap(at)
					bad.SetMapIndex(reflect.ValueOf(Name{}), reflect.Zero(at.Elem()))
					refused("a zero Name as a key", j, bad)
				case at == textType, at == ctxType, at == reflect.TypeFor[time.Time]():
				case at.Kind() == reflect.Struct, at.Kind() == reflect.Slice && at.Elem().Kind() == reflect.Struct, at.Kind() == reflect.String:
					for _, p := range stringPaths(at, nil) {
						refused("a NUL in "+at.String()+p.String(), j, withString(at, p, "a\x00b"))
					}
				}
			}
		})
	}
}

// The rows the store is given: every string field, however deep, is checked, and the error
// names it.
func TestCheckRowChecksEveryString(t *testing.T) {
	rowTypes := map[reflect.Type]bool{}
	for i := range gatedType.NumMethod() {
		m := gatedType.Method(i)
		for j := 1; j < m.Type.NumIn(); j++ {
			at := m.Type.In(j)
			if at.Kind() == reflect.Slice {
				at = at.Elem()
			}
			if at.Kind() == reflect.Struct && at.PkgPath() == storeType.PkgPath() {
				rowTypes[at] = true
			}
		}
	}
	if len(rowTypes) < 9 {
		t.Fatalf("found %d row types in gated.Store's methods; expected the store's rows", len(rowTypes))
	}
	for rt := range rowTypes {
		for _, p := range stringPaths(rt, nil) {
			row := withString(rt, p, "a\x00b").Interface()
			err := CheckRow(row)
			if !IsInvalid(err) {
				t.Errorf("%s%s with a NUL: %v, want refused", rt.Name(), p, err)
				continue
			}
			if want := rt.Name() + p.String(); !strings.Contains(err.Error(), want+" ") {
				t.Errorf("%s: the error does not name %s: %v", rt.Name(), want, err)
			}
			for _, ok := range []string{"", "café\tau lait", "R-1"} {
				if (p.name && ok == "café\tau lait") || (p.key && ok == "") {
					continue
				}
				if err := CheckRow(withString(rt, p, ok).Interface()); err != nil {
					t.Errorf("%s%s = %q: %v", rt.Name(), p, ok, err)
				}
			}
		}
	}
}

// A name is bounded and has no control character; other text is longer, and may hold a tab.
func TestNamesAndText(t *testing.T) {
	long := strings.Repeat("é", MaxName/2) // 252 bytes
	for _, tc := range []struct {
		name       string
		value      string
		isName     bool
		isText     bool
		rowName    bool // empty passes in a row's name field
		rowText    bool
		rowNameErr string
	}{
		{name: "empty", value: "", isName: false, isText: true, rowName: true, rowText: true},
		{name: "a wave id", value: "2026-Q3", isName: true, isText: true, rowName: true, rowText: true},
		{name: "253 bytes", value: long + "a", isName: true, isText: true, rowName: true, rowText: true},
		{name: "254 bytes", value: long + "ab", isName: false, isText: true, rowName: false, rowText: true},
		{name: "a tab", value: "a\tb", isName: false, isText: true, rowName: false, rowText: true},
		{name: "a line feed", value: "a\nb", isName: false, isText: true, rowName: false, rowText: true},
		{name: "NUL", value: "a\x00b", isName: false, isText: false, rowName: false, rowText: false},
		{name: "invalid UTF-8", value: "caf\xff", isName: false, isText: false, rowName: false, rowText: false},
		{name: "a C1 control", value: "a\u0085b", isName: false, isText: false, rowName: false, rowText: false},
		{name: "a text's bound", value: strings.Repeat("a", MaxText), isName: false, isText: true, rowName: false, rowText: true},
		{name: "over a text's bound", value: strings.Repeat("a", MaxText+1), isName: false, isText: false, rowName: false, rowText: true},
		{name: "over a row's bound", value: strings.Repeat("a", MaxRowText+1), isName: false, isText: false, rowName: false, rowText: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseName(tc.value)
			if (err == nil) != tc.isName {
				t.Errorf("ParseName: %v", err)
			}
			if err == nil && n.String() != tc.value {
				t.Errorf("ParseName gives %q", n)
			}
			if err != nil && !n.IsZero() {
				t.Errorf("a refused name is not zero")
			}
			txt, err := ParseText(tc.value)
			if (err == nil) != tc.isText {
				t.Errorf("ParseText: %v", err)
			}
			if err == nil && txt.String() != tc.value {
				t.Errorf("ParseText gives %q", txt)
			}
			if err := CheckRow(store.WaveRef{CampaignUID: tc.value}); (err == nil) != tc.rowName {
				t.Errorf("a row's name field: %v", err)
			}
			if err := CheckRow(store.Answer{Text: tc.value}); (err == nil) != tc.rowText {
				t.Errorf("a row's text field: %v", err)
			}
		})
	}
	if _, err := ParseNames([]string{"a", "b\x00"}); !IsInvalid(err) || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Errorf("ParseNames names the element: %v", err)
	}
}

// A map in a row: its keys and values are checked (a wave's channel keys are keyed by channel).
func TestCheckRowReadsMapsAndSlices(t *testing.T) {
	if err := CheckRow(store.Wave{ChannelKeys: map[string][]byte{"email\x00": {0, 1}}}); !IsInvalid(err) ||
		!strings.Contains(err.Error(), "Wave.ChannelKeys[key]") {
		t.Errorf("a map's key: %v", err)
	}
	if err := CheckRow(store.Wave{ChannelKeys: map[string][]byte{"email": {0, 0xff}}}); err != nil {
		t.Errorf("bytes are not text: %v", err)
	}
	if err := CheckRow([]store.Outcome{{}, {Reason: "\xff"}}); !IsInvalid(err) || !strings.Contains(err.Error(), "[1].Reason") {
		t.Errorf("a slice's element: %v", err)
	}
	if err := CheckRow(store.FollowUpRule{Segments: []string{"ok", strings.Repeat("s", MaxName+1)}}); !IsInvalid(err) ||
		!strings.Contains(err.Error(), "FollowUpRule.Segments[1]") {
		t.Errorf("a name list's element: %v", err)
	}
}

// path is a way down a row's type to one string: field indexes, slice elements (-1) and map
// keys (-2) or values (-3).
type path struct {
	steps []int
	names []string
	name  bool // the string is a name (tagged "name" or "key")
	key   bool // the string is a key: never empty (tagged "key")
}

func (p path) String() string { return strings.Join(p.names, "") }

func stringPaths(t reflect.Type, at *path) []path {
	if at == nil {
		at = &path{}
	}
	step := func(i int, name string, tag string) *path {
		return &path{steps: append(append([]int{}, at.steps...), i), names: append(append([]string{}, at.names...), name),
			name: at.name || tag == "name" || tag == "key", key: at.key || tag == "key"}
	}
	switch t.Kind() {
	case reflect.String:
		return []path{*at}
	case reflect.Pointer:
		return stringPaths(t.Elem(), at)
	case reflect.Struct:
		var out []path
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := "." + f.Name
			if f.Anonymous {
				name = ""
			}
			out = append(out, stringPaths(f.Type, step(i, name, f.Tag.Get("gate")))...)
		}
		return out
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		return stringPaths(t.Elem(), step(-1, "[0]", ""))
	case reflect.Map:
		return append(stringPaths(t.Key(), step(-2, "[key]", "")), stringPaths(t.Elem(), step(-3, "[value]", ""))...)
	}
	return nil
}

// withString is a zero t with the string at p set to s, and every key (`gate:"key"`, which
// may not be empty) set to "k" (one element in each slice and map on the way; a map's other
// half is its zero value, "k" for a string key).
func withString(t reflect.Type, p path, s string) reflect.Value {
	v := reflect.New(t).Elem()
	for _, k := range stringPaths(t, nil) {
		if k.key && k.String() != p.String() {
			set(v, k.steps, "k")
		}
	}
	set(v, p.steps, s)
	return v
}

func set(v reflect.Value, steps []int, s string) {
	if len(steps) == 0 {
		if v.Kind() == reflect.Pointer {
			v.Set(reflect.New(v.Type().Elem()))
			v = v.Elem()
		}
		v.SetString(s)
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch i := steps[0]; {
	case i >= 0:
		set(v.Field(i), steps[1:], s)
	case i == -1:
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		set(v.Index(0), steps[1:], s)
	default:
		key, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		if key.Kind() == reflect.String {
			key.SetString("k")
		}
		if i == -2 {
			set(key, steps[1:], s)
		} else {
			set(val, steps[1:], s)
		}
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(key, val)
	}
}

// An unexported field is not reached, and does not stop the check of the fields after it.
func TestCheckRowSkipsOnlyUnexportedFields(t *testing.T) {
	type row struct {
		inner string
		Text  string
	}
	if err := CheckRow(row{inner: "\x00", Text: "ok"}); err != nil {
		t.Errorf("an unexported field was checked: %v", err)
	}
	if err := CheckRow(row{Text: "\x00"}); !IsInvalid(err) || !strings.Contains(err.Error(), "row.Text ") {
		t.Errorf("the field after an unexported one: %v", err)
	}
}

// A key (`gate:"key"`) may not be empty, where a name may.
func TestCheckRowRefusesAnEmptyKey(t *testing.T) {
	if err := CheckRow(store.Event{Source: "s", ID: "R-1", Type: "t"}); err != nil {
		t.Errorf("a whole event: %v", err)
	}
	for name, e := range map[string]store.Event{
		"no source": {ID: "R-1", Type: "t"}, "no id": {Source: "s", Type: "t"}, "no type": {Source: "s", ID: "R-1"},
	} {
		if err := CheckRow([]store.Event{e}); !IsInvalid(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckRow(store.WaveRef{}); err != nil {
		t.Errorf("an empty name (no wave to leave out): %v", err)
	}
}
