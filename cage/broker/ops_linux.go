package broker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits on what the broker copies out of the caller.
const (
	maxAddr    = 128     // sizeof(struct sockaddr_storage): the kernel's own limit
	maxSend    = 4 << 20 // bytes of one send; a stream send gets a short count beyond
	maxIOV     = 1024    // UIO_MAXIOV
	maxControl = 1 << 16 // ancillary data
	maxMsgs    = 1024    // UIO_MAXIOV for sendmmsg
)

// target is a judged destination, ready for the kernel.
type target struct {
	addr     []byte // the bytes to pass, the broker's own copy (maybe rewritten)
	show     string // for the log and the terminal
	inDomain bool   // perform on the command's Landlock domain (abstract sockets)
	stream   bool   // the socket is a stream: short sends are fine
}

// judge decides a destination given to a call on sockfd. A nil error means
// the call may go on with t.addr.
func (c *call) judge(op string, sockfd int, raw []byte, send bool) (target, error) {
	t := target{addr: raw}
	domain, err := unix.GetsockoptInt(sockfd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return t, err // ENOTSOCK
	}
	typ, err := unix.GetsockoptInt(sockfd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return t, err
	}
	t.stream = typ == unix.SOCK_STREAM
	if len(raw) == 0 {
		return t, nil // no destination: a connected send
	}
	if len(raw) < 2 {
		return t, unix.EINVAL
	}
	family := binary.NativeEndian.Uint16(raw)
	switch domain {
	case unix.AF_UNIX:
		return c.judgeUnix(op, raw, family, t)
	case unix.AF_INET, unix.AF_INET6:
		return c.judgeInet(op, domain, typ, raw, family, send, t)
	}
	return t, nil // netlink (route only, by the filter): the kernel is the peer
}

func (c *call) judgeUnix(op string, raw []byte, family uint16, t target) (target, error) {
	if family == unix.AF_UNSPEC {
		return t, nil // dissolves a datagram socket's association
	}
	if family != unix.AF_UNIX {
		return t, unix.EINVAL
	}
	sun := raw[2:]
	if len(sun) == 0 {
		return t, unix.EINVAL
	}
	if sun[0] == 0 {
		// Abstract: Landlock's scope decides, on the command's domain.
		t.inDomain = true
		t.show = "@" + strings.ToValidUTF8(string(sun[1:]), "?")
		return t, nil
	}
	path := string(sun)
	if i := strings.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	t.show = path
	fd, real, err := c.openUnix(op, path)
	if err != nil {
		return t, err
	}
	if v := c.b.o.Policy.UnixPath(real); !v.Allow {
		if real != path {
			t.show = path + " → " + real
		}
		return t, c.refuse(op, t.show, v)
	}
	// Connect to the very inode judged, whatever happens to the path now.
	t.addr = sockaddrUnix("/proc/self/fd/" + strconv.Itoa(fd))
	return t, nil
}

// openUnix opens a socket path as the caller would resolve it (relative to
// its working directory, following symlinks) and returns the O_PATH fd and
// the real path of what it opened.
func (c *call) openUnix(op, path string) (int, string, error) {
	dir := unix.AT_FDCWD
	if !strings.HasPrefix(path, "/") {
		cwd, err := unix.Open("/proc/"+strconv.Itoa(c.tid)+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, "", unix.EINTR
		}
		defer unix.Close(cwd)
		if err := c.valid(); err != nil {
			return -1, "", err
		}
		dir = cwd
	}
	fd, err := unix.Openat(dir, path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOTDIR || err == unix.ENOENT || err == unix.ELOOP || err == unix.ENAMETOOLONG {
			return -1, "", err
		}
		return -1, "", unix.EACCES
	}
	c.fds = append(c.fds, fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, "", unix.EACCES
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return -1, "", unix.ECONNREFUSED // what connect(2) says for a non-socket
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || strings.HasSuffix(real, " (deleted)") {
		return -1, "", unix.ECONNREFUSED
	}
	if st.Nlink > 1 {
		// Another name of the same socket may lie outside the cage: a
		// hard link must not carry an outside socket in.
		return -1, "", c.refuse(op, path, refuse(fmt.Sprintf("socket %s has %d names (hard links); only a socket with one name inside the cage can be judged", real, st.Nlink)))
	}
	return fd, real, nil
}

func sockaddrUnix(path string) []byte {
	b := make([]byte, 2+len(path)+1)
	binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
	copy(b[2:], path)
	return b
}

func (c *call) judgeInet(op string, domain, typ int, raw []byte, family uint16, send bool, t target) (target, error) {
	var ap netip.AddrPort
	switch {
	case family == unix.AF_INET || family == unix.AF_UNSPEC && send && domain == unix.AF_INET && typ == unix.SOCK_DGRAM:
		// udp_sendmsg reads an AF_UNSPEC address as IPv4.
		if len(raw) < 16 {
			return t, unix.EINVAL
		}
		ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), binary.BigEndian.Uint16(raw[2:4]))
	case family == unix.AF_INET6 && domain == unix.AF_INET6:
		if len(raw) < 24 {
			return t, unix.EINVAL
		}
		ap = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[8:24])), binary.BigEndian.Uint16(raw[2:4]))
	case family == unix.AF_UNSPEC:
		return t, nil // connect: dissolves the association; IPv6 send: no address
	default:
		return t, unix.EAFNOSUPPORT
	}
	t.show = ap.String()
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM:
	default:
		return t, c.refuse(op, t.show, refuse("not a TCP or UDP socket"))
	}
	if v := c.b.o.Policy.Inet(typ == unix.SOCK_DGRAM, ap); !v.Allow {
		return t, c.refuse(op, t.show, v)
	}
	return t, nil
}

