package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:            "shell",
		Usage:           "an interactive shell in the cage ($SHELL, or shell = … in the config)",
		SkipFlagParsing: true,
		Action:          shellAction,
	})
}

func shellAction(c *cli.Context) error {
	f, args, err := parseRunArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fail(errors.New("shell takes no arguments"), "use 'aicage run -- CMD' to run a command")
	}
	return enter(c, request{flags: f, shell: true})
}

// defaultShell is the user's $SHELL, else /bin/sh.
func defaultShell() string {
	if s := os.Getenv("SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}
