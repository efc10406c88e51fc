package seccomp

// The escape tests start the test binary again as a child (TestSeccompChild)
// that installs the filter with Install, the call the cage child
// makes, tries one escape and reports each step's errno. The parent then
// checks the effect outside the child: the pty's input queue, what a
// loopback listener received, the keyring. Each escape also runs as a
// control, under the filter with the rule left out (or with no filter): the
// control must show the effect, or the test would pass without the rule.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

const seccompChildEnv = "AICAGE_TEST_SECCOMP_CHILD"

// seccompChildSpec tells the child what to do.
type seccompChildSpec struct {
	Escape   string
	UDP      string   // the filter's udp option
	Omit     []string // rules left out of the filter
	NoFilter bool
	Landlock bool // deny every TCP connect with Landlock before the escape
	Port     int  // a loopback listener of the parent
	UDPPort  int
	Key      string   // a key description in the session keyring
	Exec     []string // exec this after the filter instead of an escape
}

type seccompStep struct {
	Name  string
	Errno int // 0: it worked; -1: an error that is no errno, in Out
	Out   string
}

type seccompChildResult struct {
	Steps     []seccompStep
	Landlock  bool // the escape ran under Landlock
	Notes     []string
	ExitState *os.ProcessState `json:"-"`
	Output    string           `json:"-"`
}

func (r *seccompChildResult) step(name string, err error) bool {
	s := seccompStep{Name: name}
	var errno syscall.Errno
	switch {
	case err == nil:
	case errors.As(err, &errno):
		s.Errno = int(errno)
	default:
		s.Errno, s.Out = -1, err.Error()
	}
	r.Steps = append(r.Steps, s)
	return err == nil
}

func (r *seccompChildResult) errno(t *testing.T, name string) syscall.Errno {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			if s.Errno < 0 {
				t.Fatalf("step %s: %s", name, s.Out)
			}
			return syscall.Errno(s.Errno)
		}
	}
	t.Fatalf("the child did not report step %q; output:\n%s", name, r.Output)
	return 0
}

// TestSeccompChild is the child of the escape tests; alone it does nothing.
func TestSeccompChild(t *testing.T) {
	raw := os.Getenv(seccompChildEnv)
	if raw == "" {
		return
	}
	var spec seccompChildSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	// Landlock is per thread: restrict and escape from the same one.
	runtime.LockOSThread()
	var res seccompChildResult
	seccompChildMain(spec, &res)
	out, _ := json.Marshal(res)
	fmt.Printf("\nseccomp-result: %s\n", out)
	os.Exit(0)
}

func seccompChildMain(spec seccompChildSpec, r *seccompChildResult) {
	if !spec.NoFilter {
		arch, err := seccompArchFor(runtime.GOARCH)
		if !r.step("build", err) {
			return
		}
		omit := map[string]bool{}
		for _, o := range spec.Omit {
			omit[o] = true
		}
		prog, err := seccompBuild(arch, Options{UDP: spec.UDP}, omit)
		if !r.step("build", err) || !r.step("install", Install(prog)) {
			return
		}
	}
	if spec.Landlock {
		seccompTestLandlockNoTCPConnect(r)
	}
	if len(spec.Exec) > 0 {
		r.step("exec", unix.Exec(spec.Exec[0], spec.Exec, os.Environ()))
		return
	}
	escape, ok := seccompEscapes[spec.Escape]
	if !ok {
		r.step("escape", fmt.Errorf("no escape %q", spec.Escape))
		return
	}
	escape(spec, r)
}

// seccompTestLandlockNoTCPConnect restricts this thread with a Landlock
// ruleset that handles TCP connect and allows it nowhere.
func seccompTestLandlockNoTCPConnect(r *seccompChildResult) {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 || abi < 4 {
		r.Notes = append(r.Notes, "no Landlock TCP rules on this kernel: the escape runs without Landlock")
		return
	}
	attr := unix.LandlockRulesetAttr{Handled_access_net: unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	const attrSize = 24 // handled_access_fs, handled_access_net, scoped: what ABI 4-9 know
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), attrSize, 0)
	if !r.step("landlock_create_ruleset", errnoErr(errno)) {
		return
	}
	defer unix.Close(int(fd))
	if !r.step("no_new_privs", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		return
	}
	_, _, errno = unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0)
	r.Landlock = r.step("landlock_restrict_self", errnoErr(errno))
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

var upperBit uint64 = 1 << 32

var seccompEscapes = map[string]func(seccompChildSpec, *seccompChildResult){
	"tty":              seccompEscapeTTY,
	"mptcp":            seccompEscapeMPTCP,
	"fastopen":         seccompEscapeFastOpen,
	"fastopen-connect": seccompEscapeFastOpenConnect,
	"udp":              seccompEscapeUDP,
	"sockets":          seccompEscapeSockets,
	"allowed":          seccompEscapeAllowed,
	"keyring":          seccompEscapeKeyring,
	"io_uring":         seccompEscapeIOURing,
}

