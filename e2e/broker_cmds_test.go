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
	commands["listen-tmp-unix"] = cmdListenTmpUnix
	commands["listen-udp"] = cmdListenUDP
}

// record appends b to file.
func record(mu *sync.Mutex, file string, b []byte) {
	mu.Lock()
	defer mu.Unlock()
	if f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0); err == nil {
		f.Write(b)
		f.Close()
	}
}

// listen-tmp-unix VAR FILE: a unix stream listener under the shared /tmp
// (a new name, removed at the end), recording "connection:DATA" to FILE;
// $VAR is its path.
func cmdListenTmpUnix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: listen-tmp-unix VAR FILE")
	}
	dir, err := os.MkdirTemp("/tmp", "aicage-e2e-sock-")
	ts.Check(err)
	os.Chmod(dir, 0o755)
	ts.Defer(func() { os.RemoveAll(dir) })
	path, file := dir+"/docker.sock", ts.MkAbs(args[1])
	ts.Check(os.WriteFile(file, nil, 0o644))
	l, err := net.Listen("unix", path)
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 4096)
			n, _ := c.Read(b)
			record(&mu, file, append([]byte("connection:"), b[:n]...))
			c.Close()
		}
	}()
	ts.Setenv(args[0], path)
}

// listen-udp VAR ADDR FILE: a UDP socket on ADDR (a fixed address, such as
// 127.0.0.2:53), appending each datagram to FILE.
func cmdListenUDP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: listen-udp VAR ADDR FILE")
	}
	file := ts.MkAbs(args[2])
	ts.Check(os.WriteFile(file, nil, 0o644))
	c, err := net.ListenPacket("udp4", args[1])
	ts.Check(err)
	ts.Defer(func() { c.Close() })
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			record(&mu, file, buf[:n])
		}
	}()
	ts.Setenv(args[0], c.LocalAddr().String())
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
			record(&mu, file, append(buf[:n:n], '\n'))
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
