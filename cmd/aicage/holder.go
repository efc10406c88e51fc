package main

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel tears an inotify instance down when its last descriptor
// closes, and waits for an SRCU grace period to do so (0.1 ms usually, up
// to 20 ms). At aicage's exit that wait sat between the command's exit and
// the user's prompt. So a tiny process outside the cage, cat reading a pipe
// whose other end only aicage holds, keeps a descriptor of the instance:
// aicage's own closes are then cheap, and when aicage exits the pipe ends,
// cat exits, and the teardown happens there, waited for by nobody.

var holder struct {
	mu   sync.Mutex
	pids []int
	w    *os.File // the pipe's write end; closed by the kernel at exit
}

// holdPastExit hands fd to a holder process and closes it here. Any
// failure only means the teardown is waited for at exit, as before.
func holdPastExit(fd int) {
	defer unix.Close(fd)
	cat := "/bin/cat"
	if _, err := os.Stat(cat); err != nil {
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
	pid, err := syscall.ForkExec(cat, []string{"cat"}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: []uintptr{r.Fd(), null.Fd(), null.Fd(), uintptr(fd)},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return
	}
	holder.mu.Lock()
	defer holder.mu.Unlock()
	holder.pids = append(holder.pids, pid)
	if holder.w != nil {
		holder.w.Close()
	}
	holder.w = w
}

// isHolder tells the supervisor which children to leave alive at exit.
func isHolder(pid int) bool {
	holder.mu.Lock()
	defer holder.mu.Unlock()
	for _, p := range holder.pids {
		if p == pid {
			return true
		}
	}
	return false
}