func seccompIoctl(fd int, req uint64, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	return errnoErr(errno)
}

// seccompEscapeTTY types "ab" into the terminal on stdin, the second byte
// with a request whose upper 32 bits are set.
func seccompEscapeTTY(_ seccompChildSpec, r *seccompChildResult) {
	a, b := byte('a'), byte('b')
	r.step("TIOCSTI", seccompIoctl(0, unix.TIOCSTI, unsafe.Pointer(&a)))
	r.step("TIOCSTI|1<<32", seccompIoctl(0, upperBit|unix.TIOCSTI, unsafe.Pointer(&b)))
	sub := byte(6) // TIOCL_GETSHIFTSTATE: harmless where it works
	r.step("TIOCLINUX", seccompIoctl(0, unix.TIOCLINUX, unsafe.Pointer(&sub)))
	r.step("TIOCLINUX|1<<32", seccompIoctl(0, upperBit|unix.TIOCLINUX, unsafe.Pointer(&sub)))
	ntty := int32(0) // N_TTY, the discipline it has: a no-op where allowed
	r.step("TIOCSETD", seccompIoctl(0, unix.TIOCSETD, unsafe.Pointer(&ntty)))
	r.step("TIOCSETD|1<<32", seccompIoctl(0, upperBit|unix.TIOCSETD, unsafe.Pointer(&ntty)))
}

func seccompLoopback(port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

// seccompTryLandlockedConnect shows that Landlock refuses a plain TCP
// connect to the port the escape then reaches.
func seccompTryLandlockedConnect(spec seccompChildSpec, r *seccompChildResult) {
	if !r.Landlock {
		return
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if r.step("tcp socket", err) {
		r.step("tcp connect", unix.Connect(fd, seccompLoopback(spec.Port)))
		unix.Close(fd)
	}
}

func seccompEscapeMPTCP(spec seccompChildSpec, r *seccompChildResult) {
	seccompTryLandlockedConnect(spec, r)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if !r.step("mptcp socket", err) {
		return
	}
	defer unix.Close(fd)
	if r.step("mptcp connect", unix.Connect(fd, seccompLoopback(spec.Port))) {
		_, err := unix.Write(fd, []byte("escape mptcp"))
		r.step("mptcp write", err)
	}
}

// seccompEscapeFastOpen connects with data and MSG_FASTOPEN, once through
// each of sendto, sendmsg and sendmmsg, on sockets that never call connect.
func seccompEscapeFastOpen(spec seccompChildSpec, r *seccompChildResult) {
	seccompTryLandlockedConnect(spec, r)
	sa := seccompLoopback(spec.Port)
	sends := []struct {
		name string
		send func(fd int, msg []byte) error
	}{
		{"sendto", func(fd int, msg []byte) error { return unix.Sendto(fd, msg, unix.MSG_FASTOPEN, sa) }},
		{"sendmsg", func(fd int, msg []byte) error {
			_, err := unix.SendmsgN(fd, msg, nil, sa, unix.MSG_FASTOPEN)
			return err
		}},
		{"sendmmsg", func(fd int, msg []byte) error { return seccompSendmmsg(fd, msg, spec.Port, unix.MSG_FASTOPEN) }},
	}
	for _, s := range sends {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if !r.step(s.name+" socket", err) {
			continue
		}
		r.step(s.name, s.send(fd, []byte("escape "+s.name)))
		unix.Close(fd)
	}
}

func seccompSendmmsg(fd int, msg []byte, port int, flags int) error {
	addr := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	p := (*[2]byte)(unsafe.Pointer(&addr.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	iov := unix.Iovec{Base: &msg[0]}
	iov.SetLen(len(msg))
	var m struct {
		hdr unix.Msghdr
		len uint32
		_   [4]byte
	}
	m.hdr.Name = (*byte)(unsafe.Pointer(&addr))
	m.hdr.Namelen = uint32(unsafe.Sizeof(addr))
	m.hdr.Iov = &iov
	m.hdr.SetIovlen(1)
	_, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), 1, uintptr(flags), 0, 0)
	runtime.KeepAlive(msg)
	return errnoErr(errno)
}

// seccompEscapeFastOpenConnect connects with TCP_FASTOPEN_CONNECT, which
// defers the SYN to the first send: Landlock must still see the address.
func seccompEscapeFastOpenConnect(spec seccompChildSpec, r *seccompChildResult) {
	sa := seccompLoopback(spec.Port)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if !r.step("socket", err) {
		return
	}
	defer unix.Close(fd)
	r.step("TCP_FASTOPEN_CONNECT", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1))
	r.step("connect", unix.Connect(fd, sa))
	r.step("sendto", unix.Sendto(fd, []byte("escape deferred sendto"), unix.MSG_NOSIGNAL, sa))
	_, err = unix.Write(fd, []byte("escape deferred write"))
	r.step("write", err)
}

func seccompEscapeUDP(spec seccompChildSpec, r *seccompChildResult) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if r.step("udp4 socket", err) {
		r.step("udp4 sendto", unix.Sendto(fd, []byte("escape udp4"), 0, seccompLoopback(spec.UDPPort)))
		unix.Close(fd)
	}
	fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if r.step("udp6 socket", err) {
		mapped := &unix.SockaddrInet6{Port: spec.UDPPort, Addr: [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}}
		r.step("udp6 sendto", unix.Sendto(fd, []byte("escape udp6"), 0, mapped))
		unix.Close(fd)
	}
}

