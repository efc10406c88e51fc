package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHoldPastExitFreesInstances: an inotify instance handed to the kernel
// is torn down soon after, off this process: 400 sessions' worth, paced
// like quick successive runs, never run out of the user's instances (128
// by default), and the closes here stay cheap.
func TestHoldPastExitFreesInstances(t *testing.T) {
	dir := t.TempDir()
	var slow int
	for i := 0; i < 400; i++ {
		fd, err := inotifyInit()
		if err != nil {
			t.Fatalf("round %d: inotify_init1: %v (instances handed over are not freed)", i, err)
		}
		if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY); err != nil {
			t.Fatal(err)
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			t.Fatal(err)
		}
		holdPastExit(dup)
		start := time.Now()
		unix.Close(fd)
		if time.Since(start) > 2*time.Millisecond {
			slow++
		}
		time.Sleep(2 * time.Millisecond)
	}
	// A close that waits for the grace period takes 0.1-20 ms; one that
	// drops a reference takes microseconds. Allow for a loaded machine.
	if slow > 40 {
		t.Errorf("%d of 400 closes took over 2 ms: the teardown still runs here", slow)
	}
}

// The fallback where io_uring is off: a cat outside holds the instance
// until aicage's end of its pipe closes (at aicage's exit), then exits.
func TestHoldInProcessFallback(t *testing.T) {
	fd, err := inotifyInit()
	if err != nil {
		t.Fatal(err)
	}
	holdInProcess(fd)
	unix.Close(fd)
	// every inotify instance is the same anonymous inode: look for a cat
	// that holds one
	holders := func() []string {
		var pids []string
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			if string(comm) != "cat\n" {
				continue
			}
			fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
			for _, f := range fds {
				if l, _ := os.Readlink("/proc/" + e.Name() + "/fd/" + f.Name()); l == "anon_inode:inotify" {
					pids = append(pids, e.Name())
				}
			}
		}
		return pids
	}
	// the shell has exited; its cat may not have exec'd yet
	deadline := time.Now().Add(5 * time.Second)
	for len(holders()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h := holders(); len(h) != 1 {
		t.Fatalf("processes holding the instance: %v, want one cat", h)
	}
	holder.mu.Lock()
	holder.w.Close()
	holder.w = nil
	holder.mu.Unlock()
	deadline = time.Now().Add(5 * time.Second)
	for len(holders()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the holder did not exit when its pipe closed: %v", holders())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inotifyInit makes an inotify instance, waiting for those handed to the
// kernel by an earlier test to be torn down when the user's are used up.
func inotifyInit() (int, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	for wait := time.Millisecond; err == unix.EMFILE && wait <= time.Second; wait *= 2 {
		time.Sleep(wait)
		fd, err = unix.InotifyInit1(unix.IN_CLOEXEC)
	}
	return fd, err
}

// Out of inotify instances, the error says what to do; other errors keep
// the general hint.
func TestStartHint(t *testing.T) {
	err := fmt.Errorf("integrity: inotify: %w", unix.EMFILE)
	if h := startHint(err); len(h) != 1 || !strings.Contains(h[0], "max_user_instances") {
		t.Errorf("startHint(EMFILE) = %q", h)
	}
	if h := startHint(fmt.Errorf("integrity: %w", unix.EACCES)); h != nil {
		t.Errorf("startHint(EACCES) = %q", h)
	}
}
