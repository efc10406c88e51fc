// Command cagetest is the small program the end-to-end tests run inside a
// cage to try an escape. Each sub-command tries one thing, prints what
// happened and exits 0 when the attempt succeeded, 1 when it was refused.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cagetest CMD ARGS…")
		os.Exit(2)
	}
	err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cagetest %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
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
	case "readfd":
		fd, _ := strconv.Atoi(args[0])
		buf := make([]byte, 4096)
		n, err := syscall.Read(fd, buf)
		if err != nil {
			return err
		}
		os.Stdout.Write(buf[:n])
		return nil
	case "connect":
		// connect NETWORK ADDR MSG: dial and send MSG.
		c, err := net.DialTimeout(args[0], args[1], 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(args[2]))
		return err
	case "bind":
		// bind NETWORK ADDR: listen on ADDR.
		l, err := net.Listen(args[0], args[1])
		if err != nil {
			return err
		}
		return l.Close()
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
		// Detached: wait, then write the late file.
		d, _ := time.ParseDuration(args[1])
		time.Sleep(d)
		return os.WriteFile(args[0], []byte("late\n"), 0o644)
	}
	return fmt.Errorf("unknown sub-command %q", cmd)
}

// daemon FILE DELAY starts a detached grandchild (double fork and setsid)
// that writes FILE after DELAY, and returns at once.
func daemon(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if os.Getenv("CAGETEST_DAEMON_STAGE") == "" {
		// First fork: a child that starts the grandchild in a new session and exits.
		p, err := os.StartProcess(self, append([]string{self, "daemon"}, args...), &os.ProcAttr{
			Env:   append(os.Environ(), "CAGETEST_DAEMON_STAGE=1"),
			Files: []*os.File{nil, nil, nil},
		})
		if err != nil {
			return err
		}
		_, err = p.Wait()
		return err
	}
	_, err = os.StartProcess(self, append([]string{self, "daemon-child"}, args...), &os.ProcAttr{
		Files: []*os.File{nil, nil, nil},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	return err
}