// seccompRefusedSockets are sockets the filter refuses, with its errno.
var seccompRefusedSockets = []struct {
	name               string
	family, typ, proto int
	pair               bool
	want               syscall.Errno
}{
	{"raw IPv4", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, false, unix.EPERM},
	{"raw IPv6", unix.AF_INET6, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6, false, unix.EPERM},
	{"packet", unix.AF_PACKET, unix.SOCK_RAW, 0x0300, false, unix.EAFNOSUPPORT}, // htons(ETH_P_ALL)
	{"packet datagram", unix.AF_PACKET, unix.SOCK_DGRAM, 0x0300, false, unix.EAFNOSUPPORT},
	{"AF_ALG", unix.AF_ALG, unix.SOCK_SEQPACKET, 0, false, unix.EAFNOSUPPORT},
	{"vsock", unix.AF_VSOCK, unix.SOCK_STREAM, 0, false, unix.EAFNOSUPPORT},
	{"AF_XDP", unix.AF_XDP, unix.SOCK_RAW, 0, false, unix.EAFNOSUPPORT},
	{"bluetooth", unix.AF_BLUETOOTH, unix.SOCK_RAW, 1, false, unix.EAFNOSUPPORT},
	{"netlink sock_diag", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG, false, unix.EPROTONOSUPPORT},
	{"netlink uevent", unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_KOBJECT_UEVENT, false, unix.EPROTONOSUPPORT},
	{"ping", unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP, false, unix.EPROTONOSUPPORT},
	{"sctp", unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP, false, unix.EPROTONOSUPPORT},
	{"inet socketpair", unix.AF_INET, unix.SOCK_STREAM, 0, true, unix.EAFNOSUPPORT},
	{"vsock socketpair", unix.AF_VSOCK, unix.SOCK_STREAM, 0, true, unix.EAFNOSUPPORT},
}

func seccompEscapeSockets(_ seccompChildSpec, r *seccompChildResult) {
	for _, s := range seccompRefusedSockets {
		if s.pair {
			fds, err := unix.Socketpair(s.family, s.typ, s.proto)
			if r.step(s.name, err) {
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
			continue
		}
		fd, err := unix.Socket(s.family, s.typ, s.proto)
		if r.step(s.name, err) {
			unix.Close(fd)
		}
	}
}

// seccompEscapeAllowed does what a coding agent needs and the filter allows.
func seccompEscapeAllowed(spec seccompChildSpec, r *seccompChildResult) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if r.step("unix socket", err) {
		unix.Close(fd)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if r.step("unix socketpair", err) {
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
	for _, proto := range []int{0, unix.IPPROTO_TCP} {
		name := fmt.Sprintf("tcp proto %d", proto)
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
		if !r.step(name+" socket", err) {
			continue
		}
		if r.step(name+" connect", unix.Connect(fd, seccompLoopback(spec.Port))) {
			_, err := unix.Write(fd, []byte("allowed "+name))
			r.step(name+" write", err)
		}
		unix.Close(fd)
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port))); r.step("net.Dial", err) {
		_, err := c.Write([]byte("allowed net.Dial"))
		r.step("net.Dial write", err)
		c.Close()
	}
	// Go's listeners try MPTCP first: refused, they must fall back to TCP.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); r.step("net.Listen", err) {
		l.Close()
	}
	fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if r.step("netlink route socket", err) {
		unix.Close(fd)
	}
	ifs, err := net.Interfaces()
	if r.step("net.Interfaces", err) && len(ifs) == 0 {
		r.step("net.Interfaces", errors.New("no interface"))
	}
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if r.step("udp socket", err) {
		r.step("udp sendto", unix.Sendto(fd, []byte("allowed udp"), 0, seccompLoopback(spec.UDPPort)))
		unix.Close(fd)
	}
}

