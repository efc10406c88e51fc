package broker

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Broker answers the cage's notifications until Stop.
type Broker struct {
	o          Options
	stopR      int
	stopW      int
	done       chan struct{}
	inflight   sync.WaitGroup
	stopOnce   sync.Once
	abstractMu sync.Mutex
	recvMu     sync.Mutex
	pidfdMu    sync.Mutex
	pidfds     map[int]int  // tid → pidfd
	idle       atomic.Int32 // loops polling
}

// Start serves the listener from a goroutine of its own.
func Start(o Options) (*Broker, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		unix.Close(o.Listener)
		return nil, err
	}
	b := &Broker{o: o, stopR: p[0], stopW: p[1], done: make(chan struct{}), pidfds: map[int]int{}}
	// Linux 6.6: the kernel hands the CPU straight from the trapped thread
	// to the broker and back, instead of waking each on another CPU.
	if os.Getenv("AICAGE_BROKER_NOSYNC") == "" {
		unix.Syscall(unix.SYS_IOCTL, uintptr(o.Listener), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	}
	// Linux 6.6: the kernel hands the CPU straight from the trapped thread
	// to the broker and back, instead of waking each on another CPU.
	unix.Syscall(unix.SYS_IOCTL, uintptr(o.Listener), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	go b.serve()
	return b, nil
}

// Stop ends the loop; the listener is closed once the notifications in
// flight are answered (a connect to a slow host may still wait for its
// answer; the caller no longer does). From then on a trapped call of
// anything still caged fails with ENOSYS: nothing is let through unjudged.
func (b *Broker) Stop() {
	b.stopOnce.Do(func() {
		unix.Write(b.stopW, []byte{0})
		<-b.done
		go func() {
			b.inflight.Wait()
			unix.Close(b.o.Listener)
			unix.Close(b.stopR)
			unix.Close(b.stopW)
		}()
	})
}

// Each notification is answered on the loop that took it: handing it to
// another goroutine costs more than the answer itself on a small machine.
// So that a call that blocks (a connect to a slow host) holds up no other,
// a loop that takes a notification makes sure another one is polling, and
// a loop that finds others idle after its answer ends.

// serve runs the first two loops; Stop waits for the first.
func (b *Broker) serve() {
	defer close(b.done)
	b.idle.Add(2)
	b.inflight.Add(1)
	go func() {
		defer b.inflight.Done()
		b.loop()
	}()
	b.loop()
}

func (b *Broker) loop() {
	fds := []unix.PollFd{{Fd: int32(b.o.Listener), Events: unix.POLLIN}, {Fd: int32(b.stopR), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return // no caged task is left
			}
			continue
		}
		n, ok := b.take()
		if !ok {
			continue
		}
		if b.idle.Add(-1) == 0 {
			b.inflight.Add(1)
			b.idle.Add(1)
			go func() {
				defer b.inflight.Done()
				b.loop()
			}()
		}
		b.handle(n)
		if b.idle.Load() >= 2 {
			return // others are polling; a polling loop never ends but on Stop
		}
		b.idle.Add(1)
	}
}

// take receives a notification if one is pending. The loops take turns,
// and look again under the lock, so that RECV, which blocks until a
// notification comes, never waits for one another loop took.
func (b *Broker) take() (notif, bool) {
	b.recvMu.Lock()
	defer b.recvMu.Unlock()
	fd := []unix.PollFd{{Fd: int32(b.o.Listener), Events: unix.POLLIN}}
	if n, err := unix.Poll(fd, 0); err != nil || n == 0 || fd[0].Revents&unix.POLLIN == 0 {
		return notif{}, false
	}
	var n notif
	if err := recv(b.o.Listener, &n); err != nil {
		return notif{}, false // ENOENT: the caller died before we took it
	}
	return n, true
}

