package main

// Sub-commands that try the escapes the seccomp filter closes (issue 5):
// keystrokes into the terminal, TCP that Landlock's port rules do not see,
// socket families and protocols nobody needs, the kernel keyrings and
// io_uring. Each says what the kernel answered; the script judges by the
// effect outside (the terminal's input queue, a listener, the keyring).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// upperBit is set in a 64-bit argument whose kernel type is a 32-bit int:
// the kernel ignores it, a filter that compares 64 bits is fooled by it
// (CVE-2019-10063 in flatpak, CVE-2019-7303 in snapd).
const upperBit = uint64(1) << 32

var secNargs = map[string]int{
	"tiocsti": 2, "tioclinux": 1, "tiocsetd": 2,
	"fastopen": 3, "fastopen-connect": 2,
	"socket": 3, "socketpair": 3, "sockdiag": 1, "udplite": 2, "sctp": 2,
	"keyring-session": -2, "keyring-escape": 1,
	"iouring": 0, "iouring-mptcp": 2, "terminal": -1,
}

var secCommands = map[string]func(args []string) error{
	"tiocsti":          tiocsti,
	"tioclinux":        tioclinux,
	"tiocsetd":         tiocsetd,
	"fastopen":         fastOpen,
	"fastopen-connect": fastOpenConnect,
	"socket":           socket,
	"socketpair":       socketpair,
	"sockdiag":         sockDiag,
	"udplite":          udpLite,
	"sctp":             sctp,
	"keyring-session":  keyringSession,
	"keyring-escape":   keyringEscape,
	"iouring":          ioURingSetup,
	"iouring-mptcp":    ioURingMPTCP,
	"terminal":         terminal,
}

// request is the ioctl request req, with the upper 32 bits set for "high".
func request(mode string, req uint64) (uint64, error) {
	switch mode {
	case "low":
		return req, nil
	case "high":
		return upperBit | req, nil
	}
	return 0, fmt.Errorf("mode %q: want low or high", mode)
}

func ioctl(fd int, req uint64, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// tiocsti low|high TEXT types TEXT into the terminal on stdin, one
// TIOCSTI a byte, as if the user had typed it: the user's shell reads it
// once the cage exits. "\n" in TEXT is a newline.
func tiocsti(args []string) error {
	req, err := request(args[0], unix.TIOCSTI)
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(args[1], `\n`, "\n")
	for i := 0; i < len(text); i++ {
		c := text[i]
		if err := ioctl(0, req, unsafe.Pointer(&c)); err != nil {
			return fmt.Errorf("ioctl(0, %#x): %w", req, err)
		}
	}
	fmt.Printf("typed %q\n", text)
	return nil
}

// tioclinux low|high pastes the console selection into the terminal on
// stdin (TIOCL_PASTESEL): on a virtual console, typing into it. On a
// pseudo-terminal the kernel has no such ioctl (ENOTTY); the filter answers
// EPERM before the kernel is asked.
func tioclinux(args []string) error {
	req, err := request(args[0], unix.TIOCLINUX)
	if err != nil {
		return err
	}
	sub := byte(3) // TIOCL_PASTESEL
	if err := ioctl(0, req, unsafe.Pointer(&sub)); err != nil {
		return fmt.Errorf("ioctl(0, %#x): %w", req, err)
	}
	fmt.Println("pasted")
	return nil
}

// tiocsetd low|high DISC sets the line discipline of the terminal on stdin.
func tiocsetd(args []string) error {
	req, err := request(args[0], unix.TIOCSETD)
	if err != nil {
		return err
	}
	disc, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	d := int32(disc)
	if err := ioctl(0, req, unsafe.Pointer(&d)); err != nil {
		return fmt.Errorf("ioctl(0, %#x): %w", req, err)
	}
	fmt.Printf("line discipline %d\n", disc)
	return nil
}

func inet4(addr string) (*unix.SockaddrInet4, error) {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: a.Port}
	copy(sa.Addr[:], a.IP.To4())
	return sa, nil
}

// fastopen sendto|sendmsg|sendmmsg|sendto-high ADDR MSG sends MSG to ADDR
// with MSG_FASTOPEN on a TCP socket that never calls connect(2): the
// kernel connects implicitly, where Landlock's connect hook does not look
// (landlock-lsm/linux#41). sendto-high also sets the flags' upper 32 bits.
func fastOpen(args []string) error {
	sa, err := inet4(args[1])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	msg := []byte(args[2])
	switch args[0] {
	case "sendto":
		err = unix.Sendto(fd, msg, unix.MSG_FASTOPEN, sa)
	case "sendto-high":
		err = sendtoRaw(fd, msg, upperBit|unix.MSG_FASTOPEN, sa)
	case "sendmsg":
		_, err = unix.SendmsgN(fd, msg, nil, sa, unix.MSG_FASTOPEN)
	case "sendmmsg":
		err = sendmmsg(fd, msg, sa, unix.MSG_FASTOPEN)
	default:
		return fmt.Errorf("%q: want sendto, sendto-high, sendmsg or sendmmsg", args[0])
	}
	if err != nil {
		return fmt.Errorf("%s with MSG_FASTOPEN: %w", args[0], err)
	}
	fmt.Printf("sent with %s and MSG_FASTOPEN\n", args[0])
	return nil
}

