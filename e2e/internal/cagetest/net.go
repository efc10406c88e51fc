package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The cost of one connect (issue 15, point 4), for the bench.
func init() {
	secNargs["connect-loop"] = 2
	secCommands["connect-loop"] = connectLoop
}

// connect-loop HOST:PORT N: connect a fresh TCP socket to HOST:PORT N
// times and print the median time of one connect() in microseconds. Only
// the connect is timed: socket() and close() cost the same caged or not.
func connectLoop(args []string) error {
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return fmt.Errorf("connect-loop: bad count %q", args[1])
	}
	sa, err := inet4Addr(args[0])
	if err != nil {
		return err
	}
	times := make([]time.Duration, 0, n)
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		start := time.Now()
		err = unix.Connect(fd, sa)
		times = append(times, time.Since(start))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
	}
	slices.Sort(times)
	fmt.Printf("median connect %.1f µs over %d\n", float64(times[n/2].Nanoseconds())/1e3, n)
	return nil
}
