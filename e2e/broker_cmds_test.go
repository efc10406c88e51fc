package e2e

import (
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	commands["listen-unixgram"] = cmdListenUnixgram
	commands["count-lines"] = cmdCountLines
}

// listen-unixgram PATH FILE: a unix datagram socket at PATH (outside the
// cage) that appends every datagram to FILE, one a line.
func cmdListenUnixgram(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: listen-unixgram PATH FILE")
	}
	path, file := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	ts.Check(os.WriteFile(file, nil, 0o644))
	c, err := net.ListenPacket("unixgram", path)
	ts.Check(err)
	os.Chmod(path, 0o777)
	ts.Defer(func() { c.Close() })
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			if f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0); err == nil {
				f.Write(append(buf[:n:n], '\n'))
				f.Close()
			}
			mu.Unlock()
		}
	}()
}

// count-lines FILE N: FILE has exactly N lines (! count-lines: not N).
func cmdCountLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: count-lines FILE N")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	want, _ := strconv.Atoi(args[1])
	if (n == want) == neg {
		ts.Fatalf("%s has %d lines, want %s%d", args[0], n, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}
