package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	"probe":       cmdProbe,
}

// listen KIND VAR FILE: listen on a free loopback port and append everything
// received to FILE. Sets $VAR to host:port and ${VAR}_PORT to the port.
// KIND is tcp, tcp6 ([::1]), udp, udplite or sctp; http, which answers every
// request with "aicage-http-ok" and records its request line; or abstract
// or unix, which listen on the abstract unix name or the path in $VAR's
// value instead.
func cmdListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: listen tcp|tcp6|udp|udplite|sctp|http|abstract|unix VAR FILE")
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
	case "udp", "udplite":
		var c net.PacketConn
		var err error
		if kind == "udp" {
			c, err = net.ListenPacket("udp4", "127.0.0.1:0")
		} else {
			c, err = listenLoopback(syscall.SOCK_DGRAM, syscall.IPPROTO_UDPLITE)
		}
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
	case "http":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		ts.Check(err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			record([]byte(r.Method + " " + r.URL.Path + "\n"))
			io.WriteString(w, "aicage-http-ok\n")
		})}
		ts.Defer(func() { srv.Close() })
		go srv.Serve(l)
		setAddr(ts, name, l.Addr().String())
	case "tcp", "tcp6", "sctp", "abstract", "unix":
		var l net.Listener
		var err error
		switch kind {
		case "tcp":
			// A classic TCP listener: MPTCP would accept classic clients too,
			// but this listener is outside the cage anyway.
			l, err = net.Listen("tcp4", "127.0.0.1:0")
		case "tcp6":
			l, err = net.Listen("tcp6", "[::1]:0")
		case "sctp":
			l, err = listenSCTP()
		case "abstract":
			l, err = net.Listen("unix", "@"+ts.Getenv(name))
		case "unix":
			l, err = net.Listen("unix", ts.MkAbs(ts.Getenv(name)))
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
		if kind != "abstract" && kind != "unix" {
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
	isAlive := func() bool {
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return syscall.Kill(pid, 0) == nil && !bytes.Contains(stat, []byte(") Z "))
	}
	// A signal that was delivered may take a moment to kill: "! alive"
	// waits up to 2s for the death, and "alive" looks twice, 50ms apart,
	// so that a kill still in flight is not taken for a refused one.
	if neg {
		for deadline := time.Now().Add(2 * time.Second); isAlive(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				ts.Fatalf("process %d still alive after 2s", pid)
			}
		}
		return
	}
	if !isAlive() {
		ts.Fatalf("process %d is dead", pid)
	}
	time.Sleep(50 * time.Millisecond)
	if !isAlive() {
		ts.Fatalf("process %d died", pid)
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

// loopbackSocket makes a socket of type typ and protocol proto bound to a
// free port on 127.0.0.1, as a file for net's File* constructors.
func loopbackSocket(typ, proto int) (*os.File, error) {
	fd, err := syscall.Socket(syscall.AF_INET, typ|syscall.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "loopback")
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		f.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	return f, nil
}

// listenLoopback is a datagram listener of protocol proto (UDP-Lite) on a
// free loopback port.
func listenLoopback(typ, proto int) (net.PacketConn, error) {
	f, err := loopbackSocket(typ, proto)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FilePacketConn(f)
}

// listenSCTP is a one-to-one SCTP listener on a free loopback port.
func listenSCTP() (net.Listener, error) {
	f, err := loopbackSocket(syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Listen(int(f.Fd()), 8); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return net.FileListener(f)
}

// probe FEATURE…: for each FEATURE this machine has (for a hole: that
// this kernel leaves open, so that a control must show it), put an executable
// have-FEATURE (":" made "-") in a directory at the front of $PATH, so that
// the script can skip with [!exec:have-FEATURE] skip 'why'. An escape is
// then never judged refused where the kernel could not have done it anyway.
// (testscript's own [exec:NAME] condition is the only one a command can
// feed; its answers are cached by name, and these are facts of the machine.)
//
//	sctp         the kernel makes SCTP sockets
//	udplite      the kernel makes UDP-Lite sockets
//	family:NAME  the kernel makes sockets of family NAME (alg, bluetooth, vsock)
//	netlink:NAME the kernel makes netlink sockets of protocol NAME
//	             (sock_diag, uevent, audit, generic)
//	keyring      the kernel has keyrings (keyctl is not ENOSYS)
//	landlock-open:HOLE  Landlock alone, without the seccomp filter, lets
//	             the escape through (tfo, mptcp, sctp, udp: tried against a
//	             loopback listener; unix: below ABI 9); a probe that cannot
//	             tell fails the script (kernel_test.go)
//	tiocsti      TIOCSTI works without privileges (dev.tty.legacy_tiocsti)
//	n_null       the N_NULL line discipline is there (/proc/tty/ldiscs)
//	tfo          TCP fast open for clients (net.ipv4.tcp_fastopen bit 1)
//	mptcp        MPTCP is enabled (net.mptcp.enabled)
//	iouring      io_uring is open to every user (kernel.io_uring_disabled)
//	ipv6         ::1 can be bound
//
// The socket probes try outside the cage: no Landlock ABI restricts making
// a socket, so outside is the same as under Landlock alone. The reason a
// feature is missing goes to the log.
func cmdProbe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: probe FEATURE…")
	}
	dir := filepath.Join(ts.Getenv("WORK"), ".probe")
	ts.Check(os.MkdirAll(dir, 0o755))
	for _, f := range args {
		if why := missing(ts, f); why != "" {
			ts.Logf("probe: no %s: %s", f, why)
			continue
		}
		name := "have-" + strings.ReplaceAll(f, ":", "-")
		ts.Check(os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	}
	if path := ts.Getenv("PATH"); !strings.HasPrefix(path, dir+":") {
		ts.Setenv("PATH", dir+":"+path)
	}
}

// missing says why this machine lacks feature f, or "".
func missing(ts *testscript.TestScript, f string) string {
	sysctl := func(file string) (int, bool) {
		b, err := os.ReadFile(file)
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		return n, err == nil
	}
	trySocket := func(family, typ, proto int) string {
		fd, err := syscall.Socket(family, typ|syscall.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Sprintf("the kernel refuses the socket outside the cage too (%v)", err)
		}
		syscall.Close(fd)
		return ""
	}
	if hole, ok := strings.CutPrefix(f, "landlock-open:"); ok {
		return landlockCloses(ts, hole)
	}
	if f == "node24" {
		return node24(ts)
	}
	if name, ok := strings.CutPrefix(f, "family:"); ok {
		switch name {
		case "alg":
			return trySocket(38, syscall.SOCK_SEQPACKET, 0) // AF_ALG
		case "bluetooth":
			return trySocket(31, syscall.SOCK_SEQPACKET, 0) // AF_BLUETOOTH, L2CAP
		case "vsock":
			return trySocket(40, syscall.SOCK_STREAM, 0) // AF_VSOCK
		}
		ts.Fatalf("probe: unknown family %q", name)
	}
	if name, ok := strings.CutPrefix(f, "netlink:"); ok {
		typ, proto := syscall.SOCK_RAW, map[string]int{"sock_diag": 4, "uevent": 15, "audit": 9, "generic": 16}[name]
		if name == "generic" {
			typ = syscall.SOCK_DGRAM
		}
		if proto == 0 {
			ts.Fatalf("probe: unknown netlink protocol %q", name)
		}
		return trySocket(syscall.AF_NETLINK, typ, proto)
	}
	switch f {
	case "udplite":
		return trySocket(syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_UDPLITE)
	case "keyring":
		// KEYCTL_GET_KEYRING_ID of the session keyring, not created
		if _, _, e := syscall.Syscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0); e == syscall.ENOSYS {
			return "the kernel has no keyrings (CONFIG_KEYS): nothing to escape with"
		}
		return ""
	case "sctp":
		return trySocket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	case "tiocsti":
		if n, ok := sysctl("/proc/sys/dev/tty/legacy_tiocsti"); ok && n == 0 {
			return "dev.tty.legacy_tiocsti = 0: the kernel refuses TIOCSTI without CAP_SYS_ADMIN by itself"
		}
		return ""
	case "n_null":
		if b, _ := os.ReadFile("/proc/tty/ldiscs"); !bytes.Contains(b, []byte("n_null")) {
			return "no n_null in /proc/tty/ldiscs"
		}
		return ""
	case "tfo":
		if n, ok := sysctl("/proc/sys/net/ipv4/tcp_fastopen"); !ok || n&1 == 0 {
			return "net.ipv4.tcp_fastopen has no client bit (1): MSG_FASTOPEN does nothing here"
		}
		return ""
	case "mptcp":
		if n, ok := sysctl("/proc/sys/net/mptcp/enabled"); !ok || n == 0 {
			return "net.mptcp.enabled is off or missing"
		}
		return ""
	case "iouring":
		if n, ok := sysctl("/proc/sys/kernel/io_uring_disabled"); ok && n != 0 {
			return fmt.Sprintf("kernel.io_uring_disabled = %d", n)
		}
		return ""
	case "ipv6":
		l, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return err.Error()
		}
		l.Close()
		return ""
	}
	ts.Fatalf("probe: unknown feature %q", f)
	return ""
}
