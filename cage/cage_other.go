//go:build !linux

package cage

import (
	"errors"
	"os"

	"github.com/aicage/aicage/cage/broker"
)

// errNotLinux is every enforcement call's answer off Linux: Landlock is a
// Linux security module, and aicage never runs a command uncaged.
var errNotLinux = errors.New("aicage needs Linux: Landlock is a Linux security module")

// KernelABI is 0: there is no Landlock here.
func KernelABI() int { return 0 }

// ExecError is a failure to execute the command (Linux only).
type ExecError struct {
	Prog string
	Err  error
}

func (e *ExecError) Error() string { return e.Err.Error() }

// Code is 126.
func (e *ExecError) Code() int { return 126 }

// RunOptions are the supervisor's inputs.
type RunOptions struct {
	Stdin, Stdout, Stderr *os.File
	Ready                 func() error
	Started               func(pid int)
	Exited                func()
	Refused               func(broker.Refusal)
	Trace                 func(phase string)
}

// Run fails: no cage can be built here.
func Run(p *Policy, opt RunOptions) (int, error) { return 0, errNotLinux }

func seccompProtections(abi int, udp string, brokered bool) []Protection { return nil }