// sysResult turns a raw syscall's result into the notification's answer.
func sysResult(r uintptr, errno syscall.Errno) (int64, error) {
	if errno != 0 {
		return 0, errno
	}
	return int64(r), nil
}

// do performs a call with the broker's copies, on the command's domain
// when t says so.
func (c *call) do(t target, trap uintptr, a ...uintptr) (int64, error) {
	var args [6]uintptr
	copy(args[:], a)
	var r uintptr
	var errno syscall.Errno
	run := func() {
		r, _, errno = unix.Syscall6(trap, args[0], args[1], args[2], args[3], args[4], args[5])
	}
	if t.inDomain {
		c.inDomain(run)
	} else {
		run()
	}
	return sysResult(r, errno)
}

func ptr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

func (c *call) connect() (int64, error) {
	n := int(int32(c.arg(2)))
	if n < 0 || n > maxAddr {
		return 0, unix.EINVAL
	}
	raw, err := c.mem(c.arg(1), n)
	if err != nil {
		return 0, err
	}
	sockfd, err := c.sock(c.arg(0))
	if err != nil {
		return 0, err
	}
	if err := c.valid(); err != nil {
		return 0, err
	}
	t, err := c.judge("connect", sockfd, raw, false)
	if err != nil {
		return 0, err
	}
	r, err := c.do(t, unix.SYS_CONNECT, uintptr(sockfd), ptr(t.addr), uintptr(len(t.addr)))
	runtime.KeepAlive(t.addr)
	return r, err
}

func (c *call) sendto() (int64, error) {
	an := int(int32(c.arg(5)))
	if an < 0 || an > maxAddr {
		return 0, unix.EINVAL
	}
	raw, err := c.mem(c.arg(4), an)
	if err != nil {
		return 0, err
	}
	sockfd, err := c.sock(c.arg(0))
	if err != nil {
		return 0, err
	}
	t, err := c.judge("sendto", sockfd, raw, true)
	if err != nil {
		return 0, err
	}
	size := c.arg(2)
	if size > maxSend {
		if !t.stream {
			return 0, unix.EMSGSIZE
		}
		size = maxSend
	}
	data, err := c.mem(c.arg(1), int(size))
	if err != nil {
		return 0, err
	}
	if err := c.valid(); err != nil {
		return 0, err
	}
	flags := uintptr(uint32(c.arg(3)))
	r, err := c.do(t, unix.SYS_SENDTO, uintptr(sockfd), ptr(data), uintptr(len(data)), flags, ptr(t.addr), uintptr(len(t.addr)))
	runtime.KeepAlive(data)
	runtime.KeepAlive(t.addr)
	return r, err
}

func (c *call) listen() (int64, error) {
	sockfd, err := c.sock(c.arg(0))
	if err != nil {
		return 0, err
	}
	if err := c.valid(); err != nil {
		return 0, err
	}
	sa, err := unix.Getsockname(sockfd)
	if err != nil {
		return 0, err // ENOTSOCK
	}
	port := -1
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	if port >= 0 {
		if v := c.b.o.Policy.Listen(port); !v.Allow {
			return 0, c.refuse("listen", fmt.Sprintf("port %d", port), v)
		}
	}
	return c.do(target{}, unix.SYS_LISTEN, uintptr(sockfd), uintptr(int32(c.arg(1))))
}
