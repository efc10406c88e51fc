package main

import (
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/hooks"
)

// completionScripts are the scripts 'aicage completion SHELL' prints, one
// per shell, each a thin caller of 'aicage __complete'.
//
//go:embed completions/aicage.bash completions/aicage.zsh completions/aicage.fish
var completionScripts embed.FS

func init() {
	commands = append(commands, &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: strings.Join(hooks.Shells, "|"),
		Description: "Load it from your shell's rc file, or save it where the shell looks:\n" +
			"  bash  source <(aicage completion bash)               in ~/.bashrc\n" +
			"  zsh   source <(aicage completion zsh)                in ~/.zshrc, after compinit\n" +
			"  fish  aicage completion fish > ~/.config/fish/completions/aicage.fish\n" +
			"It completes commands, flags, template and profile names, and the\n" +
			"[commands] of the nearest .aicage.toml for 'aicage run', which it reads\n" +
			"for those names only, trusted or not.",
		Action: completionAction,
	})
}

func completionAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fail(errors.New("completion needs one shell name"),
			"run 'aicage completion bash', 'aicage completion zsh' or 'aicage completion fish'")
	}
	shell := c.Args().First()
	script, err := completionScripts.ReadFile("completions/aicage." + shell)
	if err != nil || strings.ContainsAny(shell, "/.") {
		return fail(fmt.Errorf("no completion for shell %q", shell),
			"supported shells: "+strings.Join(hooks.Shells, ", "))
	}
	_, err = c.App.Writer.Write(script)
	return err
}
