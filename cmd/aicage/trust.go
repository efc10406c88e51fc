package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/aicage/aicage/project"
)

// Trust, as the run and shell commands check it: a config is used only
// when the trust store holds exactly its bytes at its path. On a terminal
// aicage shows what the config grants (or what changed in the grants) and
// asks; without one it fails with a hint, and nothing runs.

const hintAllow = "run 'aicage allow' to review and trust it"

// ensureTrusted returns nil when f may be used, asking on a terminal. cfg is
// f decoded; h the outside host. Every refusal is exit 125.
func ensureTrusted(c *cli.Context, f *project.File, cfg *project.Config, h project.Host) error {
	store := project.NewTrustStore(h.TrustDir())
	st, err := store.State(f.Path, f.Data)
	if err != nil {
		return fail(err)
	}
	switch {
	case st == project.Trusted:
		return nil
	case st == project.Denied:
		return fail(fmt.Errorf("%s is blocked", f.Path), hintAllow)
	case insideCage(h):
		return fail(fmt.Errorf("%s is not trusted, and cannot be trusted from inside a cage", f.Path),
			"leave the cage and "+hintAllow)
	case !onTerminal():
		if st == project.Changed {
			return fail(fmt.Errorf("%s has changed since it was trusted", f.Path), hintAllow)
		}
		return fail(fmt.Errorf("%s is not trusted", f.Path), hintAllow)
	}
	grants, err := project.Grants(cfg, h)
	if err != nil {
		return failProject(err)
	}
	showReview(store, f, h, st, grants)
	ok, err := askYesNo("trust it and go on?")
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(fmt.Errorf("%s was not trusted: nothing was run", f.Path), hintAllow)
	}
	if err := store.Allow(f.Path, f.Data); err != nil {
		return fail(err)
	}
	printf("trusted %s", f.Path)
	return nil
}

// showReview prints the grants, or for a changed config what changed in
// them, so that a person can decide.
func showReview(store *project.TrustStore, f *project.File, h project.Host, st project.TrustState, grants []project.Grant) {
	if st == project.Changed {
		if old, ok := previousGrants(store, f, h); ok {
			added, removed := project.DiffGrants(old, grants)
			printf("%s has changed since you trusted it", f.Path)
			if len(added) == 0 && len(removed) == 0 {
				printf("it asks for the same as before (only the text changed)")
				return
			}
			printGrantList("now asks for:", added)
			printGrantList("no longer asks for:", removed)
			return
		}
	}
	printf("%s is not trusted yet", f.Path)
	printGrantList("it grants:", grants)
}

// previousGrants decodes the last trusted content; false when it no
// longer decodes (a user profile it named may have changed).
func previousGrants(store *project.TrustStore, f *project.File, h project.Host) ([]project.Grant, bool) {
	prev, ok, err := store.Previous(f.Path)
	if err != nil || !ok {
		return nil, false
	}
	cfg, err := project.Parse(f.Path, prev)
	if err != nil {
		return nil, false
	}
	g, err := project.Grants(cfg, h)
	return g, err == nil
}

func printGrantList(title string, grants []project.Grant) {
	printf("%s", title)
	if len(grants) == 0 {
		printf("  (nothing)")
	}
	for _, g := range grants {
		printf("  %s", g)
	}
}

// failProject reports an error of the project package with its hint.
func failProject(err error) error {
	var pe *project.Error
	if errors.As(err, &pe) && pe.Hint != "" {
		return fail(err, pe.Hint)
	}
	return fail(err)
}

// projectHost describes the machine outside the cage for the project
// package: the real home, the cwd, the environment, the aicage binary.
func projectHost() (project.Host, error) {
	dir, err := cwd()
	if err != nil {
		return project.Host{}, fail(err)
	}
	h := project.NewHost(realHome(), dir, os.Environ())
	h.Self = currentHost().Self
	return h, nil
}

// insideCage reports whether aicage runs in a cage. The trust store is not
// writable there anyway (Compile never grants it); this only makes the
// message clear.
func insideCage(h project.Host) bool {
	for _, kv := range h.Env {
		if kv == "AICAGE=1" {
			return true
		}
	}
	return false
}

// onTerminal reports whether a person can answer: stdin and stderr are
// terminals.
func onTerminal() bool {
	return isTerminal(os.Stdin) && isTerminal(os.Stderr)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// askYesNo asks on stderr and reads one line from stdin, a byte at a time
// so that nothing after the answer is taken from the command's input.
// Only "y" and "yes" agree.
func askYesNo(question string) (bool, error) {
	fmt.Fprintf(stderr, "aicage: %s [y/N] ", question)
	var line []byte
	b := make([]byte, 1)
	for len(line) < 256 {
		n, err := os.Stdin.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err == io.EOF {
			fmt.Fprintln(stderr)
			break
		}
		if err != nil {
			return false, fmt.Errorf("reading the answer: %w", err)
		}
	}
	a := strings.ToLower(string(bytes.TrimSpace(line)))
	return a == "y" || a == "yes", nil
}
