package cage

import (
	"net"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Some kernels already close, under Landlock alone, a hole that the seccomp
// filter closes too: a 6.18 build refuses MSG_FASTOPEN to a port Landlock
// does not allow (landlock-lsm/linux#41). status and doctor credit the
// kernel there instead of the filter alone, after trying it: a thread of
// aicage restricts itself with Landlock (every TCP connect handled, none
// allowed), tries the escape against a listener of its own, and exits.

// landlockClosesTFO tells whether Landlock alone refuses a TCP connect
// made by sendto with MSG_FASTOPEN on this kernel. It is asked once.
var landlockClosesTFO = sync.OnceValue(func() bool {
	if KernelABI() < 4 {
		return false
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return false
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
	refused := make(chan bool, 1)
	// Never the main thread, never unlocked: the thread ends with the
	// goroutine, Landlock and all.
	go offMainThread(func() { refused <- tryFastOpenUnderLandlock(port) })
	if <-refused {
		return true
	}
	select {
	case <-accepted:
		return false
	case <-time.After(time.Second):
		return false // not refused, not seen: give the kernel no credit
	}
})

// tryFastOpenUnderLandlock restricts the calling thread and reports whether
// sendto with MSG_FASTOPEN to port was refused with EACCES.
func tryFastOpenUnderLandlock(port int) bool {
	attr := struct{ fs, net uint64 }{net: unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return false
	}
	defer unix.Close(int(fd))
	if unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != nil {
		return false
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return false
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(s)
	err = unix.Sendto(s, []byte("x"), unix.MSG_FASTOPEN, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	return err == unix.EACCES
}
