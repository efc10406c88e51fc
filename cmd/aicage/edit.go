package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/project"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "edit",
		Usage:     "open the config in $EDITOR, then ask for trust again",
		ArgsUsage: " ",
		Action:    editAction,
	})
}

func editAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fail(errors.New("edit takes no arguments"), "run it in the project")
	}
	h, err := projectHost()
	if err != nil {
		return err
	}
	if insideCage(h) {
		return fail(errors.New("cannot trust from inside a cage"),
			"edit "+project.ConfigName+" directly, then run 'aicage allow' outside the cage")
	}
	path, err := project.Find(h.Cwd)
	if err != nil {
		return fail(err)
	}
	if path == "" {
		return noConfig(h.Cwd)
	}
	if err := runEditor(path); err != nil {
		return err
	}
	f, err := project.ReadFile(path)
	if err != nil {
		return failProject(err)
	}
	cfg, err := project.Parse(f.Path, f.Data)
	if err != nil {
		var pe *project.Error
		if errors.As(err, &pe) {
			return fail(err, pe.Hint, "run 'aicage edit' again to fix it")
		}
		return fail(err)
	}
	return ensureTrusted(c, f, cfg, h)
}

// runEditor starts $VISUAL or $EDITOR (else vi) through sh, as git does,
// so that "code --wait" works.
func runEditor(path string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.Command("/bin/sh", "-c", editor+` "$@"`, editor, path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fail(fmt.Errorf("editor %q: %w", editor, err), "set $EDITOR to an editor that exits 0 when you save")
	}
	return nil
}
