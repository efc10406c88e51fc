package e2e

import (
	"os"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/aicage/aicage/docs/schema/schematest"
)

func init() {
	commands["jsonschema"] = cmdJSONSchema
}

// jsonschema SCHEMA FILE: FILE is valid against the JSON Schema in the file
// SCHEMA (draft 2020-12, e.g. the output of 'aicage schema status'). With
// !, FILE must be invalid against it.
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonschema SCHEMA FILE")
	}
	doc, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	if _, err := schematest.Compile(doc); err != nil {
		ts.Fatalf("%s: not a valid schema: %v", args[0], err)
	}
	err = schematest.Validate(doc, data)
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s does not validate against %s:\n%v", args[1], args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s validates against %s, want it refused", args[1], args[0])
	case err != nil:
		ts.Logf("refused as expected: %v", err)
	}
}
