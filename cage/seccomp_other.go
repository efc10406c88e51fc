//go:build !linux

package cage

import (
	"errors"

	"golang.org/x/net/bpf"
)

var errSeccompNotLinux = errors.New("seccomp filters need Linux")

// InstallSeccomp fails: seccomp is Linux only.
func InstallSeccomp(prog []bpf.RawInstruction) error { return errSeccompNotLinux }

func seccompKernelSupport() error { return errSeccompNotLinux }
