//go:build !linux

package seccomp

import (
	"errors"

	"golang.org/x/net/bpf"
)

var errSeccompNotLinux = errors.New("seccomp filters need Linux")

// Install fails: seccomp is Linux only.
func Install(prog []bpf.RawInstruction) error { return errSeccompNotLinux }

func seccompKernelSupport() error { return errSeccompNotLinux }

// BrokerSupported fails: the broker is Linux only.
func BrokerSupported() error { return errSeccompNotLinux }
