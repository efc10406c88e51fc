package main

import (
	"os"

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