func rawInet4(sa *unix.SockaddrInet4) unix.RawSockaddrInet4 {
	raw := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:], uint16(sa.Port))
	return raw
}

func sendtoRaw(fd int, msg []byte, flags uint64, sa *unix.SockaddrInet4) error {
	raw := rawInet4(sa)
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)),
		uintptr(flags), uintptr(unsafe.Pointer(&raw)), unsafe.Sizeof(raw))
	runtime.KeepAlive(msg)
	if e != 0 {
		return e
	}
	return nil
}

func sendmmsg(fd int, msg []byte, sa *unix.SockaddrInet4, flags int) error {
	raw := rawInet4(sa)
	iov := unix.Iovec{Base: &msg[0]}
	iov.SetLen(len(msg))
	var m struct {
		hdr unix.Msghdr
		len uint32
		_   [4]byte
	}
	m.hdr.Name = (*byte)(unsafe.Pointer(&raw))
	m.hdr.Namelen = uint32(unsafe.Sizeof(raw))
	m.hdr.Iov = &iov
	m.hdr.SetIovlen(1)
	_, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), 1, uintptr(flags), 0, 0)
	runtime.KeepAlive(msg)
	if e != 0 {
		return e
	}
	return nil
}

// fastopen-connect ADDR MSG sets TCP_FASTOPEN_CONNECT, which defers the SYN
// to the first write: its address still goes through connect(2).
func fastOpenConnect(args []string) error {
	sa, err := inet4(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1); err != nil {
		return fmt.Errorf("TCP_FASTOPEN_CONNECT: %w", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := unix.Write(fd, []byte(args[1])); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	fmt.Println("sent with TCP_FASTOPEN_CONNECT")
	return nil
}

var families = map[string]int{
	"unix": unix.AF_UNIX, "inet": unix.AF_INET, "inet6": unix.AF_INET6,
	"netlink": unix.AF_NETLINK, "packet": unix.AF_PACKET, "vsock": unix.AF_VSOCK,
	"alg": unix.AF_ALG, "xdp": unix.AF_XDP, "bluetooth": unix.AF_BLUETOOTH,
	"can": unix.AF_CAN, "key": unix.AF_KEY, "tipc": unix.AF_TIPC, "rds": unix.AF_RDS,
	"smc": unix.AF_SMC, "qipcrtr": unix.AF_QIPCRTR, "mctp": unix.AF_MCTP,
}

var types = map[string]int{
	"stream": unix.SOCK_STREAM, "dgram": unix.SOCK_DGRAM, "raw": unix.SOCK_RAW,
	"seqpacket": unix.SOCK_SEQPACKET, "packet": unix.SOCK_PACKET,
}

var protocols = map[string]int{
	"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "mptcp": unix.IPPROTO_MPTCP,
	"sctp": unix.IPPROTO_SCTP, "udplite": unix.IPPROTO_UDPLITE, "icmp": unix.IPPROTO_ICMP,
	"icmpv6": unix.IPPROTO_ICMPV6,
	"route":  unix.NETLINK_ROUTE, "sock_diag": unix.NETLINK_SOCK_DIAG, "audit": unix.NETLINK_AUDIT,
	"uevent": unix.NETLINK_KOBJECT_UEVENT, "generic": unix.NETLINK_GENERIC,
	"netfilter": unix.NETLINK_NETFILTER, "connector": unix.NETLINK_CONNECTOR,
	"xfrm":      unix.NETLINK_XFRM,
	"eth_p_all": 0x0300, // htons(ETH_P_ALL), for packet sockets
}

func lookup(m map[string]int, what, s string) (int, error) {
	if v, ok := m[s]; ok {
		return v, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("unknown %s %q", what, s)
}

func socketArgs(args []string) (family, typ, proto int, err error) {
	if family, err = lookup(families, "family", args[0]); err != nil {
		return
	}
	if typ, err = lookup(types, "type", args[1]); err != nil {
		return
	}
	proto, err = lookup(protocols, "protocol", args[2])
	return
}

// socket FAMILY TYPE PROTO creates a socket and closes it.
func socket(args []string) error {
	family, typ, proto, err := socketArgs(args)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return fmt.Errorf("socket(%s, %s, %s): %w", args[0], args[1], args[2], err)
	}
	unix.Close(fd)
	fmt.Printf("created a %s %s socket\n", args[0], args[1])
	return nil
}

// socketpair FAMILY TYPE PROTO creates a connected pair.
func socketpair(args []string) error {
	family, typ, proto, err := socketArgs(args)
	if err != nil {
		return err
	}
	fds, err := unix.Socketpair(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return fmt.Errorf("socketpair(%s, %s, %s): %w", args[0], args[1], args[2], err)
	}
	if _, err := unix.Write(fds[0], []byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := unix.Read(fds[1], buf); err != nil {
		return err
	}
	unix.Close(fds[0])
	unix.Close(fds[1])
	fmt.Printf("a %s %s pair carried %q\n", args[0], args[1], buf)
	return nil
}

// sockdiag PORT lists the machine's listening TCP sockets through netlink
// sock_diag, as ss does, and succeeds when one listens on PORT: every
// socket of every process in the network namespace, outside the cage too.
func sockDiag(args []string) error {
	port, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("netlink sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	// struct nlmsghdr, then struct inet_diag_req_v2.
	req := make([]byte, unix.NLMSG_HDRLEN+56)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	body := req[unix.NLMSG_HDRLEN:]
	body[0] = unix.AF_INET
	body[1] = unix.IPPROTO_TCP
	ne.PutUint32(body[4:], 1<<10) // TCP_LISTEN
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	var ports []int
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("sock_diag reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				fmt.Printf("listening TCP ports: %v\n", ports)
				for _, p := range ports {
					if p == port {
						return nil
					}
				}
				return fmt.Errorf("no listener on port %d in the dump", port)
			case unix.NLMSG_ERROR:
				return errors.New("sock_diag: netlink error")
			}
			// struct inet_diag_msg: family, state, timer, retrans, then
			// the socket id, whose first field is the source port.
			if len(m.Data) >= 6 {
				ports = append(ports, int(binary.BigEndian.Uint16(m.Data[4:6])))
			}
		}
	}
}

// udplite ADDR MSG sends MSG to ADDR over UDP-Lite, a datagram protocol no
// UDP port rule covers.
func udpLite(args []string) error {
	sa, err := inet4(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDPLITE)
	if err != nil {
		return fmt.Errorf("udplite socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(args[1]), 0, sa); err != nil {
		return fmt.Errorf("udplite sendto: %w", err)
	}
	fmt.Println("sent over UDP-Lite")
	return nil
}

// sctp ADDR MSG connects to ADDR over SCTP, which Landlock's TCP port rules
// do not see (landlock-lsm/linux#40), and sends MSG.
func sctp(args []string) error {
	sa, err := inet4(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return fmt.Errorf("sctp socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return fmt.Errorf("sctp connect: %w", err)
	}
	if _, err := unix.Write(fd, []byte(args[1])); err != nil {
		return fmt.Errorf("sctp write: %w", err)
	}
	fmt.Println("sent over SCTP")
	return nil
}

// keyringSecret is what keyring-session leaves in the session keyring.
const keyringSecret = "CANARY-KEYRING-SECRET"

// keyring-session DESC CMD ARGS… is a harness run outside the cage: it
// gives itself a new session keyring (as a login does) holding the secret
// key user:DESC, runs CMD, which inherits the keyring, and then tells
// whether CMD planted user:DESC-planted in it. It exits with CMD's status.
func keyringSession(args []string) error {
	runtime.LockOSThread() // keyrings belong to the thread's credentials
	desc := args[0]
	// A new keyring: join_session_keyring joins an existing one of the
	// same name, so the name must be unique.
	session := fmt.Sprintf("%s-session-%d-%d", desc, os.Getpid(), time.Now().UnixNano())
	if _, err := unix.KeyctlJoinSessionKeyring(session); err != nil {
		return fmt.Errorf("joining a new session keyring: %w", err)
	}
	if _, err := unix.AddKey("user", desc, []byte(keyringSecret), unix.KEY_SPEC_SESSION_KEYRING); err != nil {
		return fmt.Errorf("add_key: %w", err)
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	runErr := cmd.Run()
	if _, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", desc+"-planted", 0); err == nil {
		fmt.Println("keyring: a key was planted in the session keyring")
	} else {
		fmt.Printf("keyring: nothing planted (%v)\n", err)
	}
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		os.Exit(ee.ExitCode())
	}
	return runErr
}

// keyring-escape DESC reads the secret key user:DESC from the session
// keyring and plants user:DESC-planted there: the keyrings are shared with
// the user's other processes and Landlock does not cover them.
func keyringEscape(args []string) error {
	desc := args[0]
	var errs []error
	if id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", desc, 0); err != nil {
		errs = append(errs, fmt.Errorf("keyctl search: %w", err))
	} else {
		buf := make([]byte, 256)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("keyctl read: %w", err))
		} else {
			fmt.Printf("read the key: %s\n", buf[:min(n, len(buf))])
		}
	}
	if _, err := unix.AddKey("user", desc+"-planted", []byte("planted"), unix.KEY_SPEC_SESSION_KEYRING); err != nil {
		errs = append(errs, fmt.Errorf("add_key: %w", err))
	} else {
		fmt.Println("planted a key")
	}
	return errors.Join(errs...)
}

