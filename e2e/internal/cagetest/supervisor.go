package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

func init() {
	secNargs["supervisor-reach"] = 1
	secCommands["supervisor-reach"] = supervisorReach
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
