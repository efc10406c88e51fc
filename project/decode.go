package project

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// Parse strictly decodes the bytes of one .aicage.toml. file is the path the
// errors name; data are the bytes that were read (and hashed for trust) once.
// Parse checks everything that needs no outside facts: syntax, unknown keys,
// types, ports, udp values, names. Profiles and paths are checked by Resolve,
// which knows the home and the user's profile files.
func Parse(file string, data []byte) (*Config, error) {
	var c Config
	pos, err := decodeStrict(file, data, &c)
	if err != nil {
		return nil, err
	}
	c.File, c.pos = file, pos
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeStrict decodes data into v, refusing unknown keys, and turns
// go-toml's errors into *Error values that name file:line:col and the key.
func decodeStrict(file string, data []byte, v any) (*positions, error) {
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil {
		return indexPositions(data), nil
	}
	root := reflect.TypeOf(v).Elem()
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		return nil, unknownKeyError(file, root, indexPositions(data), strict.Errors)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return nil, decodeError(file, root, de)
	}
	return nil, &Error{File: file, Msg: err.Error()}
}

// unknownKeyError reports the first unknown key in document order.
func unknownKeyError(file string, root reflect.Type, pos *positions, errs []toml.DecodeError) *Error {
	sort.SliceStable(errs, func(i, j int) bool {
		li, ci := errs[i].Position()
		lj, cj := errs[j].Position()
		return li < lj || li == lj && ci < cj
	})
	e := errs[0]
	line, col := e.Position()
	path := []string(e.Key())
	// go-toml drops the enclosing key of inline tables; the parser knows
	// the full path of the key written at this position.
	if full, ok := pos.byPos[[2]int{line, col}]; ok {
		path = full
	}
	name := path[len(path)-1]
	parent := schemaAt(root, path[:len(path)-1])
	known := fieldNames(parent)
	msg := fmt.Sprintf("unknown key %q", name) + didYouMean(name, known)
	var hint string
	if sec := sectionHolding(name); sec != "" && suggest(name, known) == "" {
		hint = fmt.Sprintf("%s belongs in [%s]", name, sec)
	} else if len(known) > 0 {
		where := "the top level"
		if len(path) > 1 {
			where = "[" + dotted(path[:len(path)-1]) + "]"
		}
		hint = fmt.Sprintf("%s takes: %s", where, strings.Join(known, ", "))
	}
	return &Error{File: file, Line: line, Col: col, Key: dotted(path), Msg: msg, Hint: hint}
}

var tomlKind = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`cannot decode TOML ([a-z ]+?) into`) })

// decodeError rewrites a syntax or type error for people, not Go types.
func decodeError(file string, root reflect.Type, de *toml.DecodeError) *Error {
	line, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	e := &Error{File: file, Line: line, Col: col, Msg: msg}
	path := []string(de.Key())
	if len(path) == 0 {
		return e
	}
	e.Key = dotted(path)
	t := schemaAt(root, path)
	if t == nil {
		return e
	}
	want := describe(t, path[len(path)-1])
	if m := tomlKind().FindStringSubmatch(msg); m != nil {
		e.Msg = fmt.Sprintf("expected %s, got %s", want, article(m[1]))
	} else if !strings.Contains(msg, "already defined") {
		e.Msg = msg + "; expected " + want
	}
	return e
}

func article(s string) string {
	if strings.IndexByte("aeiou", s[0]) >= 0 {
		return "an " + s
	}
	return "a " + s
}

// describe says in words what a key of type t expects.
func describe(t reflect.Type, name string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case name == "udp":
		return `"deny", "dns" or "allow"`
	case name == "hardlinks":
		return `"refuse", "break" or "allow"`
	case name == "extends" || name == "profile":
		return "a profile name"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "a port number (1–65535)"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Int {
			return "a list of port numbers (1–65535)"
		}
		return "a list of strings"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return `a table of strings, like { NAME = "value" }`
		}
		return "a table of tables, like [" + name + ".NAME]"
	}
	return "a table"
}

// schemaAt follows a key path through the Go types; nil when it leaves them.
func schemaAt(t reflect.Type, path []string) reflect.Type {
	for _, p := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && strings.HasPrefix(p, "#") {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, p)
			if !ok {
				return nil
			}
			t = f
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	return t
}

// fieldByTag finds the field with toml tag name, looking into embedded
// structs as go-toml does.
func fieldByTag(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			if ft, ok := fieldByTag(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag == name && tag != "-" {
			return f.Type, true
		}
	}
	return nil, false
}

// fieldNames lists the keys a table of type t takes, in declaration order.
func fieldNames(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, fieldNames(f.Type)...)
			continue
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// sectionHolding names the section that has a key called name, for keys
// written at the wrong level ("connect" at the top level).
func sectionHolding(name string) string {
	st := reflect.TypeOf(Sections{})
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		for _, k := range fieldNames(f.Type) {
			if k == name {
				tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
				return tag
			}
		}
	}
	return ""
}
