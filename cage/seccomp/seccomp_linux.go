package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Install sets no_new_privs and installs prog on every thread of the
// process (SECCOMP_FILTER_FLAG_TSYNC), so that whichever thread goes on to
// execve carries it. The filter cannot be removed; it is inherited by every
// child and across execve.
func Install(prog []bpf.RawInstruction) error {
	filter, err := Filter(prog)
	if err != nil {
		return err
	}
	// no_new_privs is per thread until TSYNC copies it to the others: both
	// calls must come from the same one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return InstallFilter(filter, unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// seccompFilter converts prog to the kernel's form.
func Filter(prog []bpf.RawInstruction) ([]unix.SockFilter, error) {
	if len(prog) == 0 || len(prog) > seccompMaxInsns {
		return nil, fmt.Errorf("bug: seccomp filter of %d instructions", len(prog))
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return filter, nil
}

// InstallFilter installs filter on the calling thread, and on every
// thread of the process with SECCOMP_FILTER_FLAG_TSYNC. no_new_privs must
// be set on the calling thread already.
func InstallFilter(filter []unix.SockFilter, flags uintptr) error {
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	switch {
	case errno == unix.EINVAL:
		return fmt.Errorf("installing the seccomp filter: %w (the kernel lacks seccomp filters or TSYNC)", errno)
	case errno != 0:
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	case r != 0:
		return fmt.Errorf("installing the seccomp filter: thread %d could not take it", r)
	}
	return nil
}

// seccompKernelSupport checks for seccomp filters and the return actions
// the filter uses.
func seccompKernelSupport() error {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("the kernel has no seccomp (CONFIG_SECCOMP): %w", err)
	}
	for _, action := range []uint32{seccompRetKillProcess, seccompRetErrno, seccompRetAllow} {
		a := action
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&a)))
		if errno != 0 {
			if errors.Is(errno, unix.EINVAL) || errors.Is(errno, unix.ENOSYS) {
				return fmt.Errorf("the kernel lacks seccomp filters or action %#x (CONFIG_SECCOMP_FILTER, Linux 4.14+)", action)
			}
			return fmt.Errorf("checking seccomp action %#x: %w", action, errno)
		}
	}
	return nil
}