// seccompEscapeKeyring reads a secret from the session keyring it shares
// with the parent, and plants a key there.
func seccompEscapeKeyring(spec seccompChildSpec, r *seccompChildResult) {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", spec.Key, 0)
	if r.step("keyctl search", err) {
		buf := make([]byte, 256)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if r.step("keyctl read", err) {
			r.Steps[len(r.Steps)-1].Out = string(buf[:min(n, len(buf))])
		}
	}
	_, err = unix.AddKey("user", spec.Key+"-planted", []byte("planted"), unix.KEY_SPEC_SESSION_KEYRING)
	r.step("add_key", err)
	_, err = unix.RequestKey("user", spec.Key, "", unix.KEY_SPEC_SESSION_KEYRING)
	r.step("request_key", err)
}

func seccompEscapeIOURing(_ seccompChildSpec, r *seccompChildResult) {
	var params [120]byte // struct io_uring_params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	if r.step("io_uring_setup", errnoErr(errno)) {
		unix.Close(int(fd))
	}
	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0, 0, 0, 0)
	r.step("io_uring_enter", errnoErr(errno))
}

// seccompUser is who the child runs as: the test's own user, and (as root)
// also nobody, since the kernel treats some escapes differently without
// privileges.
type seccompUser struct {
	name string
	cred *syscall.Credential
}

func seccompUsers(t *testing.T) []seccompUser {
	users := []seccompUser{{name: "self"}}
	if os.Geteuid() == 0 {
		users = append(users, seccompUser{"nobody", &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}})
	} else {
		t.Log("not root: the escapes run only as the test's own user")
	}
	return users
}

func seccompRequireSupport(t *testing.T) {
	t.Helper()
	if err := Supported(); err != nil {
		t.Skipf("no seccomp filter here: %v", err)
	}
}

// seccompBinary is the test binary, copied where nobody can run it.
func seccompBinary(t *testing.T, u seccompUser) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if u.cred == nil {
		return self
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "seccomp.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

type seccompRun struct {
	user  seccompUser
	bin   string
	stdin *os.File // made the child's controlling terminal
}

// child runs the child with spec and returns what it reported.
func (sr seccompRun) child(t *testing.T, spec seccompChildSpec) seccompChildResult {
	t.Helper()
	if spec.UDP == "" {
		spec.UDP = "deny"
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, sr.bin, "-test.run=^TestSeccompChild$", "-test.count=1")
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOCOVERDIR=") || strings.HasPrefix(kv, seccompChildEnv+"=")
	}), seccompChildEnv+"="+string(raw))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: sr.user.cred}
	if sr.stdin != nil {
		cmd.Stdin = sr.stdin
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	res := seccompChildResult{ExitState: cmd.ProcessState, Output: out.String()}
	if len(spec.Exec) > 0 {
		return res
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if j, ok := strings.CutPrefix(sc.Text(), "seccomp-result: "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				t.Fatal(err)
			}
			for _, n := range res.Notes {
				t.Log(n)
			}
			return res
		}
	}
	t.Fatalf("the child reported nothing (%v); output:\n%s", runErr, out.String())
	return res
}

// mustStep fails unless the child reports step with want.
func (r seccompChildResult) mustStep(t *testing.T, name string, want syscall.Errno) {
	t.Helper()
	if got := r.errno(t, name); got != want {
		t.Errorf("%s: got «%v», want «%v»", name, errnoString(got), errnoString(want))
	}
}

func errnoString(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return e.Error()
}

// seccompLogHole says what the control showed: with Landlock, that the
// escape is a hole in Landlock on this kernel.
func seccompLogHole(t *testing.T, control seccompChildResult, how string) {
	t.Helper()
	if control.Landlock {
		t.Logf("without the rule, %s reached a port that Landlock refuses to connect(2)", how)
	} else {
		t.Logf("without the rule, %s reached the port (no Landlock to compare with)", how)
	}
}

func seccompTCPListener(t *testing.T) (*net.TCPListener, int) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener), l.Addr().(*net.TCPAddr).Port
}

// seccompReceivedTCP returns what every connection waiting on l sent. The
// child has exited: whatever reached the port is already in the backlog.
func seccompReceivedTCP(t *testing.T, l *net.TCPListener) []string {
	t.Helper()
	var got []string
	for {
		l.SetDeadline(time.Now().Add(300 * time.Millisecond))
		c, err := l.Accept()
		if err != nil {
			return got
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		data, _ := io.ReadAll(c)
		c.Close()
		got = append(got, string(data))
	}
}

func seccompUDPListener(t *testing.T) (*net.UDPConn, int) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).Port
}

