package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	secNargs["supervisor-reach"] = 1
	secCommands["supervisor-reach"] = supervisorReach
	secNargs["supervisor-signal"] = 1
	secCommands["supervisor-signal"] = supervisorSignal
}

// supervisor-signal PID: for every thread of PID (the supervisor), ask
// with signal 0 — the permission check alone, nothing is delivered —
// whether kill, tkill, tgkill, pidfd_open + pidfd_send_signal, and a /proc
// directory as pidfd could signal it; and whether fcntl F_SETOWN_EX could
// make it a file's signal owner. Succeeds if any could.
func supervisorSignal(args []string) error {
	pid, _ := strconv.Atoi(args[0])
	tasks, err := os.ReadDir("/proc/" + args[0] + "/task")
	if err != nil {
		return err
	}
	reached := 0
	try := func(tid int, how string, err error) {
		if err == nil {
			reached++
			fmt.Printf("task %d: %s: could signal\n", tid, how)
		} else {
			fmt.Printf("task %d: %s: %v\n", tid, how, err)
		}
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if tid == pid {
			continue // the process itself: Landlock's scope decides, tested in cage_signal
		}
		try(tid, "kill", unix.Kill(tid, 0))
		_, _, e := unix.Syscall(unix.SYS_TKILL, uintptr(tid), 0, 0)
		try(tid, "tkill", errnoErr(e))
		try(tid, "tgkill", unix.Tgkill(pid, tid, 0))
		if fd, err := unix.PidfdOpen(tid, unix.O_EXCL); err == nil {
			try(tid, "pidfd_send_signal (pidfd_open)", unix.PidfdSendSignal(fd, 0, nil, 0))
			unix.Close(fd)
		} else {
			try(tid, "pidfd_open", err)
		}
		if fd, err := unix.Open("/proc/"+strconv.Itoa(tid), unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			try(tid, "pidfd_send_signal (/proc)", unix.PidfdSendSignal(fd, 0, nil, 0))
			unix.Close(fd)
		}
	}
	if r, w, err := os.Pipe(); err == nil {
		own := struct {
			typ int32
			pid int32
		}{0, int32(pid)} // F_OWNER_TID with the process: harmless, only asks whether the call is there
		_, _, e := unix.Syscall(unix.SYS_FCNTL, r.Fd(), unix.F_SETOWN_EX, uintptr(unsafe.Pointer(&own)))
		try(pid, "fcntl F_SETOWN_EX", errnoErr(e))
		r.Close()
		w.Close()
	}
	if reached > 0 {
		return nil
	}
	return fmt.Errorf("no thread of %s could be signalled", args[0])
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// supervisor-reach PID: for every thread of PID (the supervisor), read its
// environ and try to ptrace-attach to it. One thread of the supervisor, the
// one that started the command, is in the command's own Landlock domain,
// which Landlock lets ptrace its members. Succeeds if any attempt does.
func supervisorReach(args []string) error {
	tasks, err := os.ReadDir("/proc/" + args[0] + "/task")
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	reached := 0
	for _, t := range tasks {
		tid := t.Name()
		b, err := os.ReadFile("/proc/" + args[0] + "/task/" + tid + "/environ")
		if err == nil {
			reached++
			fmt.Printf("task %s: environ read: %s\n", tid, strings.ReplaceAll(string(b), "\x00", " "))
		} else {
			fmt.Printf("task %s: environ: %v\n", tid, err.(*os.PathError).Err)
		}
		var n int
		fmt.Sscan(tid, &n)
		if err := syscall.PtraceAttach(n); err == nil {
			reached++
			fmt.Printf("task %s: ptrace attached\n", tid)
			var ws syscall.WaitStatus
			syscall.Wait4(n, &ws, syscall.WALL, nil)
			syscall.PtraceDetach(n)
		} else {
			fmt.Printf("task %s: ptrace: %v\n", tid, err)
		}
	}
	if reached > 0 {
		return nil
	}
	return fmt.Errorf("no thread of %s reached", args[0])
}
