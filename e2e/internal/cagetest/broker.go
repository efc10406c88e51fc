package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Escapes and workloads for the connect broker (issue 15).
func init() {
	for name, n := range map[string]int{
		"udgram": 3, "nbconnect": 2, "manyconnect": 3, "race-addr": 3, "race-symlink": 4, "userve": 2,
		"rename": 2, "link": 2, "passfd": 1,
	} {
		secNargs[name] = n
	}
	secCommands["udgram"] = udgram
	secCommands["nbconnect"] = nbconnect
	secCommands["manyconnect"] = manyconnect
	secCommands["race-addr"] = raceAddr
	secCommands["race-symlink"] = raceSymlink
	secCommands["userve"] = userve
	secCommands["passfd"] = passfd
	// rename FROM TO, link FROM TO: the system calls themselves, without
	// mv's fallback to copying across "devices".
	secCommands["rename"] = func(args []string) error { return os.Rename(args[0], args[1]) }
	secCommands["link"] = func(args []string) error { return os.Link(args[0], args[1]) }
}

// userve PATH READY: listen on the unix socket PATH, create READY, accept
// one connection and print what it sent.
func userve(args []string) error {
	l, err := net.Listen("unix", args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	if err := os.WriteFile(args[1], nil, 0o644); err != nil {
		return err
	}
	l.(*net.UnixListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, 256)
	n, _ := c.Read(b)
	fmt.Printf("served %q\n", b[:n])
	return nil
}

// udgram sendto|sendmsg PATH MSG: one datagram to the unix socket PATH.
func udgram(args []string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrUnix{Name: args[1]}
	switch args[0] {
	case "sendto":
		err = unix.Sendto(fd, []byte(args[2]), 0, sa)
	case "sendmsg":
		err = unix.Sendmsg(fd, []byte(args[2]), nil, sa, 0)
	default:
		return fmt.Errorf("%q: want sendto or sendmsg", args[0])
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	fmt.Printf("sent with %s\n", args[0])
	return nil
}

func inet4Addr(addr string) (*unix.SockaddrInet4, error) {
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	return sa, nil
}

// nbconnect ADDR MSG: a non-blocking connect, which must say EINPROGRESS,
// then poll for writability and read SO_ERROR, then send MSG.
func nbconnect(args []string) error {
	sa, err := inet4Addr(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, sa)
	switch {
	case errors.Is(err, unix.EINPROGRESS):
		fmt.Println("connect: EINPROGRESS")
	case err == nil:
		fmt.Println("connect: done at once")
	default:
		return fmt.Errorf("connect: %w", err)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if _, err := unix.Poll(pfd, 5000); err != nil {
		return err
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || soerr != 0 {
		return fmt.Errorf("SO_ERROR %d %v", soerr, err)
	}
	fmt.Println("SO_ERROR: 0")
	_, err = unix.Write(fd, []byte(args[1]))
	return err
}

// manyconnect ADDR THREADS N: THREADS OS threads each connect N times at
// once and send "ok"; prints how many succeeded, and fails unless all did.
func manyconnect(args []string) error {
	threads, _ := strconv.Atoi(args[1])
	n, _ := strconv.Atoi(args[2])
	sa, err := inet4Addr(args[0])
	if err != nil {
		return err
	}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			<-start
			for range n {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err == nil {
					if err = unix.Connect(fd, sa); err == nil {
						_, err = unix.Write(fd, []byte("ok\n"))
					}
					unix.Close(fd)
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	fmt.Printf("connected %d, failed %d\n", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d connects failed", failed.Load())
	}
	return nil
}

// race-addr ALLOWED VICTIM ROUNDS: one thread flips a sockaddr_un buffer
// between the path ALLOWED and the path VICTIM while this one connects to
// whatever it holds, ROUNDS times, and sends which path it meant. Without
// a broker that copies the address once, some connects reach VICTIM.
func raceAddr(args []string) error {
	rounds, _ := strconv.Atoi(args[2])
	var allowed, victim unix.RawSockaddrUnix
	for _, p := range []struct {
		sa   *unix.RawSockaddrUnix
		path string
	}{{&allowed, args[0]}, {&victim, args[1]}} {
		p.sa.Family = unix.AF_UNIX
		if len(p.path) >= len(p.sa.Path) {
			return fmt.Errorf("path too long: %s", p.path)
		}
		for i := range p.path {
			p.sa.Path[i] = int8(p.path[i])
		}
	}
	buf := allowed
	view := func(sa *unix.RawSockaddrUnix) []byte {
		return unsafe.Slice((*byte)(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
	}
	b, a, v := view(&buf), view(&allowed), view(&victim)
	var stop atomic.Bool
	go func() {
		runtime.LockOSThread()
		// Each address stays a while, so that a connect reads either
		// about half the time, whenever the two threads overlap.
		for !stop.Load() {
			copy(b, v)
			for i := 0; i < 64 && !stop.Load(); i++ {
			}
			copy(b, a)
			for i := 0; i < 64 && !stop.Load(); i++ {
			}
		}
	}()
	err := connectRounds(rounds, func(fd int) error {
		_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&buf)), unsafe.Sizeof(buf))
		return errnoErr(e)
	})
	stop.Store(true)
	return err
}

// connectRounds connects a new unix stream socket with connect, rounds
// times, sends "r" on each that connected and prints how many did.
func connectRounds(rounds int, connect func(fd int) error) error {
	reached := 0
	for range rounds {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if connect(fd) == nil {
			reached++
			unix.Write(fd, []byte("r\n"))
		}
		unix.Close(fd)
	}
	fmt.Printf("rounds %d, connected %d\n", rounds, reached)
	return nil
}

// race-symlink LINK ALLOWED VICTIM ROUNDS: one thread points the symlink
// LINK at ALLOWED and at VICTIM in turn (rename over it), while this one
// connects to LINK ROUNDS times.
func raceSymlink(args []string) error {
	link, allowed, victim := args[0], args[1], args[2]
	rounds, _ := strconv.Atoi(args[3])
	tmpA, tmpV := link+".a", link+".v"
	os.Remove(tmpA)
	os.Remove(tmpV)
	if err := os.Symlink(allowed, tmpA); err != nil {
		return err
	}
	if err := os.Symlink(victim, tmpV); err != nil {
		return err
	}
	var stop atomic.Bool
	go func() {
		runtime.LockOSThread()
		for !stop.Load() {
			// Link, then rename over: LINK always exists, pointing at one
			// or the other.
			os.Link(tmpV, link+".n")
			os.Rename(link+".n", link)
			os.Link(tmpA, link+".n")
			os.Rename(link+".n", link)
		}
	}()
	time.Sleep(10 * time.Millisecond)
	err := connectRounds(rounds, func(fd int) error { return unix.Connect(fd, &unix.SockaddrUnix{Name: link}) })
	stop.Store(true)
	return err
}

// passfd FILE: fd passing through the broker, which performs every
// sendmsg and sendmmsg of the cage and so must translate SCM_RIGHTS from
// the caller's fd table to its own. First the escape: every fd number
// from 3 to 255 that this process does not have open is sent on its own;
// the supervisor has many of them open (the seccomp listener, pidfds, the
// store), and a broker that sent its own would hand them to the cage.
// Each must fail with EBADF and nothing may arrive; what arrives is named.
// Then the allowed case: FILE's fd, sent over a socketpair by sendmsg and
// by sendmmsg, arrives and reads FILE's content.
func passfd(args []string) error {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	recv := func() (int, error) {
		oob := make([]byte, unix.CmsgSpace(4*4))
		_, oobn, _, _, err := unix.Recvmsg(p[1], make([]byte, 16), oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			return -1, err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			return -1, fmt.Errorf("no control message (%v)", err)
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return -1, fmt.Errorf("rights %v (%v)", fds, err)
		}
		return fds[0], nil
	}
	readBack := func(how string) error {
		fd, err := recv()
		if err != nil {
			return fmt.Errorf("%s: receiving: %w", how, err)
		}
		defer unix.Close(fd)
		b := make([]byte, 256)
		n, err := unix.Pread(fd, b, 0)
		if err != nil {
			return fmt.Errorf("%s: reading the received fd: %w", how, err)
		}
		fmt.Printf("%s passed: %s\n", how, b[:n])
		return nil
	}
	mine := map[int]bool{}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				mine[n] = true
			}
		}
	}
	tried, leaked := 0, 0
	for n := 3; n < 256; n++ {
		if mine[n] {
			continue
		}
		tried++
		err := unix.Sendmsg(p[0], []byte("x"), unix.UnixRights(n), nil, 0)
		if err == nil {
			_, err = sendmmsgOne(p[0], []byte("x"), unix.UnixRights(n))
		}
		if !errors.Is(err, unix.EBADF) {
			fmt.Printf("fd %d: sent (%v)\n", n, err)
		}
		for {
			fd, err := recv()
			if err != nil {
				break
			}
			leaked++
			target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
			fmt.Printf("fd %d arrived as the supervisor's %s\n", n, target)
			unix.Close(fd)
		}
	}
	fmt.Printf("tried %d fds not ours: %d arrived\n", tried, leaked)
	rights := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(p[0], []byte("x"), rights, nil, 0); err != nil {
		return fmt.Errorf("sendmsg: %w", err)
	}
	if err := readBack("sendmsg"); err != nil {
		return err
	}
	if _, err := sendmmsgOne(p[0], []byte("x"), rights); err != nil {
		return fmt.Errorf("sendmmsg: %w", err)
	}
	if err := readBack("sendmmsg"); err != nil {
		return err
	}
	return nil
}

// sendmmsgOne sends one message with sendmmsg(2).
func sendmmsgOne(fd int, data, oob []byte) (int, error) {
	iov := unix.Iovec{Base: &data[0], Len: uint64(len(data))}
	var hdr struct {
		h   unix.Msghdr
		len uint32
		_   [4]byte
	}
	hdr.h.Iov, hdr.h.Iovlen = &iov, 1
	hdr.h.Control, hdr.h.Controllen = &oob[0], uint64(len(oob))
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdr)), 1, 0, 0, 0)
	runtime.KeepAlive(&iov)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
