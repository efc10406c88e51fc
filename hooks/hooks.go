// Package hooks is aicage's shell integration: the hook scripts for bash,
// zsh and fish, kept as real files and embedded, the quoting of values
// pasted into them, and the init files every caged shell gets (the cage's
// mark on its prompt, and for the hook's shells the inner half of the
// hook).
//
// # How the halves meet
//
// The outer half runs in the user's shell. At a prompt where $PWD changed,
// or where the trust store's stamp holds another token than at the last
// decision (every allow and deny rewrites it; the hook reads it with the
// read builtin), it calls 'aicage hook decide' once; the code that prints
// (built by [Skip] and [Enter]) either remembers a project to leave alone
// or calls the hook's enter function, which runs 'aicage shell' with
// AICAGE_HOOK_OUT naming a file outside the cage's reach. The inner half
// (part of [Init]) runs in the caged shell and, at a prompt where $PWD is
// outside the project, writes "L" and the path into a file in the cage's
// $TMPDIR and exits; at other prompts it writes "X" and $PWD, so that an
// exit by hand lands where the user was. aicage reads that file after the
// cage is gone, checks it is a plain absolute path, and copies it to
// AICAGE_HOOK_OUT; the outer half only ever passes it to cd.
//
// Nothing the hooks print or read is code chosen by a cage: the only
// values pasted into shell code are the aicage binary's path, the stamp's
// path, state tokens made of [a-z0-9], and a file name aicage made, each
// quoted by [Quote]. The stamp's content is only compared, never run.
package hooks

import (
	"embed"
	"fmt"
	"path/filepath"
	"strings"
)

//go:embed aicage.bash aicage.zsh aicage.fish mark.bash mark.zsh mark.fish
var scripts embed.FS

// Shells are the supported shells, sorted.
var Shells = []string{"bash", "fish", "zsh"}

// binLine is the line of each script that names the binary; Script
// replaces it.
var binLine = map[string]string{
	"bash": "_aicage_bin=aicage\n",
	"zsh":  "typeset -g _aicage_bin=aicage\n",
	"fish": "set -g __aicage_bin aicage\n",
}

// stampLine is the line of each script that names the trust store's
// stamp; Script replaces it.
var stampLine = map[string]string{
	"bash": "_aicage_stamp=\n",
	"zsh":  "typeset -g _aicage_stamp=\n",
	"fish": "set -g __aicage_stamp ''\n",
}

// stampPrefix is what stays of each stampLine before the quoted path.
var stampPrefix = map[string]string{
	"bash": "_aicage_stamp=",
	"zsh":  "typeset -g _aicage_stamp=",
	"fish": "set -g __aicage_stamp ",
}

// Env names shared with cmd/aicage.
const (
	// OutEnv names the file, outside the cage, where 'aicage shell'
	// writes where the caged shell went; set by the outer half.
	OutEnv = "AICAGE_HOOK_OUT"
	// WhereEnv names the file in the cage where the inner half writes it.
	WhereEnv = "_AICAGE_HOOK_WHERE"
	// RootEnv is the project root as the outer shell named it (it may go
	// through a symlink; AICAGE_ROOT is the resolved one).
	RootEnv = "_AICAGE_HOOK_ROOT"
	// DirsEnv carries the outer shell's directory stack below its cwd,
	// one directory a line, into the caged shell.
	DirsEnv = "_AICAGE_HOOK_DIRS"
	// WhereFile is the name of that file in the init directory.
	WhereFile = "where"
)

// UnknownShellError is a shell aicage has no hook for.
type UnknownShellError struct{ Shell string }

func (e *UnknownShellError) Error() string { return fmt.Sprintf("no hook for shell %q", e.Shell) }

// Hint lists the supported shells.
func (e *UnknownShellError) Hint() string {
	return "supported shells: " + strings.Join(Shells, ", ")
}

func known(shell string) error {
	if _, ok := binLine[shell]; !ok {
		return &UnknownShellError{Shell: shell}
	}
	return nil
}

// Script returns the hook for shell with self, the aicage binary, and
// stamp, the trust store's stamp (see project.TrustStore.StampPath),
// quoted into it.
func Script(shell, self, stamp string) (string, error) {
	if err := known(shell); err != nil {
		return "", err
	}
	b, err := scripts.ReadFile("aicage." + shell)
	if err != nil {
		return "", fmt.Errorf("bug: reading the %s hook: %w", shell, err)
	}
	s := string(b)
	for _, r := range []struct{ line, prefix, value string }{
		{binLine[shell], strings.TrimSuffix(binLine[shell], "aicage\n"), self},
		{stampLine[shell], stampPrefix[shell], stamp},
	} {
		if strings.Count(s, r.line) != 1 {
			return "", fmt.Errorf("bug: the %s hook must have the line %q exactly once", shell, r.line)
		}
		q, _ := Quote(shell, r.value)
		s = strings.Replace(s, r.line, r.prefix+q+"\n", 1)
	}
	return s, nil
}

// Quote makes s one word of shell code that stands for exactly s.
func Quote(shell, s string) (string, error) {
	switch shell {
	case "bash", "zsh":
		// Inside single quotes every byte is literal but the quote itself.
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
	case "fish":
		// fish's single quotes know two escapes: \\ and \'.
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
		return "'" + r.Replace(s) + "'", nil
	}
	return "", &UnknownShellError{Shell: shell}
}

// Skip is the code that sets the outer half's state token.
func Skip(shell, token string) string {
	q, _ := Quote(shell, token)
	if shell == "fish" {
		return "set -g __aicage_skip " + q + "\n"
	}
	return "_aicage_skip=" + q + "\n"
}

// Enter is the code that starts the caged shell: token is the state to
// keep when it returns without leaving the project, out the file that
// 'aicage shell' writes the way out to.
func Enter(shell, token, out string) string {
	t, _ := Quote(shell, token)
	o, _ := Quote(shell, out)
	if shell == "fish" {
		return "__aicage_enter " + t + " " + o + "\n"
	}
	return "_aicage_enter " + t + " " + o + "\n"
}

// ShellOf names the supported shell that the program prog is, by its base
// name, or "".
func ShellOf(prog string) string {
	name := filepath.Base(prog)
	if known(name) == nil {
		return name
	}
	return ""
}
