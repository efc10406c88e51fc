package main

// Output rules, after age's tui.go: every message goes to stderr through the
// functions below, prefixed "aicage: ", with no capital first letter and no
// final period. A failure is an "aicage: error: …" line followed by
// "aicage: hint: …" lines that say what to do next. Only this package prints,
// prompts or exits.

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes, like env, chroot and docker run.
const (
	exitSetup       = 125 // config, trust or setup error
	exitCannotRun   = 126 // command found but cannot run
	exitNotFound    = 127 // command not found
	exitUnavailable = 1   // doctor: the cage cannot be enforced
)

var stderr io.Writer = os.Stderr

// exitError carries an exit code and hints up to main, which prints and exits.
type exitError struct {
	code  int
	err   error
	hints []string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// hinter is an error that knows what the user should do next.
type hinter interface{ Hint() string }

// fail wraps err as aicage's own failure with exit code 125 and hints; an
// error that carries its own hint adds it.
func fail(err error, hints ...string) error {
	return failCode(exitSetup, err, hints...)
}

// failCode is fail with a chosen exit code.
func failCode(code int, err error, hints ...string) error {
	var h hinter
	if len(hints) == 0 && errors.As(err, &h) && h.Hint() != "" {
		hints = []string{h.Hint()}
	}
	return &exitError{code: code, err: err, hints: hints}
}

// statusError passes a caged command's exit status through without a message.
type statusError int

func (s statusError) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// printf prints one informational line.
func printf(format string, v ...any) {
	fmt.Fprintf(stderr, "aicage: "+format+"\n", v...)
}

// warningf prints a warning line.
func warningf(format string, v ...any) {
	fmt.Fprintf(stderr, "aicage: warning: "+format+"\n", v...)
}

// errorf prints an error line.
func errorf(format string, v ...any) {
	fmt.Fprintf(stderr, "aicage: error: "+format+"\n", v...)
}

// hintf prints a hint line.
func hintf(format string, v ...any) {
	fmt.Fprintf(stderr, "aicage: hint: "+format+"\n", v...)
}

// exitCode reports err the way the output rules say and returns the code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var st statusError
	if errors.As(err, &st) {
		return int(st)
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = failCode(exitSetup, err).(*exitError)
	}
	errorf("%v", ee.err)
	if len(ee.hints) == 0 {
		ee.hints = []string{fallbackHint}
	}
	for _, h := range ee.hints {
		hintf("%s", h)
	}
	return ee.code
}

// fallbackHint is for failures that carry no advice of their own.
const fallbackHint = "run 'aicage doctor' to check this machine and 'aicage status' to check the project"