func (b *Broker) handle(n notif) {
	resp := notifResp{id: n.id}
	if int(n.pid) == b.o.InDomainTID {
		// The in-domain thread performing an abstract-socket call for the
		// cage: its arguments live in the supervisor's memory.
		resp.flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else {
		c := &call{b: b, n: &n, tid: int(n.pid)}
		val, err := c.run()
		c.close()
		if err != nil {
			resp.error = -int32(errnoOf(err))
		} else {
			resp.val = val
		}
	}
	respond(b.o.Listener, &resp) // ENOENT: the caller is gone
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return unix.EIO
}

// call is one notification being answered.
type call struct {
	b   *Broker
	n   *notif
	tid int
	fds []int // fds taken from the caller, closed at the end
}

func (c *call) close() {
	for _, fd := range c.fds {
		unix.Close(fd)
	}
}

func (c *call) arg(i int) uint64 { return c.n.args[i] }

func (c *call) run() (int64, error) {
	switch int(c.n.nr) {
	case unix.SYS_CONNECT:
		return c.connect()
	case unix.SYS_SENDTO:
		return c.sendto()
	case unix.SYS_SENDMSG:
		return c.sendmsg()
	case unix.SYS_SENDMMSG:
		return c.sendmmsg()
	case unix.SYS_LISTEN:
		return c.listen()
	}
	return 0, unix.ENOSYS
}

// valid checks that the caller still waits in this call, so that what was
// read of its memory and /proc entries, and the fds taken through its
// pidfd, were its own: every call checks once its reads are done, before
// it acts.
func (c *call) valid() error {
	if err := idValid(c.b.o.Listener, c.n.id); err != nil {
		return unix.EINTR // the caller is gone; the answer goes nowhere
	}
	return nil
}

// sock takes the caller's fd into the supervisor: the same open file
// description, so its flags (O_NONBLOCK) and state are the caller's.
func (c *call) sock(fd uint64) (int, error) {
	if int32(fd) < 0 { // an int in the kernel: the low half
		return -1, unix.EBADF
	}
	for fresh := false; ; fresh = true {
		pidfd, err := c.b.pidfd(c.tid, fresh)
		if err != nil {
			return -1, unix.EINTR // the caller is gone
		}
		s, err := unix.PidfdGetfd(pidfd, int(int32(fd)), 0)
		switch {
		case err == nil:
			c.fds = append(c.fds, s)
			return s, nil
		case errors.Is(err, unix.ESRCH) && !fresh:
			continue // a cached pidfd of a thread that is gone: the tid is another's now
		case errors.Is(err, unix.EBADF):
			return -1, unix.EBADF
		}
		return -1, err
	}
}

// maxPidfds bounds the cache of pidfds.
const maxPidfds = 1024

// pidfd returns a pidfd for the caller's thread, cached: a pidfd names one
// thread for good, so a stale one fails (ESRCH) and is opened again, never
// names another. What it returns is checked by the call's valid().
func (b *Broker) pidfd(tid int, fresh bool) (int, error) {
	b.pidfdMu.Lock()
	defer b.pidfdMu.Unlock()
	if fd, ok := b.pidfds[tid]; ok && !fresh {
		return fd, nil
	}
	if fd, ok := b.pidfds[tid]; ok {
		unix.Close(fd)
		delete(b.pidfds, tid)
	}
	if len(b.pidfds) >= maxPidfds {
		for t, fd := range b.pidfds {
			unix.Close(fd)
			delete(b.pidfds, t)
		}
	}
	fd, err := openPidfd(tid)
	if err != nil {
		return -1, err
	}
	b.pidfds[tid] = fd
	return fd, nil
}

func (c *call) mem(addr uint64, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := readMem(c.tid, addr, n)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, unix.EINTR
		}
		return nil, unix.EFAULT
	}
	return b, nil
}

// refuse logs a refusal and gives the caller EACCES, what Landlock gives.
func (c *call) refuse(op, dest string, v Verdict) error {
	if c.b.o.Refused != nil {
		c.b.o.Refused(Refusal{
			Time: time.Now(), PID: c.tid, Command: comm(c.tid),
			Op: op, Dest: dest, Rule: v.Rule,
		})
	}
	return unix.EACCES
}

func comm(tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// inDomain runs f on the command's own Landlock domain, one at a time.
func (c *call) inDomain(f func()) {
	c.b.abstractMu.Lock()
	defer c.b.abstractMu.Unlock()
	c.b.o.InDomain(f)
}
