// Package schema holds the JSON Schemas (draft 2020-12) of aicage's files
// and output, embedded so that 'aicage schema' prints them:
//
//   - aicage.schema.json: .aicage.toml, for editors (taplo, Even Better
//     TOML); the templates point at it with a #:schema line.
//   - status.schema.json: 'aicage status --json'.
//   - doctor.schema.json: 'aicage doctor --json'.
//
// Tests keep each one equal to the Go types it describes: a key added to the
// decoder or to a report without its schema fails them.
package schema

import (
	_ "embed"
	"fmt"
	"strings"
)

var (
	//go:embed aicage.schema.json
	config []byte
	//go:embed status.schema.json
	status []byte
	//go:embed doctor.schema.json
	doctor []byte
)

// URL is where the config schema is published, as the templates' #:schema
// line names it.
const URL = "https://raw.githubusercontent.com/aicage/aicage/main/docs/schema/aicage.schema.json"

// Default is the schema 'aicage schema' prints without an argument.
const Default = "config"

// Names lists the schemas, the default first.
func Names() []string { return []string{"config", "status", "doctor"} }

// Get returns a schema's bytes by name.
func Get(name string) ([]byte, error) {
	switch name {
	case "config":
		return config, nil
	case "status":
		return status, nil
	case "doctor":
		return doctor, nil
	}
	return nil, fmt.Errorf("unknown schema %q; schemas: %s", name, strings.Join(Names(), ", "))
}
