package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	secNargs["landlock-try"] = 2
	secCommands["landlock-try"] = landlockTry
}

// landlock-try HOLE ADDR: restrict this process with Landlock alone — every
// TCP connect and bind handled and none allowed, UDP too where the kernel
// has UDP rules (ABI 10) — and try one escape that the seccomp filter
// exists to close: tfo (sendto with MSG_FASTOPEN), mptcp (an MPTCP connect),
// sctp (an SCTP connect), udp (a datagram), autobind (listen() on a socket
// never bound; ADDR is unused and the caller dials the printed address). Succeeds when the escape got
// through: the tests then know the kernel leaves the hole open, and that a
// control without the filter must show it. The caller checks ADDR's
// listener too. A failure says "closed: " (Landlock refused it, EACCES),
// "absent: " (the kernel lacks the mechanism, and its sysctl agrees) or
// "undecided: " (anything else: the caller must not skip on it).
func landlockTry(args []string) error {
	if err := landlockNetOnly(); err != nil {
		return err
	}
	err := tryEscape(args[0], args[1])
	var errno unix.Errno
	switch {
	case err == nil:
		return nil
	case errors.As(err, &errno) && errno == unix.EACCES:
		return fmt.Errorf("closed: Landlock alone refuses it on this kernel (%v)", err)
	case args[0] == "tfo" && errors.Is(err, unix.EOPNOTSUPP) && sysctl("net/ipv4/tcp_fastopen")&1 == 0:
		return fmt.Errorf("absent: net.ipv4.tcp_fastopen has no client bit (%v)", err)
	case args[0] == "mptcp" && errors.Is(err, unix.EPROTONOSUPPORT) && sysctl("net/mptcp/enabled") == 0:
		return fmt.Errorf("absent: net.mptcp.enabled is off or missing (%v)", err)
	case args[0] == "sctp" && errors.Is(err, unix.EPROTONOSUPPORT):
		return fmt.Errorf("absent: the kernel has no SCTP (%v)", err)
	}
	return fmt.Errorf("undecided: %v", err)
}

// landlockNetOnly restricts this process with Landlock's network rules,
// none allowed: TCP from ABI 4, UDP from ABI 10. Below ABI 4 Landlock has
// no network rules, so it cannot close any of these holes: nothing to do.
func landlockNetOnly() error {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 || abi < 4 {
		return nil
	}
	// struct landlock_ruleset_attr up to handled_access_net (ABI 4).
	attr := struct{ fs, net uint64 }{net: unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	if abi >= 10 {
		attr.net |= 1<<2 | 1<<3 // LANDLOCK_ACCESS_NET_BIND_UDP, LANDLOCK_ACCESS_NET_CONNECT_SEND_UDP
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("undecided: landlock_create_ruleset: %v", e)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("undecided: no_new_privs: %v", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("undecided: landlock_restrict_self: %v", e)
	}
	return nil
}

// sysctl reads /proc/sys/NAME, 0 when it cannot: an errno that only says
// "off" counts as the kernel's doing when the sysctl agrees.
func sysctl(name string) int {
	b, _ := os.ReadFile("/proc/sys/" + name)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// tryEscape sends "landlock-HOLE" to addr through the hole.
func tryEscape(hole, addr string) error {
	if hole == "autobind" {
		return acceptUnbound()
	}
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	msg := []byte("landlock-" + hole)
	switch hole {
	case "tfo":
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Sendto(s, msg, unix.MSG_FASTOPEN, sa)
	case "mptcp", "sctp":
		proto := unix.IPPROTO_MPTCP
		if hole == "sctp" {
			proto = unix.IPPROTO_SCTP
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Connect(s, sa); err != nil {
			return err
		}
		_, err = unix.Write(s, msg)
		return err
	case "udp":
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Sendto(s, msg, 0, sa)
	}
	return fmt.Errorf("unknown hole %q: want tfo, mptcp, sctp, udp or autobind", hole)
}

// acceptUnbound listens on a TCP socket never bound, so that the kernel
// picks the port, prints "listening on 127.0.0.1:PORT" and accepts one
// connection within 3 seconds.
func acceptUnbound() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Listen(s, 1); err != nil {
		return err
	}
	sa, err := unix.Getsockname(s)
	if err != nil {
		return fmt.Errorf("getsockname: %v", err)
	}
	fmt.Printf("listening on 127.0.0.1:%d\n", sa.(*unix.SockaddrInet4).Port)
	fds := []unix.PollFd{{Fd: int32(s), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 3000); err != nil || n == 0 {
		return fmt.Errorf("nobody connected within 3s (%v)", err)
	}
	// Accept and wait for the dialer to hang up: exiting with the
	// connection still queued would reset it before the dialer sees it.
	c, _, err := unix.Accept4(s, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept: %v", err)
	}
	defer unix.Close(c)
	unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	unix.Read(c, make([]byte, 16))
	return nil
}
