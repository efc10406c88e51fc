package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Compile compiles a draft 2020-12 schema, refusing one that is not valid
// against its metaschema.
func Compile(doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %w", err)
	}
	id := "schema.json"
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["$id"].(string); ok && s != "" {
			id = s
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(id, v); err != nil {
		return nil, err
	}
	return c.Compile(id)
}

// Validate checks the JSON document data against the schema doc.
func Validate(doc, data []byte) error {
	s, err := Compile(doc)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// ValidateValue checks a decoded value (from TOML, say) against doc, after
// a round trip through JSON, so that its numbers and tables are JSON's.
func ValidateValue(doc []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Validate(doc, data)
}
