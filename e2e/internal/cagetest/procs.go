package main

// Sub-commands that reach another process by its pid (issue 20): the
// calls the seccomp filter refuses are tried with util-linux's own tools
// (prlimit, renice, ionice, chrt, taskset); these are the ones the kernel
// refuses to a Landlock domain, which those tools cannot make.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

var procNargs = map[string]int{"pidcall": 2}

var procCommands = map[string]func(args []string) error{
	"pidcall": pidCall,
}

// pidcall CALL PID makes CALL (kcmp, process_madvise, migrate_pages,
// move_pages; sched_setattr and sched_setparam, which no util-linux tool
// makes on its own) on PID and says what the kernel answered.
func pidCall(args []string) error {
	pid, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	addr := mappedAddr(pid)
	var e unix.Errno
	switch args[0] {
	case "kcmp":
		const kcmpVM = 1
		_, _, e = unix.Syscall6(unix.SYS_KCMP, uintptr(os.Getpid()), uintptr(pid), kcmpVM, 0, 0, 0)
	case "process_madvise":
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return fmt.Errorf("pidfd_open: %w", err)
		}
		defer unix.Close(pidfd)
		iov := [2]uintptr{addr, 4096} // struct iovec in the target
		_, _, e = unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(pidfd), uintptr(unsafe.Pointer(&iov)), 1, unix.MADV_COLD, 0, 0)
	case "migrate_pages":
		nodes := [1]uint64{1}
		_, _, e = unix.Syscall6(unix.SYS_MIGRATE_PAGES, uintptr(pid), 64, uintptr(unsafe.Pointer(&nodes)), uintptr(unsafe.Pointer(&nodes)), 0, 0)
	case "move_pages":
		pages, status := [1]uintptr{addr}, [1]int32{}
		_, _, e = unix.Syscall6(unix.SYS_MOVE_PAGES, uintptr(pid), 1, uintptr(unsafe.Pointer(&pages)), 0, uintptr(unsafe.Pointer(&status)), 0)
	case "sched_setattr":
		e = errnoOf(unix.SchedSetAttr(pid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}, 0))
	case "sched_setparam":
		param := [1]int32{0}
		_, _, e = unix.Syscall(unix.SYS_SCHED_SETPARAM, uintptr(pid), uintptr(unsafe.Pointer(&param)), 0)
	default:
		return fmt.Errorf("unknown call %q", args[0])
	}
	if e != 0 {
		return fmt.Errorf("%s: %w", args[0], e)
	}
	fmt.Printf("%s: reached process %d\n", args[0], pid)
	return nil
}

// mappedAddr is the start of pid's first mapping where /proc shows it
// (not from inside a cage: Landlock hides it), else a typical address: the
// calls are refused before they look at it.
func mappedAddr(pid int) uintptr {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			start, _, _ := strings.Cut(sc.Text(), "-")
			if a, err := strconv.ParseUint(start, 16, 64); err == nil {
				return uintptr(a)
			}
		}
	}
	return 0x400000
}

func errnoOf(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return 0
}