func seccompReceivedUDP(c *net.UDPConn) []string {
	var got []string
	buf := make([]byte, 1500)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

func TestSeccompTIOCSTI(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			bin := seccompBinary(t, u)
			inject := func(omit []string) (seccompChildResult, string) {
				ptmx, tty, err := pty.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer ptmx.Close()
				defer tty.Close()
				// Raw, so that the input queue counts bytes, not lines.
				tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
				if err != nil {
					t.Fatal(err)
				}
				tio.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
				if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
					t.Fatal(err)
				}
				res := seccompRun{user: u, bin: bin, stdin: tty}.child(t, seccompChildSpec{Escape: "tty", Omit: omit})
				n, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCINQ)
				if err != nil {
					t.Fatal(err)
				}
				queued := make([]byte, n)
				if n > 0 {
					if _, err := io.ReadFull(tty, queued); err != nil {
						t.Fatal(err)
					}
				}
				return res, string(queued)
			}

			control, queued := inject([]string{seccompRuleTIOCSTI, seccompRuleTIOCLINUX, seccompRuleTIOCSETD})
			if e := control.errno(t, "TIOCSTI"); e != 0 {
				t.Skipf("the kernel refuses TIOCSTI by itself (%v; dev.tty.legacy_tiocsti=0?): nothing to show", e)
			}
			control.mustStep(t, "TIOCSTI|1<<32", 0)
			control.mustStep(t, "TIOCSETD", 0)
			if queued != "ab" {
				t.Fatalf("control: the terminal's input queue holds %q, want %q", queued, "ab")
			}
			if e := control.errno(t, "TIOCLINUX"); e == unix.EPERM {
				t.Errorf("control: TIOCLINUX on a pty: EPERM without the rule, so the test cannot tell")
			}

			res, queued := inject(nil)
			for _, s := range []string{"TIOCSTI", "TIOCSTI|1<<32", "TIOCLINUX", "TIOCLINUX|1<<32", "TIOCSETD", "TIOCSETD|1<<32"} {
				res.mustStep(t, s, unix.EPERM)
			}
			if queued != "" {
				t.Errorf("the terminal's input queue holds %q under the filter, want nothing", queued)
			}
		})
	}
}

func TestSeccompMPTCP(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			l, port := seccompTCPListener(t)
			spec := seccompChildSpec{Escape: "mptcp", Landlock: true, Port: port, Omit: []string{seccompRuleStream}}

			control := run.child(t, spec)
			if control.Landlock {
				control.mustStep(t, "tcp connect", unix.EACCES)
			}
			switch e := control.errno(t, "mptcp socket"); e {
			case 0:
			case unix.EPROTONOSUPPORT, unix.EINVAL, unix.ENOPROTOOPT:
				t.Skipf("no MPTCP on this kernel (%v): nothing to show", e)
			default:
				t.Fatalf("control: mptcp socket: %v", e)
			}
			if e := control.errno(t, "mptcp connect"); e == unix.EACCES {
				t.Skip("Landlock on this kernel restricts MPTCP by itself: the rule is defense in depth")
			}
			control.mustStep(t, "mptcp write", 0)
			if got := seccompReceivedTCP(t, l); !slices.Equal(got, []string{"escape mptcp"}) {
				t.Fatalf("control: the listener received %q, want the escape", got)
			}
			seccompLogHole(t, control, "MPTCP")

			spec.Omit = nil
			res := run.child(t, spec)
			res.mustStep(t, "mptcp socket", unix.EPROTONOSUPPORT)
			if got := seccompReceivedTCP(t, l); len(got) > 0 {
				t.Errorf("the listener received %q under the filter", got)
			}
		})
	}
}

func TestSeccompFastOpen(t *testing.T) {
	seccompRequireSupport(t)
	sends := []string{"sendto", "sendmsg", "sendmmsg"}
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			l, port := seccompTCPListener(t)
			spec := seccompChildSpec{Escape: "fastopen", Landlock: true, Port: port, Omit: []string{seccompRuleFastOpen}}

			control := run.child(t, spec)
			if control.Landlock {
				control.mustStep(t, "tcp connect", unix.EACCES)
			}
			switch e := control.errno(t, "sendto"); e {
			case 0:
			case unix.EOPNOTSUPP:
				t.Skip("TCP fast open is off on this machine (net.ipv4.tcp_fastopen): nothing to show")
			case unix.EACCES:
				t.Skip("Landlock on this kernel restricts MSG_FASTOPEN by itself: the rule is defense in depth")
			default:
				t.Fatalf("control: sendto MSG_FASTOPEN: %v", e)
			}
			var want []string
			for _, s := range sends {
				control.mustStep(t, s, 0)
				want = append(want, "escape "+s)
			}
			if got := seccompReceivedTCP(t, l); !slices.Equal(got, want) {
				t.Fatalf("control: the listener received %q, want %q", got, want)
			}
			seccompLogHole(t, control, "MSG_FASTOPEN")

			spec.Omit = nil
			res := run.child(t, spec)
			for _, s := range sends {
				res.mustStep(t, s, unix.EOPNOTSUPP)
			}
			if got := seccompReceivedTCP(t, l); len(got) > 0 {
				t.Errorf("the listener received %q under the filter", got)
			}
		})
	}
}

