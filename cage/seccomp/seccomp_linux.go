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

// InstallFilterListener installs filter on the calling thread only and
// returns the user-notification listener of the connect broker
// (close-on-exec). With SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19)
// a caged call that the broker has received waits for its answer through
// any signal but a fatal one, so a Go program's preemption signals cannot
// make it restart a connect that the broker already performed.
func InstallFilterListener(filter []unix.SockFilter) (int, error) {
	const flags = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	fd, err := installFilterFD(filter, flags|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	if errors.Is(err, unix.EINVAL) {
		fd, err = installFilterFD(filter, flags)
	}
	if err != nil {
		return -1, fmt.Errorf("installing the seccomp filter with the broker's listener: %w", err)
	}
	return fd, nil
}

func installFilterFD(filter []unix.SockFilter, flags uintptr) (int, error) {
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// BrokerSupported tells whether the kernel has what the connect broker
// needs: user notification (Linux 5.0) and pidfd_getfd (5.6).
func BrokerSupported() error {
	if err := seccompKernelSupport(); err != nil {
		return err
	}
	a := uint32(seccompRetUserNotif)
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&a))); errno != 0 {
		return fmt.Errorf("the kernel lacks seccomp user notification (Linux 5.0+): %w", errno)
	}
	if _, err := unix.PidfdGetfd(-1, 0, 0); errors.Is(err, unix.ENOSYS) {
		return errors.New("the kernel lacks pidfd_getfd (Linux 5.6+)")
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
