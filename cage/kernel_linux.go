package cage

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Some kernels already close, by themselves, a hole that the seccomp filter
// closes too: a 6.18 build's Landlock refuses MSG_FASTOPEN to a port it does
// not allow (landlock-lsm/linux#41), a kernel may have MPTCP off or no SCTP.
// status and doctor credit the kernel there instead of the filter alone,
// after trying the escape: a locked thread of aicage, never given back to
// the Go runtime, restricts itself with Landlock alone (every TCP connect
// and bind handled, none allowed), tries the escape against a loopback
// listener of aicage's own, and ends with its goroutine, Landlock and all.

// holeState is what a probe found.
type holeState int

const (
	holeUnknown holeState = iota // the probe could not tell: no credit
	holeOpen                     // the escape reached the listener
	holeRefused                  // Landlock alone refused it (EACCES)
	holeAbsent                   // the kernel lacks the mechanism
)

// hole is one escape that the filter closes and the kernel may close too.
type hole struct {
	name  string // tfo, mptcp, sctp
	state holeState
	why   string // the errno or what was seen
}

func (h hole) closed() bool { return h.state == holeRefused || h.state == holeAbsent }

// credit says how the kernel closes h, for a status line.
func (h hole) credit() string {
	if h.state == holeAbsent {
		return "not in this kernel (" + h.why + ")"
	}
	return "closed by the kernel's Landlock"
}

var (
	holeMu     sync.Mutex
	holeProbed = map[string]hole{}
)

// probeHole tries one escape under Landlock alone, once per process.
func probeHole(name string) hole {
	holeMu.Lock()
	defer holeMu.Unlock()
	if h, ok := holeProbed[name]; ok {
		return h
	}
	h := hole{name: name}
	h.state, h.why = tryHole(name)
	holeProbed[name] = h
	return h
}

// kernelCredit returns, for the filter rule named rule, the status line's
// why when this kernel closes every hole of the rule by itself, or "".
func kernelCredit(rule string) string {
	if os.Getenv("AICAGE") == "1" {
		// In a cage the filter answers first: the probe would see it, not
		// the kernel.
		return ""
	}
	var holes []string
	switch rule {
	case "TCP fast open":
		holes = []string{"tfo"}
	case "TCP protocols":
		holes = []string{"mptcp", "sctp"}
	default:
		return ""
	}
	var parts []string
	for _, name := range holes {
		h := probeHole(name)
		if !h.closed() {
			return ""
		}
		parts = append(parts, holeLabel[name]+": "+h.credit())
	}
	if len(parts) == 1 {
		return parts[0][len(holeLabel[holes[0]])+2:] + "; the filter refuses it too"
	}
	return fmt.Sprintf("%s; the filter refuses them too", joinParts(parts))
}

var holeLabel = map[string]string{"tfo": "TCP fast open", "mptcp": "MPTCP", "sctp": "SCTP"}

func joinParts(p []string) string {
	out := p[0]
	for _, s := range p[1:] {
		out += ", " + s
	}
	return out
}

// tryHole runs the escape on a thread of its own and judges it by the
// listener.
func tryHole(name string) (holeState, string) {
	if KernelABI() < 4 {
		return holeUnknown, "Landlock has no TCP rules here"
	}
	l, err := holeListener(name)
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		return holeAbsent, "no SCTP"
	}
	if err != nil {
		return holeUnknown, err.Error()
	}
	defer l.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	done := make(chan error, 1)
	// Never the main thread, never unlocked: the thread ends with the
	// goroutine, and its Landlock domain with it.
	go offMainThread(func() { done <- escapeUnderLandlock(name, port) })
	err = <-done
	switch {
	case errors.Is(err, unix.EACCES):
		return holeRefused, err.Error()
	case name == "tfo" && errors.Is(err, unix.EOPNOTSUPP) && sysctlInt("net/ipv4/tcp_fastopen")&1 == 0:
		return holeAbsent, "net.ipv4.tcp_fastopen has no client bit"
	case name == "mptcp" && errors.Is(err, unix.EPROTONOSUPPORT) && sysctlInt("net/mptcp/enabled") == 0:
		return holeAbsent, "net.mptcp.enabled = 0"
	case err != nil:
		return holeUnknown, err.Error()
	}
	select {
	case <-accepted:
		return holeOpen, "the listener accepted it"
	case <-time.After(time.Second):
		return holeUnknown, "not refused, and the listener saw nothing"
	}
}

// sysctlInt reads /proc/sys/NAME; 0 when it cannot. An errno that only
// says "off" counts as the kernel's doing when the sysctl agrees: another
// seccomp filter around aicage gives the same errnos.
func sysctlInt(name string) int {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// holeListener listens on a free loopback port: SCTP for sctp, TCP else
// (an MPTCP client falls back to TCP with a plain listener).
func holeListener(name string) (net.Listener, error) {
	if name != "sctp" {
		return net.Listen("tcp4", "127.0.0.1:0")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "sctp")
	defer f.Close()
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, 1); err != nil {
		return nil, err
	}
	return net.FileListener(f)
}

// escapeUnderLandlock restricts the calling thread with Landlock's TCP
// rules, none allowed, then tries the escape to port on 127.0.0.1.
func escapeUnderLandlock(name string, port int) error {
	attr := struct{ fs, net uint64 }{net: unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", e)
	}
	defer unix.Close(int(fd))
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	proto := 0
	switch name {
	case "mptcp":
		proto = unix.IPPROTO_MPTCP
	case "sctp":
		proto = unix.IPPROTO_SCTP
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(s)
	to := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	if name == "tfo" {
		return unix.Sendto(s, []byte("x"), unix.MSG_FASTOPEN, to)
	}
	return unix.Connect(s, to)
}
