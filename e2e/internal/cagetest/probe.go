package main

import (
	"fmt"
	"net"
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
// sctp (an SCTP connect), udp (a datagram). Succeeds when the escape got
// through: the tests then know the kernel leaves the hole open, and that a
// control without the filter must show it. The caller checks ADDR's
// listener too.
func landlockTry(args []string) error {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 || abi < 4 {
		return fmt.Errorf("no Landlock network rules here (ABI %d, %v)", abi, e)
	}
	// struct landlock_ruleset_attr up to handled_access_net (ABI 4).
	attr := struct{ fs, net uint64 }{net: unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	size := unsafe.Sizeof(attr)
	if abi >= 10 {
		attr.net |= 1<<2 | 1<<3 // LANDLOCK_ACCESS_NET_BIND_UDP, LANDLOCK_ACCESS_NET_CONNECT_SEND_UDP
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return fmt.Errorf("landlock_create_ruleset: %v", e)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %v", e)
	}
	ap, err := net.ResolveTCPAddr("tcp4", args[1])
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	msg := []byte("landlock-" + args[0])
	switch args[0] {
	case "tfo":
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Sendto(s, msg, unix.MSG_FASTOPEN, sa)
	case "mptcp", "sctp":
		proto := 262 // IPPROTO_MPTCP
		if args[0] == "sctp" {
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
	return fmt.Errorf("unknown hole %q: want tfo, mptcp, sctp or udp", args[0])
}
