package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/hooks"
	"github.com/aicage/aicage/project"
)

// The shell hooks. 'aicage hook SHELL' prints the hook; the hidden 'aicage
// hook decide SHELL [STATE]' is what the hook runs at a prompt where $PWD
// changed: one process that finds the project, checks its trust and
// prints the shell code for what to do (see package hooks).
//
// STATE is a token the hook keeps between prompts so that nothing is said
// or done twice for the same project: "x…" after the caged shell returned
// without leaving the project (stay out until the user leaves it, or
// allows or denies it again: the token holds the trust store's generation
// of the project), "b…"
// after a blocked config was reported, "e…" after an error was. It holds
// hashes only, so that it is safe to paste into shell code.

func init() {
	commands = append(commands, &cli.Command{
		Name:      "hook",
		Usage:     "print the shell hook to eval in your rc file",
		ArgsUsage: strings.Join(hooks.Shells, "|"),
		Description: "Add one line to your shell's rc file (after direnv's, if you use it):\n" +
			"  ~/.bashrc                   eval \"$(aicage hook bash)\"\n" +
			"  ~/.zshrc                    eval \"$(aicage hook zsh)\"\n" +
			"  ~/.config/fish/config.fish  aicage hook fish | source\n" +
			"Then cd into a trusted project enters its cage; cd out of it, or exit, leaves.\n" +
			"'aicage allow' or 'deny' counts at the next prompt, as 'direnv allow' does.",
		SkipFlagParsing: true,
		Action:          hookAction,
	})
}

// decideArg is the hidden sub-command the hooks call.
const decideArg = "decide"

func hookAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) > 0 && args[0] == decideArg {
		return hookDecide(c, args[1:])
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		return cli.ShowCommandHelp(c, "hook")
	}
	hint := "supported shells: " + strings.Join(hooks.Shells, ", ")
	if len(args) != 1 {
		return fail(errors.New("hook needs the name of a shell"), hint)
	}
	self, err := hookSelf()
	if err != nil {
		return fail(err)
	}
	h, err := projectHost()
	if err != nil {
		return err
	}
	s, err := hooks.Script(args[0], self, project.NewTrustStore(h.TrustDir()).StampPath())
	if err != nil {
		return fail(err)
	}
	_, err = fmt.Fprint(c.App.Writer, s)
	return err
}

// hookSelf is the path the hook calls aicage by: the one found on PATH
// when aicage was started by name and it is this binary (it survives
// upgrades that move the real file), else this binary's own path.
func hookSelf() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the aicage binary: %w", err)
	}
	if a0 := os.Args[0]; !strings.Contains(a0, "/") {
		if p, err := exec.LookPath(a0); err == nil && filepath.IsAbs(p) && sameFile(p, exe) {
			return p, nil
		}
	}
	return exe, nil
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func hookDecide(c *cli.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return fail(errors.New("usage: aicage hook decide SHELL [STATE]"), "this is run by the shell hook, not by hand")
	}
	shell, prev := args[0], ""
	if len(args) == 2 {
		prev = args[1]
	}
	if _, err := hooks.Quote(shell, ""); err != nil {
		return fail(err)
	}
	if os.Getenv("AICAGE") == "1" {
		return nil // inside a cage the outer half has nothing to do
	}
	h, err := projectHost()
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.App.Writer, decide(h, shell, prev))
	return err
}

// decide returns the shell code for the directory h.Cwd, given the state
// token of the last decision. It never prompts: trust is asked for by an
// explicit 'aicage shell' or 'aicage allow'.
func decide(h project.Host, shell, prev string) string {
	f, err := project.Discover(h.Cwd)
	if err != nil {
		return reportOnce(shell, prev, "e"+stateHash(err.Error()), err)
	}
	if f == nil {
		if prev != "" {
			return hooks.Skip(shell, "")
		}
		return ""
	}
	// stay out after an exit by hand until the user leaves, or until the
	// project is allowed or denied again
	store := project.NewTrustStore(h.TrustDir())
	out := "x" + stateHash(f.Path, store.Generation(f.Path))
	if prev == out {
		return ""
	}
	if _, err := project.Parse(f.Path, f.Data); err != nil {
		return reportOnce(shell, prev, "e"+stateHash(f.Path, string(f.Data), err.Error()), err)
	}
	st, err := store.State(f.Path, f.Data)
	if err != nil {
		return reportOnce(shell, prev, "e"+stateHash(f.Path, err.Error()), err)
	}
	if st != project.Trusted {
		tok := "b" + stateHash(f.Path, string(f.Data), st.String())
		if tok == prev {
			return ""
		}
		printf("%s is blocked, run 'aicage allow'", f.Path)
		return hooks.Skip(shell, tok)
	}
	file, err := hookOutFile(h)
	if err != nil {
		return reportOnce(shell, prev, "e"+stateHash(f.Path, err.Error()), err)
	}
	return hooks.Enter(shell, out, file)
}

// reportOnce reports err unless the state says it was reported already.
func reportOnce(shell, prev, tok string, err error) string {
	if tok == prev {
		return ""
	}
	exitCode(failProject(err))
	return hooks.Skip(shell, tok)
}

// stateHash is a short hash of parts: enough to tell one config, or one
// error, from another.
func stateHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// hookOutFile makes the empty file where 'aicage shell' will say where the
// caged shell went. It lives in aicage's state directory, which no cage is
// ever granted, so that the outer shell reads nothing a cage could swap.
// Files older than a day (left by a killed shell) are removed.
func hookOutFile(h project.Host) (string, error) {
	_, _, state := h.AicageDirs()
	dir := filepath.Join(state, "hook")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || (ok && int(st.Uid) != os.Geteuid()) {
		return "", fmt.Errorf("%s is not a directory of yours; remove it", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
	}
	sweepOld(dir, 24*time.Hour)
	f, err := os.CreateTemp(dir, "out-*")
	if err != nil {
		return "", fmt.Errorf("creating a file in %s: %w", dir, err)
	}
	return f.Name(), f.Close()
}

func sweepOld(dir string, age time.Duration) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > age {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
