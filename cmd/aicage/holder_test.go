package main

import (
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
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
		for wait := time.Millisecond; err == unix.EMFILE && wait <= 256*time.Millisecond; wait *= 2 {
			time.Sleep(wait)
			fd, err = unix.InotifyInit1(unix.IN_CLOEXEC)
		}
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
