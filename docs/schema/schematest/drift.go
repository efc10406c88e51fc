// Package schematest compares a JSON Schema with the Go types it describes,
// for tests: a key in one and not in the other, or a type that differs, is
// drift. It knows the subset of JSON Schema that aicage's schemas use:
// local $ref, type, properties, required, additionalProperties and items.
package schematest

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Options say how the Go types are read.
type Options struct {
	// Tag is the struct tag that names keys: "toml" or "json".
	Tag string
	// Required: keys without omitempty must be required in the schema, and
	// keys with it must not (JSON output). Off for input files, whose keys
	// are all optional to the decoder.
	Required bool
	// Described: every key must have a description, on itself or on the
	// definition it refers to.
	Described bool
}

// Drift lists every difference between the schema doc and the Go type t,
// which the schema's root describes.
func Drift(doc []byte, t reflect.Type, o Options) ([]string, error) {
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	w := walker{root: root, o: o}
	w.compare("", t, root)
	return w.drift, nil
}

type walker struct {
	root  map[string]any
	o     Options
	drift []string
}

func (w *walker) add(path, format string, args ...any) {
	if path == "" {
		path = "(root)"
	}
	w.drift = append(w.drift, path+": "+fmt.Sprintf(format, args...))
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// jsonType is the JSON Schema type a value of Go type t is written as.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "unknown Go kind " + t.Kind().String()
}

// resolve follows $ref, merging the referring node's own keywords over the
// referred one's (2020-12 allows both side by side).
func (w *walker) resolve(node map[string]any) map[string]any {
	for range 16 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		target := w.lookup(ref)
		if target == nil {
			return node
		}
		merged := map[string]any{}
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range node {
			if k != "$ref" {
				merged[k] = v
			}
		}
		if _, own := target["$ref"]; !own {
			delete(merged, "$ref")
		}
		node = merged
	}
	return node
}

// lookup finds a local reference, "#/$defs/name".
func (w *walker) lookup(ref string) map[string]any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = w.root
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	m, _ := cur.(map[string]any)
	return m
}

func (w *walker) compare(path string, t reflect.Type, raw map[string]any) {
	node := w.resolve(raw)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := raw["$ref"].(string); ok && len(node) == 0 {
		w.add(path, "$ref %v does not resolve", raw["$ref"])
		return
	}
	want := jsonType(t)
	if got, _ := node["type"].(string); got != want {
		w.add(path, "schema type %q, Go type %s is %q", node["type"], t, want)
		return
	}
	if want == "string" {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		items, ok := node["items"].(map[string]any)
		if !ok {
			w.add(path, "an array without items")
			return
		}
		w.compare(path+"[]", t.Elem(), items)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			w.add(path, "Go map key %s is not a string", t.Key())
		}
		values, ok := node["additionalProperties"].(map[string]any)
		if !ok {
			w.add(path, "a table of names without additionalProperties: {schema}")
			return
		}
		w.compare(path+".*", t.Elem(), values)
	case reflect.Struct:
		w.compareStruct(path, t, node)
	}
}

func (w *walker) compareStruct(path string, t reflect.Type, node map[string]any) {
	if node["additionalProperties"] != false {
		w.add(path, "an object without additionalProperties: false lets unknown keys through")
	}
	props, _ := node["properties"].(map[string]any)
	fields := w.fields(t)
	for _, f := range fields {
		p, ok := props[f.key].(map[string]any)
		if !ok {
			w.add(join(path, f.key), "in the Go type %s, not in the schema", t)
			continue
		}
		if w.o.Described && w.resolve(p)["description"] == nil {
			w.add(join(path, f.key), "has no description")
		}
		w.compare(join(path, f.key), f.typ, p)
	}
	for _, k := range sortedKeys(props) {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.key == k }) {
			w.add(join(path, k), "in the schema, not in the Go type %s", t)
		}
	}
	if !w.o.Required {
		return
	}
	var required []string
	if r, ok := node["required"].([]any); ok {
		for _, k := range r {
			required = append(required, fmt.Sprint(k))
		}
	}
	for _, f := range fields {
		switch in := slices.Contains(required, f.key); {
		case in && f.omitempty:
			w.add(join(path, f.key), "required in the schema, but omitempty in Go: it may be absent")
		case !in && !f.omitempty:
			w.add(join(path, f.key), "not required in the schema, but always written (no omitempty in Go)")
		}
	}
}

type field struct {
	key       string
	typ       reflect.Type
	omitempty bool
}

// fields lists the keys of a struct as the encoders see them: embedded
// structs flattened, "-" and unexported fields left out, an empty name
// being the Go name (encoding/json's rule).
func (w *walker) fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup(w.o.Tag)
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, w.fields(f.Type)...)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if !ok || name == "" {
			name = f.Name
		}
		out = append(out, field{key: name, typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")})
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
