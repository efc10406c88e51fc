// Command aicage runs AI coding agents and shells inside a Landlock cage,
// configured per project by a trusted .aicage.toml.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"sort"

	"github.com/urfave/cli/v2"
)

// commands is filled by each command's file in its init function, so that
// one file holds one command.
var commands []*cli.Command

// globalFlags are accepted before any command.
var globalFlags = []cli.Flag{
	&cli.StringFlag{Name: "profile", Usage: "use profile `NAME` instead of the config's (shell, run)"},
	&cli.BoolFlag{Name: "best-effort", Usage: "go on when the kernel lacks a protection, printing each one dropped"},
}

func newApp() *cli.App {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	for _, cmd := range commands {
		cmd.HideHelpCommand = true
		if cmd.OnUsageError == nil {
			name := cmd.Name
			cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				return fail(err, "run 'aicage "+name+" --help' for usage")
			}
		}
	}
	return &cli.App{
		Name:                 "aicage",
		Usage:                "run AI coding agents and shells in a per-project Landlock cage",
		Version:              version(),
		Flags:                globalFlags,
		Commands:             commands,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Writer:               os.Stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {}, // main reports errors
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fail(err, "run 'aicage --help' for usage")
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(fmt.Errorf("unknown command %q", c.Args().First()),
					"run 'aicage --help' for the commands")
			}
			return cli.ShowAppHelp(c)
		},
	}
}

func main() {
	os.Exit(exitCode(newApp().Run(os.Args)))
}

// version is the module version aicage was built as ("(devel)" from a
// checkout), with the VCS revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
