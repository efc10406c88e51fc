package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/docs/schema"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "schema",
		Usage:     "print the JSON Schema of .aicage.toml, or of status or doctor --json",
		ArgsUsage: "[" + strings.Join(schema.Names(), "|") + "]",
		Description: "With no argument, or config, prints the schema of .aicage.toml (draft 2020-12),\n" +
			"for editors; the templates name its published copy on their first line:\n" +
			"  #:schema " + schema.URL + "\n" +
			"status and doctor print the schemas of 'aicage status --json' and 'aicage doctor --json'.",
		Action: schemaAction,
	})
}

func schemaAction(c *cli.Context) error {
	hint := "schemas: " + strings.Join(schema.Names(), ", ") + "; 'aicage schema' alone prints config"
	if c.Args().Len() > 1 {
		return fail(errors.New("schema takes at most one name"), hint)
	}
	name := schema.Default
	if c.Args().Len() == 1 {
		name = c.Args().First()
	}
	doc, err := schema.Get(name)
	if err != nil {
		return fail(fmt.Errorf("unknown schema %q", name), hint)
	}
	_, err = c.App.Writer.Write(doc)
	return err
}