// TestSeccompFastOpenConnectStaysUnderLandlock backs the choice not to
// filter setsockopt: with TCP_FASTOPEN_CONNECT the address still goes
// through connect(2), which Landlock checks, even with no seccomp filter.
func TestSeccompFastOpenConnectStaysUnderLandlock(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			l, port := seccompTCPListener(t)
			res := run.child(t, seccompChildSpec{Escape: "fastopen-connect", NoFilter: true, Landlock: true, Port: port})
			if !res.Landlock {
				t.Skip("no Landlock TCP rules on this kernel")
			}
			res.mustStep(t, "TCP_FASTOPEN_CONNECT", 0)
			res.mustStep(t, "connect", unix.EACCES)
			if e := res.errno(t, "sendto"); e == 0 {
				t.Errorf("sendto on the refused socket worked")
			}
			if got := seccompReceivedTCP(t, l); len(got) > 0 {
				t.Errorf("the listener received %q", got)
			}
		})
	}
}

func TestSeccompUDP(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			c, port := seccompUDPListener(t)
			for _, udp := range []string{"allow", "dns"} {
				res := run.child(t, seccompChildSpec{Escape: "udp", UDP: udp, UDPPort: port})
				res.mustStep(t, "udp4 sendto", 0)
				want := []string{"escape udp4"}
				if res.errno(t, "udp6 socket") == 0 { // IPv6 may be off
					res.mustStep(t, "udp6 sendto", 0)
					want = append(want, "escape udp6")
				}
				if got := seccompReceivedUDP(c); !slices.Equal(got, want) {
					t.Fatalf("udp = %s: the listener received %q, want %q", udp, got, want)
				}
			}

			res := run.child(t, seccompChildSpec{Escape: "udp", UDP: "deny", UDPPort: port})
			res.mustStep(t, "udp4 socket", unix.EPERM)
			res.mustStep(t, "udp6 socket", unix.EPERM)
			if got := seccompReceivedUDP(c); len(got) > 0 {
				t.Errorf("udp = deny: the listener received %q", got)
			}
		})
	}
}

func TestSeccompSocketFamilies(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			control := run.child(t, seccompChildSpec{Escape: "sockets", NoFilter: true})
			res := run.child(t, seccompChildSpec{Escape: "sockets", UDP: "allow"})
			var opened []string
			for _, s := range seccompRefusedSockets {
				if control.errno(t, s.name) == 0 {
					opened = append(opened, s.name)
				}
				res.mustStep(t, s.name, s.want)
			}
			t.Logf("without the filter, as %s, the kernel opens: %s", u.name, strings.Join(opened, ", "))
			if len(opened) == 0 {
				t.Errorf("the kernel refuses every one of these sockets by itself: the test shows nothing")
			}
		})
	}
}

func TestSeccompAllowedStillWork(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			l, port := seccompTCPListener(t)
			c, udpPort := seccompUDPListener(t)
			res := run.child(t, seccompChildSpec{Escape: "allowed", UDP: "allow", Port: port, UDPPort: udpPort})
			for _, s := range res.Steps {
				if s.Errno != 0 {
					t.Errorf("%s: %v %s", s.Name, syscall.Errno(max(s.Errno, 0)), s.Out)
				}
			}
			got := seccompReceivedTCP(t, l)
			slices.Sort(got)
			want := []string{"allowed net.Dial", "allowed tcp proto 0", "allowed tcp proto 6"}
			if !slices.Equal(got, want) {
				t.Errorf("the listener received %q, want %q", got, want)
			}
			if got := seccompReceivedUDP(c); !slices.Equal(got, []string{"allowed udp"}) {
				t.Errorf("the UDP listener received %q", got)
			}
		})
	}
}

