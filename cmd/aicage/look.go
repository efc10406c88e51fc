package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aicage/aicage/hooks"
)

// How a shell in the cage shows that it is caged: "(aicage) " before its
// prompt and in the terminal's title. These are the user's choices, read
// outside the cage (its environment does not carry them in):
//
//	AICAGE_PROMPT=0  no marker (a prompt segment reads $AICAGE instead)
//	AICAGE_TITLE=0   leave the terminal's title alone
//	NO_COLOR         a marker without colour (https://no-color.org)

func shellLook() hooks.Look {
	term := os.Getenv("TERM")
	return hooks.Look{
		Mark:   os.Getenv("AICAGE_PROMPT") != "0",
		Colour: os.Getenv("NO_COLOR") == "" && term != "dumb" && term != "",
		Title:  os.Getenv("AICAGE_TITLE") != "0",
	}
}

// keepTitle saves the terminal's title on its title stack (xterm's
// XTWINOPS 22/23, which terminals without one ignore) and returns the
// function that restores it, so that the caged shell's title does not
// outlive the cage. Only on a terminal that is not dumb.
func keepTitle(look hooks.Look) func() {
	term := os.Getenv("TERM")
	if !look.Title || term == "" || term == "dumb" || !isTerminal(os.Stdout) {
		return func() {}
	}
	os.Stdout.WriteString("\x1b[22;0t")
	return func() { os.Stdout.WriteString("\x1b[23;0t") }
}

// maxUserRC bounds the user's rc for cages.
const maxUserRC = 1 << 20 // 1 MiB

// userRC reads the user's rc for cages, $XDG_CONFIG_HOME/aicage/rc.SHELL:
// what they want in every caged shell (prompt, aliases, functions) without
// their real rc file, which may export tokens. aicage reads it outside and
// gives the cage a copy; the cage is never granted the original. "" when
// there is none.
func userRC(shell string) (string, error) {
	h, err := projectHost()
	if err != nil {
		return "", err
	}
	dir, _, _ := h.AicageDirs()
	p := filepath.Join(dir, hooks.RCName(shell))
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fail(fmt.Errorf("reading your rc for cages: %w", err), "fix or remove "+p)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fail(fmt.Errorf("%s is not a regular file", p), "fix or remove it")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxUserRC+1))
	if err != nil {
		return "", fail(fmt.Errorf("reading your rc for cages: %w", err), "fix or remove "+p)
	}
	if len(b) > maxUserRC {
		return "", fail(fmt.Errorf("%s is larger than 1 MiB", p), "keep only what the caged shell needs in it")
	}
	return string(b), nil
}
