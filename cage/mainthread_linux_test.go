package cage

// The lock-down must never land on the main thread (see offMainThread).
// Which thread a new goroutine runs on is the scheduler's choice, so the
// test makes the case happen: init locks the main goroutine to the main
// thread, and TestMain, running there, calls offMainThread itself.

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func init() { runtime.LockOSThread() }

// offMainResult is what TestMain saw: the thread body ran on, and the main
// thread's no_new_privs afterwards.
var offMainResult struct {
	onMain  bool // TestMain ran on the main thread, so the case was made
	bodyTid int
	mainNNP string
	bodyNNP bool
}

func TestMain(m *testing.M) {
	offMainResult.onMain = unix.Gettid() == unix.Getpid()
	offMainThread(func() {
		offMainResult.bodyTid = unix.Gettid()
		// What the lock-down does first, per thread and for good.
		offMainResult.bodyNNP = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == nil
	})
	offMainResult.mainNNP = threadStatus(unix.Getpid(), "NoNewPrivs:")
	os.Exit(m.Run())
}

func threadStatus(tid int, key string) string {
	pid := strconv.Itoa(unix.Getpid())
	b, _ := os.ReadFile("/proc/" + pid + "/task/" + strconv.Itoa(tid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestLockdownNeverOnMainThread(t *testing.T) {
	r := offMainResult
	if !r.onMain {
		t.Skip("TestMain did not run on the main thread: the case was not made")
	}
	if r.bodyTid == unix.Getpid() {
		t.Errorf("the body ran on the main thread (tid %d)", r.bodyTid)
	}
	if !r.bodyNNP {
		t.Errorf("the body could not set no_new_privs on its thread")
	}
	if r.mainNNP != "0" {
		t.Errorf("the main thread has NoNewPrivs %q after the body, want 0", r.mainNNP)
	}
}