// iouring sets up an io_uring instance.
func ioURingSetup([]string) error {
	r, err := newRing(4)
	if err != nil {
		return err
	}
	r.close()
	fmt.Println("io_uring set up")
	return nil
}

// iouring-mptcp ADDR MSG creates an MPTCP socket with IORING_OP_SOCKET,
// which no seccomp filter sees, then connects it to ADDR with connect(2),
// which Landlock checks only for classic TCP (landlock-lsm/linux#54), and
// sends MSG.
func ioURingMPTCP(args []string) error {
	sa, err := inet4(args[0])
	if err != nil {
		return err
	}
	r, err := newRing(4)
	if err != nil {
		return err
	}
	defer r.close()
	fd, err := r.socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
	if err != nil {
		return fmt.Errorf("IORING_OP_SOCKET: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := unix.Write(fd, []byte(args[1])); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	fmt.Println("sent over an MPTCP socket made by io_uring")
	return nil
}

// ring is a minimal io_uring: one submission at a time.
type ring struct {
	fd      int
	params  ioURingParams
	sq, cq  []byte
	sqes    []byte
	sqShare bool
}

type ioURingParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

const (
	ioringOffSQRing   = 0
	ioringOffCQRing   = 0x8000000
	ioringOffSQEs     = 0x10000000
	ioringFeatSingle  = 1
	ioringEnterGetEvs = 1
	ioringOpSocket    = 45
)

func newRing(entries uint32) (*ring, error) {
	r := &ring{}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&r.params)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	r.fd = int(fd)
	p := &r.params
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*16)
	r.sqShare = p.features&ioringFeatSingle != 0
	if r.sqShare {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sq, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap sq ring: %w", err)
	}
	if r.sqShare {
		r.cq = r.sq
	} else if r.cq, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap cq ring: %w", err)
	}
	if r.sqes, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries*64), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap sqes: %w", err)
	}
	return r, nil
}

