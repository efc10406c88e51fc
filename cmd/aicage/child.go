package main

import (
	"errors"
	"os"

	"github.com/aicage/aicage/cage"
)

// isChild reports whether this process is the cage's child: the hidden
// sub-command is dispatched before the CLI parses anything.
func isChild() bool {
	return len(os.Args) == 2 && os.Args[1] == cage.ChildArg
}

// childMain locks the process down and execs the command; it returns only
// when that failed.
func childMain() int {
	err := cage.Child()
	var ee *cage.ExecError
	if errors.As(err, &ee) {
		return exitCode(failCode(ee.Code(), err))
	}
	return exitCode(fail(err))
}
