// Command cagetest is the small program the end-to-end tests run inside a
// cage to try an escape. Each sub-command tries one thing, prints what
// happened and exits 0 when the attempt succeeded, 1 when it was refused.
// Two are harnesses that run outside the cage and exit with the status of
// the command they run: terminal (the user's terminal, terminal.go) and
// keyring-session (a login's session keyring, seccomp.go).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cagetest CMD ARGS…")
		os.Exit(2)
	}
	if !argsOK(os.Args[1], len(os.Args)-2) {
		// 2, not 1: a typo in a script must not pass for a refused escape.
		fmt.Fprintf(os.Stderr, "cagetest: unknown sub-command %q or wrong number of arguments\n", os.Args[1])
		os.Exit(2)
	}
	err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cagetest %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// argsOK tells whether cmd is a sub-command that takes n arguments.
func argsOK(cmd string, n int) bool {
	want, ok := nargs[cmd]
	if !ok {
		want, ok = secNargs[cmd]
	}
	if !ok {
		want, ok = procNargs[cmd]
	}
	if want < 0 { // at least -want
		return ok && n >= -want
	}
	return ok && n == want
}

// nargs is how many arguments each sub-command takes; -N is at least N.
var nargs = map[string]int{
	"read": 1, "readfd": 1, "readat": 2, "connect": 3, "bind": 2, "serve": 3,
	"write": 2, "kill": 1, "abstract": 2, "daemon": 2, "daemon-child": 2, "ids": 0,
}

func run(cmd string, args []string) error {
	switch cmd {
	case "read":
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		os.Stdout.Write(b)
		return nil
	case "write":
		// write FILE TEXT: create or replace FILE.
		return os.WriteFile(args[0], []byte(args[1]+"\n"), 0o644)
	case "readfd":
		fd, _ := strconv.Atoi(args[0])
		return readFD(fd)
	case "readat":
		// readat FD NAME: open NAME relative to the directory fd FD.
		dirfd, _ := strconv.Atoi(args[0])
		fd, err := syscall.Openat(dirfd, args[1], syscall.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		return readFD(fd)
	case "connect":
		// connect NETWORK ADDR MSG: dial and send MSG.
		network, d := dialer(args[0])
		c, err := d.Dial(network, args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(args[2]))
		return err
	case "bind":
		// bind NETWORK ADDR: listen on ADDR.
		network, lc := listenConfig(args[0])
		l, err := lc.Listen(context.Background(), network, args[1])
		if err != nil {
			return err
		}
		return l.Close()
	case "serve":
		return serve(args)
	case "kill":
		pid, _ := strconv.Atoi(args[0])
		return syscall.Kill(pid, syscall.SIGTERM)
	case "abstract":
		// abstract NAME MSG: connect to the abstract unix socket @NAME.
		c, err := net.Dial("unix", "@"+args[0])
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(args[1]))
		return err
	case "daemon":
		return daemon(args)
	case "daemon-child":
		return daemonChild(args)
	case "ids":
		return ids()
	}
	if f, ok := secCommands[cmd]; ok {
		return f(args)
	}
	if f, ok := procCommands[cmd]; ok {
		return f(args)
	}
	return fmt.Errorf("bug: sub-command %q has no case", cmd)
}

// The TCP networks are classic TCP whatever Go's default (Go 1.24 listens
// with MPTCP): tcp, tcp4, tcp6. MPTCP is asked for by name: mptcp, mptcp4,
// mptcp6. Other networks (unix, udp) are passed as they are.
func mptcp(network string) (string, bool) {
	if rest, ok := strings.CutPrefix(network, "mptcp"); ok {
		return "tcp" + rest, true
	}
	return network, false
}

func dialer(network string) (string, *net.Dialer) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	network, mp := mptcp(network)
	d.SetMultipathTCP(mp)
	return network, d
}

