package main

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel tears an inotify instance down when its last descriptor
// closes, and waits for an SRCU grace period to do so (0.1 ms usually, up
// to 20 ms). At aicage's exit that wait sat between the command's exit and
// the user's prompt: a process's last close runs before its parent may
// reap it. So the last reference to the instance is handed to the kernel:
// an io_uring's registered files hold one, and a ring's teardown, closing
// what it holds, runs in a kernel worker once its last descriptor is
// closed. The ring is closed at once; aicage's own closes are then cheap,
// and the teardown happens in the worker, waited for by nobody. It costs
// one io_uring_setup and one register (about 70 µs).
//
// Where io_uring is turned off (kernel.io_uring_disabled), a tiny process
// outside the cage, cat reading a pipe whose other end only aicage holds,
// keeps a descriptor of the instance instead: when aicage exits the pipe
// ends, cat exits, and the teardown happens there. It costs two execs.
//
// cat is started by a shell that exits at once, before the supervisor
// becomes child subreaper (the snapshot, and so this, is done before): cat
// is then no child of aicage's, so the end of the session neither kills
// nor waits for it, nor has to tell it from the cage's leftovers.

var holder struct {
	mu sync.Mutex
	w  *os.File // the pipe's write end; closed by the kernel at exit
}

// holdPastExit hands fd to the kernel, or else to a holder process, and
// closes it here. Any failure only means the teardown is waited for at
// exit.
func holdPastExit(fd int) {
	defer unix.Close(fd)
	if parkInRing(fd) == nil {
		return
	}
	holdInProcess(fd)
}

// parkInRing registers fd with a new io_uring and closes the ring: the
// ring's exit work, in a kernel worker, drops the last reference.
func parkInRing(fd int) error {
	var params [120]byte // struct io_uring_params, zeroed: all defaults
	ring, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return errno
	}
	defer unix.Close(int(ring))
	const registerFiles = 2 // IORING_REGISTER_FILES
	fds := [1]int32{int32(fd)}
	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_REGISTER, ring, registerFiles, uintptr(unsafe.Pointer(&fds[0])), 1, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// holdInProcess hands fd to a cat that lives until aicage exits.
func holdInProcess(fd int) {
	const sh = "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		return
	}
	r, w, err := os.Pipe() // close-on-exec: the command never gets either end
	if err != nil {
		return
	}
	defer r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return
	}
	defer null.Close()
	// fd 3 is the inotify instance, fd 4 the pipe: an asynchronous list's
	// stdin is /dev/null unless redirected, so cat takes fd 4 as its own.
	pid, err := syscall.ForkExec(sh, []string{"sh", "-c", "cat <&4 4<&- & exit 0"}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), uintptr(fd), r.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	holder.mu.Lock()
	defer holder.mu.Unlock()
	if holder.w != nil {
		holder.w.Close()
	}
	holder.w = w
}