func TestSeccompKeyrings(t *testing.T) {
	seccompRequireSupport(t)
	// The child inherits the session keyring: what it reads or plants there
	// is shared with every process of the login session. Keyrings belong to
	// a thread's credentials: stay on one thread, and give it a session
	// keyring of its own. The thread is never unlocked, so it ends with the
	// test, keyring and all.
	runtime.LockOSThread()
	desc := fmt.Sprintf("aicage-seccomp-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	if _, err := unix.KeyctlJoinSessionKeyring(desc); err != nil {
		t.Skipf("cannot make a session keyring: %v", err)
	}
	secret := "secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	id, err := unix.AddKey("user", desc, []byte(secret), unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		t.Skipf("cannot add a key: %v", err)
	}
	t.Cleanup(func() { unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0) })
	planted := func() bool {
		pid, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", desc+"-planted", 0)
		if err == nil {
			unix.KeyctlInt(unix.KEYCTL_INVALIDATE, pid, 0, 0, 0)
		}
		return err == nil
	}
	run := seccompRun{user: seccompUser{name: "self"}, bin: seccompBinary(t, seccompUser{})}

	control := run.child(t, seccompChildSpec{Escape: "keyring", Key: desc, Omit: []string{seccompRuleKeyrings}})
	if e := control.errno(t, "keyctl read"); e != 0 {
		t.Skipf("the child cannot read the session keyring by itself (%v): nothing to show", e)
	}
	if !strings.Contains(fmt.Sprint(control.Steps), secret) || !planted() {
		t.Fatalf("control: the secret was not read or no key was planted: %+v", control.Steps)
	}

	res := run.child(t, seccompChildSpec{Escape: "keyring", Key: desc})
	res.mustStep(t, "keyctl search", unix.EPERM)
	res.mustStep(t, "add_key", unix.EPERM)
	res.mustStep(t, "request_key", unix.EPERM)
	if strings.Contains(res.Output, secret) {
		t.Errorf("the secret reached the child under the filter")
	}
	if planted() {
		t.Errorf("the child planted a key in the session keyring under the filter")
	}
}

func TestSeccompIOURing(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			control := run.child(t, seccompChildSpec{Escape: "io_uring", Omit: []string{seccompRuleIOURing}})
			if e := control.errno(t, "io_uring_setup"); e != 0 {
				t.Skipf("the kernel refuses io_uring by itself (%v; kernel.io_uring_disabled?)", e)
			}
			res := run.child(t, seccompChildSpec{Escape: "io_uring"})
			res.mustStep(t, "io_uring_setup", unix.ENOSYS)
			res.mustStep(t, "io_uring_enter", unix.ENOSYS)
		})
	}
}

// TestSeccompSurvivesExecve execs a program that installs nothing: it is
// still refused, and an ordinary shell pipeline still runs.
func TestSeccompSurvivesExecve(t *testing.T) {
	seccompRequireSupport(t)
	bin := seccompBinary(t, seccompUser{})
	run := seccompRun{bin: bin}
	inner, _ := json.Marshal(seccompChildSpec{Escape: "io_uring", NoFilter: true})
	t.Setenv(seccompChildEnv+"_INNER", string(inner))
	res := run.child(t, seccompChildSpec{Exec: []string{"/bin/sh", "-c",
		`echo shell ok | cat; ` + seccompChildEnv + `="$` + seccompChildEnv + `_INNER" exec "$0" -test.run='^TestSeccompChild$'`, bin}})
	if !res.ExitState.Success() {
		t.Fatalf("the exec'd program failed: %v\n%s", res.ExitState, res.Output)
	}
	if !strings.Contains(res.Output, "shell ok") {
		t.Errorf("the shell printed %q, want %q", res.Output, "shell ok")
	}
	_, j, ok := strings.Cut(res.Output, "seccomp-result: ")
	if !ok {
		t.Fatalf("the exec'd child reported nothing:\n%s", res.Output)
	}
	var innerRes seccompChildResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(j)), &innerRes); err != nil {
		t.Fatal(err)
	}
	innerRes.Output = res.Output
	innerRes.mustStep(t, "io_uring_setup", unix.ENOSYS)
}

// TestSeccompForeignABIKilled makes i386 syscalls with int 0x80: without the
// architecture check they would reach an MPTCP socket past the x86_64 rules.
func TestSeccompForeignABIKilled(t *testing.T) {
	seccompRequireSupport(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("int 0x80 is x86_64's")
	}
	cc, err := osexec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to build testdata/int80.c")
	}
	prog := filepath.Join(t.TempDir(), "int80")
	if out, err := osexec.Command(cc, "-O2", "-no-pie", "-fno-pie", "-o", prog, "testdata/int80.c").CombinedOutput(); err != nil {
		t.Fatalf("building int80: %v\n%s", err, out)
	}
	run := seccompRun{bin: seccompBinary(t, seccompUser{})}
	l, port := seccompTCPListener(t)
	spec := func(omit ...string) seccompChildSpec {
		return seccompChildSpec{Exec: []string{prog, strconv.Itoa(port)}, Omit: omit}
	}

	raw := run.child(t, seccompChildSpec{Exec: spec().Exec, NoFilter: true})
	if ws := raw.ExitState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Skipf("int 0x80 does not reach the kernel here (%v without a filter): nothing to show", ws.Signal())
	}
	seccompReceivedTCP(t, l)

	control := run.child(t, spec(seccompRuleABI))
	if !control.ExitState.Success() {
		t.Fatalf("control: int80 failed without the architecture check: %v\n%s", control.ExitState, control.Output)
	}
	if got := seccompReceivedTCP(t, l); !slices.Equal(got, []string{"escape i386"}) {
		t.Fatalf("control: the listener received %q, want the escape", got)
	}

	res := run.child(t, spec())
	ws := res.ExitState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Errorf("int80 under the filter: %v, want killed by SIGSYS\n%s", res.ExitState, res.Output)
	}
	if got := seccompReceivedTCP(t, l); len(got) > 0 {
		t.Errorf("the listener received %q under the filter", got)
	}
}

