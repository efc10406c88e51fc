package e2e

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// commands run outside the cage, in the test process: listeners that record
// what reaches them, and processes the cage must not touch.
var commands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"listen":      cmdListen,
	"outsideproc": cmdOutsideProc,
	"alive":       cmdAlive,
	"received":    cmdReceived,
	"waitfile":    cmdWaitFile,
	"dial":        cmdDial,
	"freeport":    cmdFreePort,
	"status":      cmdStatus,
}

// listen tcp|udp|abstract VAR FILE: listen on a free loopback port (or the
// abstract unix name in $VAR's value for abstract) and append everything
// received to FILE. Sets $VAR to host:port and ${VAR}_PORT to the port.
func cmdListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: listen tcp|udp|abstract VAR FILE")
	}
	kind, name, file := args[0], args[1], ts.MkAbs(args[2])
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
	var mu sync.Mutex
	record := func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			f.Write(b)
			f.Close()
		}
	}
	switch kind {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		ts.Check(err)
		ts.Defer(func() { c.Close() })
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				record(buf[:n])
			}
		}()
		setAddr(ts, name, c.LocalAddr().String())
	case "tcp", "abstract":
		var l net.Listener
		var err error
		if kind == "tcp" {
			// A classic TCP listener: MPTCP would accept classic clients too,
			// but this listener is outside the cage anyway.
			l, err = net.Listen("tcp4", "127.0.0.1:0")
		} else {
			l, err = net.Listen("unix", "@"+ts.Getenv(name))
		}
		ts.Check(err)
		ts.Defer(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					var b bytes.Buffer
					b.ReadFrom(c)
					record(append([]byte("connection:"), b.Bytes()...))
				}()
			}
		}()
		if kind == "tcp" {
			setAddr(ts, name, l.Addr().String())
		}
	default:
		ts.Fatalf("listen: unknown kind %q", kind)
	}
}

func setAddr(ts *testscript.TestScript, name, addr string) {
	ts.Setenv(name, addr)
	_, port, _ := net.SplitHostPort(addr)
	ts.Setenv(name+"_PORT", port)
}

// received FILE [TEXT]: FILE gets TEXT within 3 seconds; negated, FILE stays
// empty for half a second (the cage's command has already returned).
func cmdReceived(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: received FILE [TEXT]")
	}
	file := ts.MkAbs(args[0])
	want := strings.Join(args[1:], " ")
	wait := 3 * time.Second
	if neg {
		wait = 500 * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	for {
		b, _ := os.ReadFile(file)
		got := len(b) > 0 && strings.Contains(string(b), want)
		if neg && len(b) > 0 {
			ts.Fatalf("%s received %q", args[0], b)
		}
		if !neg && got {
			return
		}
		if time.Now().After(deadline) {
			if neg {
				return
			}
			ts.Fatalf("%s did not receive %q within %v (has %q)", args[0], want, wait, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outsideproc VAR: start a process outside the cage and set $VAR to its pid.
func cmdOutsideProc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: outsideproc VAR")
	}
	cmd := exec.Command("sleep", "300")
	cmd.Env = []string{"OUTSIDE_SECRET=CANARY-ENV-SECRET"}
	ts.Check(cmd.Start())
	ts.Defer(func() { cmd.Process.Kill(); cmd.Wait() })
	ts.Setenv(args[0], strconv.Itoa(cmd.Process.Pid))
}

// alive PID|FILE: the process still runs (not a zombie). A FILE holds the pid.
func cmdAlive(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: alive PID|FILE")
	}
	arg := args[0]
	pid, err := strconv.Atoi(arg)
	if err != nil {
		pid, err = strconv.Atoi(strings.TrimSpace(ts.ReadFile(arg)))
		ts.Check(err)
	}
	stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	alive := syscall.Kill(pid, 0) == nil && !bytes.Contains(stat, []byte(") Z "))
	if alive == neg {
		ts.Fatalf("process %d alive: %v", pid, alive)
	}
}

// waitfile FILE: FILE exists and is not empty within 5 seconds (a process in
// the background writes it when it is ready).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	file := ts.MkAbs(args[0])
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(file); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s was not written within 5s", args[0])
		}
	}
}

// dial ADDR|@FILE: a TCP connection to ADDR from outside the cage succeeds;
// negated, it is refused (nothing listens there). @FILE takes the address
// from a "listening on ADDR" line that `cagetest serve` wrote; a FILE
// without one (the listen was refused) counts as refused.
func cmdDial(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: dial ADDR|@FILE")
	}
	addr := args[0]
	if file, ok := strings.CutPrefix(addr, "@"); ok {
		line, _, _ := strings.Cut(ts.ReadFile(file), "\n")
		if addr, ok = strings.CutPrefix(line, "listening on "); !ok {
			if !neg {
				ts.Fatalf("%s: nothing listens (%q)", file, line)
			}
			return
		}
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		if neg {
			ts.Fatalf("something listens on %s", addr)
		}
		return
	}
	if !neg {
		ts.Fatalf("dial %s: %v", addr, err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		ts.Fatalf("dial %s: want connection refused, got %v", addr, err)
	}
}

// freeport VAR: set $VAR to a loopback TCP port that nothing listens on
// (free a moment ago).
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	ts.Check(err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	ts.Setenv(args[0], port)
}

// status N CMD ARGS…: run CMD (like exec) and check that its exit status is
// N; its stdout and stderr are kept for the next commands.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N CMD ARGS…")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
		if got < 0 {
			ts.Fatalf("%s: %v", args[1], err)
		}
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}
