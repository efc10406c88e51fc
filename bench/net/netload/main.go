// Command netload is the network workload of the connect-broker
// benchmark: it makes one kind of call many times and prints the median
// and mean time of one call in nanoseconds ("median-ns N mean-ns M").
//
//	netload connect ADDR N          TCP connect to ADDR, then close
//	netload udp-send ADDR N         send on a connected UDP socket (not brokered)
//	netload udp-sendto ADDR N       sendto with the address
//	netload udp-sendmsg ADDR N      sendmsg with the address
//	netload unix-send N             send on a connected unix datagram pair (not brokered)
//	netload unix-sendmsg N          sendmsg on a unix datagram pair, no address
//	netload unix-sendto PATH N      sendto a bound unix datagram socket by path
package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

var payload = make([]byte, 512)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netload MODE [ADDR|PATH] N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if err != nil {
		fail(err)
	}
	op, cleanup := setup(os.Args[1], os.Args[2])
	defer cleanup()
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if err := op(); err != nil {
			fail(err)
		}
		times[i] = time.Since(start)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var sum time.Duration
	for _, t := range times {
		sum += t
	}
	fmt.Printf("median-ns %d mean-ns %d\n", times[n/2].Nanoseconds(), (sum / time.Duration(n)).Nanoseconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netload:", err)
	os.Exit(1)
}

func inet4(addr string) *unix.SockaddrInet4 {
	ap, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		fail(err)
	}
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	return sa
}

func socket(domain, typ int) int {
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail(err)
	}
	return fd
}

// drain reads and drops what arrives on fd.
func drain(fd int) {
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil && err != unix.EINTR {
				return
			}
		}
	}()
}

func pair() (int, int) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail(err)
	}
	drain(p[1])
	return p[0], p[1]
}

func setup(mode, arg string) (func() error, func()) {
	nothing := func() {}
	switch mode {
	case "connect":
		sa := inet4(arg)
		return func() error {
			fd := socket(unix.AF_INET, unix.SOCK_STREAM)
			defer unix.Close(fd)
			return unix.Connect(fd, sa)
		}, nothing
	case "udp-send", "udp-sendto", "udp-sendmsg":
		sa := inet4(arg)
		fd := socket(unix.AF_INET, unix.SOCK_DGRAM)
		switch mode {
		case "udp-send":
			if err := unix.Connect(fd, sa); err != nil {
				fail(err)
			}
			return func() error { _, err := unix.Write(fd, payload); return err }, nothing
		case "udp-sendto":
			return func() error { return unix.Sendto(fd, payload, 0, sa) }, nothing
		}
		return func() error { return unix.Sendmsg(fd, payload, nil, sa, 0) }, nothing
	case "unix-send":
		a, _ := pair()
		return func() error { _, err := unix.Write(a, payload); return err }, nothing
	case "unix-sendmsg":
		a, _ := pair()
		return func() error { return unix.Sendmsg(a, payload, nil, nil, 0) }, nothing
	case "unix-sendto":
		os.Remove(arg)
		srv := socket(unix.AF_UNIX, unix.SOCK_DGRAM)
		if err := unix.Bind(srv, &unix.SockaddrUnix{Name: arg}); err != nil {
			fail(err)
		}
		drain(srv)
		fd := socket(unix.AF_UNIX, unix.SOCK_DGRAM)
		sa := &unix.SockaddrUnix{Name: arg}
		return func() error { return unix.Sendto(fd, payload, 0, sa) }, func() { os.Remove(arg) }
	}
	fail(fmt.Errorf("unknown mode %q", mode))
	return nil, nil
}