// TestSeccompTableMatchesKernelHeaders checks the running architecture's row
// and the constants against golang.org/x/sys/unix.
func TestSeccompTableMatchesKernelHeaders(t *testing.T) {
	arch, err := seccompArchFor(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"socket", uint64(arch.socket), unix.SYS_SOCKET},
		{"socketpair", uint64(arch.socketpair), unix.SYS_SOCKETPAIR},
		{"ioctl", uint64(arch.ioctl), unix.SYS_IOCTL},
		{"sendto", uint64(arch.sendto), unix.SYS_SENDTO},
		{"sendmsg", uint64(arch.sendmsg), unix.SYS_SENDMSG},
		{"sendmmsg", uint64(arch.sendmmsg), unix.SYS_SENDMMSG},
		{"add_key", uint64(arch.addKey), unix.SYS_ADD_KEY},
		{"request_key", uint64(arch.requestKey), unix.SYS_REQUEST_KEY},
		{"keyctl", uint64(arch.keyctl), unix.SYS_KEYCTL},
		{"io_uring_setup", uint64(arch.ioURingSetup), unix.SYS_IO_URING_SETUP},
		{"io_uring_enter", uint64(arch.ioURingEnter), unix.SYS_IO_URING_ENTER},
		{"io_uring_register", uint64(arch.ioURingRegist), unix.SYS_IO_URING_REGISTER},
		{"AUDIT_ARCH", uint64(arch.audit), map[string]uint64{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[runtime.GOARCH]},
		{"TIOCSTI", seccompTIOCSTI, unix.TIOCSTI},
		{"TIOCLINUX", seccompTIOCLINUX, unix.TIOCLINUX},
		{"TIOCSETD", seccompTIOCSETD, unix.TIOCSETD},
		{"AF_UNIX", seccompAFUnix, unix.AF_UNIX},
		{"AF_INET", seccompAFInet, unix.AF_INET},
		{"AF_INET6", seccompAFInet6, unix.AF_INET6},
		{"AF_NETLINK", seccompAFNetlink, unix.AF_NETLINK},
		{"SOCK_STREAM", seccompSockStream, unix.SOCK_STREAM},
		{"SOCK_DGRAM", seccompSockDgram, unix.SOCK_DGRAM},
		{"SOCK_RAW", seccompSockRaw, unix.SOCK_RAW},
		{"IPPROTO_TCP", seccompIPProtoTCP, unix.IPPROTO_TCP},
		{"IPPROTO_UDP", seccompIPProtoUDP, unix.IPPROTO_UDP},
		{"NETLINK_ROUTE", seccompNetlinkRoute, unix.NETLINK_ROUTE},
		{"MSG_FASTOPEN", seccompMsgFastOpen, unix.MSG_FASTOPEN},
		{"SECCOMP_RET_KILL_PROCESS", seccompRetKillProcess, unix.SECCOMP_RET_KILL_PROCESS},
		{"SECCOMP_RET_ERRNO", seccompRetErrno, unix.SECCOMP_RET_ERRNO},
		{"SECCOMP_RET_ALLOW", seccompRetAllow, unix.SECCOMP_RET_ALLOW},
		{"EPERM", seccompEPERM, uint64(unix.EPERM)},
		{"ENOSYS", seccompENOSYS, uint64(unix.ENOSYS)},
		{"EPROTONOSUPPORT", seccompEPROTONOSUPPORT, uint64(unix.EPROTONOSUPPORT)},
		{"EOPNOTSUPP", seccompEOPNOTSUPP, uint64(unix.EOPNOTSUPP)},
		{"EAFNOSUPPORT", seccompEAFNOSUPPORT, uint64(unix.EAFNOSUPPORT)},
	} {
		if c.got != c.want {
			t.Errorf("%s: table has %#x, the headers %#x", c.name, c.got, c.want)
		}
	}
}

func TestSeccompSupportedHere(t *testing.T) {
	if _, err := seccompArchFor(runtime.GOARCH); err != nil {
		t.Skip(err)
	}
	if err := Supported(); err != nil {
		t.Errorf("Supported() = %v on %s", err, runtime.GOARCH)
	}
}