func u32(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

func (r *ring) close() {
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.cq != nil && !r.sqShare {
		unix.Munmap(r.cq)
	}
	if r.sq != nil {
		unix.Munmap(r.sq)
	}
	unix.Close(r.fd)
}

// socket submits IORING_OP_SOCKET and waits for the new fd.
func (r *ring) socket(domain, typ, proto int) (int, error) {
	p := &r.params
	tail := atomic.LoadUint32(u32(r.sq, p.sqOff.tail))
	idx := tail & *u32(r.sq, p.sqOff.ringMask)
	sqe := r.sqes[idx*64 : idx*64+64]
	clear(sqe)
	ne := binary.NativeEndian
	sqe[0] = ioringOpSocket
	ne.PutUint32(sqe[4:], uint32(domain)) // fd: the domain
	ne.PutUint64(sqe[8:], uint64(typ))    // off: the type
	ne.PutUint32(sqe[24:], uint32(proto)) // len: the protocol
	ne.PutUint64(sqe[32:], 1)             // user_data
	*u32(r.sq, p.sqOff.array+idx*4) = idx
	atomic.StoreUint32(u32(r.sq, p.sqOff.tail), tail+1)
	n, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 1, ioringEnterGetEvs, 0, 0)
	if e != 0 {
		return -1, fmt.Errorf("io_uring_enter: %w", e)
	}
	if n != 1 {
		return -1, fmt.Errorf("io_uring_enter submitted %d", n)
	}
	head := atomic.LoadUint32(u32(r.cq, p.cqOff.head))
	if head == atomic.LoadUint32(u32(r.cq, p.cqOff.tail)) {
		return -1, errors.New("no completion")
	}
	ci := head & *u32(r.cq, p.cqOff.ringMask)
	cqe := r.cq[p.cqOff.cqes+ci*16:]
	res := int32(ne.Uint32(cqe[8:]))
	atomic.StoreUint32(u32(r.cq, p.cqOff.head), head+1)
	if res < 0 {
		return -1, syscall.Errno(-res)
	}
	return int(res), nil
}