func listenConfig(network string) (string, *net.ListenConfig) {
	lc := &net.ListenConfig{}
	network, mp := mptcp(network)
	lc.SetMultipathTCP(mp)
	return network, lc
}

func readFD(fd int) error {
	buf := make([]byte, 4096)
	n, err := syscall.Read(fd, buf)
	if err != nil {
		return err
	}
	os.Stdout.Write(buf[:n])
	return nil
}

// serve NETWORK ADDR READY tries to listen on ADDR and writes the outcome to
// READY, so that the test can dial ADDR from outside while the listener (if
// any) is up; a listener stays up until one connection or 3 seconds.
//
// ADDR "unbound" calls listen(2) on a socket never bound: the kernel picks
// an ephemeral port without the bind hook (landlock-lsm/linux#15).
func serve(args []string) error {
	var l net.Listener
	var err error
	if args[1] == "unbound" {
		l, err = listenUnbound()
	} else {
		network, lc := listenConfig(args[0])
		l, err = lc.Listen(context.Background(), network, args[1])
	}
	if err != nil {
		os.WriteFile(args[2], []byte("refused: "+err.Error()+"\n"), 0o644)
		return err
	}
	defer l.Close()
	if err := os.WriteFile(args[2], []byte("listening on "+l.Addr().String()+"\n"), 0o644); err != nil {
		return err
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	if c, err := l.Accept(); err == nil {
		fmt.Println("accepted a connection from", c.RemoteAddr())
		c.Close()
	}
	return nil
}

// listenUnbound listens on an IPv4 TCP socket that was never bound.
func listenUnbound() (net.Listener, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "unbound")
	defer f.Close()
	if err := syscall.Listen(fd, 8); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok || in4.Port == 0 {
		return nil, errors.New("listen: no port was assigned")
	}
	return net.FileListener(f)
}

// daemon FILE DELAY starts a detached grandchild (double fork and setsid)
// that writes its pid to FILE.pid at once and "late" to FILE after DELAY. It
// returns once the grandchild runs, so that the test knows there is
// something for the supervisor to kill.
func daemon(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if os.Getenv("CAGETEST_DAEMON_STAGE") != "" {
		// The middle process: start the grandchild in a new session and
		// exit, so that it is orphaned.
		_, err = os.StartProcess(self, append([]string{self, "daemon-child"}, args...), &os.ProcAttr{
			Files: []*os.File{nil, nil, nil, os.NewFile(3, "ready")},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	p, err := os.StartProcess(self, append([]string{self, "daemon"}, args...), &os.ProcAttr{
		Env:   append(os.Environ(), "CAGETEST_DAEMON_STAGE=1"),
		Files: []*os.File{nil, nil, os.Stderr, w},
	})
	w.Close()
	if err != nil {
		return err
	}
	if st, err := p.Wait(); err != nil || !st.Success() {
		return fmt.Errorf("the middle process failed: %v %v", st, err)
	}
	// The grandchild closes its end of the pipe once FILE.pid is written.
	var b bytes.Buffer
	b.ReadFrom(r)
	if b.String() != "ok" {
		return errors.New("the grandchild did not start")
	}
	pid, _ := os.ReadFile(args[0] + ".pid")
	fmt.Printf("daemon pid %s\n", strings.TrimSpace(string(pid)))
	return nil
}

func daemonChild(args []string) error {
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	if err := os.WriteFile(args[0]+".pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	ready := os.NewFile(3, "ready")
	ready.Write([]byte("ok"))
	ready.Close()
	time.Sleep(d)
	return os.WriteFile(args[0], []byte("late\n"), 0o644)
}

// ids prints the effective ids and the capability sets of this process.
func ids() error {
	fmt.Printf("euid=%d egid=%d\n", os.Geteuid(), os.Getegid())
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Cap") || strings.HasPrefix(line, "NoNewPrivs") {
			fmt.Println(line)
		}
	}
	return nil
}
