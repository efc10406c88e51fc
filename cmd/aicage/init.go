package main

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/project"
	"github.com/aicage/aicage/templates"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "init",
		Usage:     "write .aicage.toml from a template and add .aicage/ to .gitignore",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "template", Value: templates.Default,
				Usage: "`NAME`: " + strings.Join(templates.Names(), ", ")},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing .aicage.toml"},
		},
		Action: initAction,
	})
}

func initAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fail(errors.New("init takes no arguments"), "run it in the project, with --template NAME to choose a template")
	}
	h, err := projectHost()
	if err != nil {
		return err
	}
	name := c.String("template")
	res, err := project.Init(h, project.InitDir(h.Cwd), name, c.Bool("force"))
	if err != nil {
		return failProject(err)
	}
	verb := "wrote"
	if res.Overwrote {
		verb = "replaced"
	}
	printf("%s %s from the %s template", verb, res.ConfigPath, name)
	ignore := filepath.Join(filepath.Dir(res.ConfigPath), ".gitignore")
	switch {
	case res.GitignoreNew:
		printf("created %s with .aicage/", ignore)
	case res.IgnoreAdded:
		printf("added .aicage/ to %s", ignore)
	}
	printf("review what it grants and trust it with 'aicage allow'")
	return nil
}
