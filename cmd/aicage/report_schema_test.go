package main

import (
	"reflect"
	"testing"

	"github.com/aicage/aicage/docs/schema"
	"github.com/aicage/aicage/docs/schema/schematest"
)

// TestJSONSchemasMatchReports: every json-tagged field of the status and
// doctor reports, nested types included, is in its schema with the same
// type, required exactly when it is not omitempty; and the schema has
// nothing the report lacks. A field added without documenting it fails.
func TestJSONSchemasMatchReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  reflect.Type
	}{
		{"status", reflect.TypeFor[report]()},
		{"doctor", reflect.TypeFor[doctorReport]()},
	} {
		doc, err := schema.Get(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		drift, err := schematest.Drift(doc, tc.typ, schematest.Options{Tag: "json", Required: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range drift {
			t.Errorf("%s.schema.json drifted from %s: %s", tc.name, tc.typ, d)
		}
	}
}

// TestSchemaVersion: the schemas pin the version the reports print.
func TestSchemaVersion(t *testing.T) {
	for _, name := range []string{"status", "doctor"} {
		doc, _ := schema.Get(name)
		if err := schematest.Validate(doc, []byte(`{"schema_version": 2}`)); err == nil {
			t.Errorf("%s: version 2 accepted", name)
		}
	}
	if statusSchemaVersion != 1 {
		t.Errorf("statusSchemaVersion = %d: update const in status.schema.json and doctor.schema.json", statusSchemaVersion)
	}
}
