package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// connect times one connect() to a loopback TCP listener, caged (through
// the broker: the address is listed in [network] hosts) and uncaged, with
// the same program (cagetest connect-loop) printing its median over 2000.
func (w *world) connect() ([]row, error) {
	const group, n = "5. one connect() to loopback", "2000"
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	// The program lives in the project: the cage may execute it there.
	proj := filepath.Join(w.dir, "connect")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		return nil, err
	}
	ct := filepath.Join(proj, "cagetest")
	if out, err := exec.Command("go", "build", "-o", ct, "./e2e/internal/cagetest").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building cagetest: %v\n%s", err, out)
	}
	cfg := fmt.Sprintf("profile = \"aiAgent\"\n[network]\nconnect = [%s]\nhosts = [%q]\n", port, addr)
	if err := os.WriteFile(filepath.Join(proj, ".aicage.toml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := w.cmd(proj, w.bin, "allow").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("aicage allow: %v\n%s", err, out)
	}
	uncaged, err := connectMedian(w.cmd(proj, ct, "connect-loop", addr, n))
	if err != nil {
		return []row{{group: group, name: "(failed uncaged: " + err.Error() + ")"}}, nil
	}
	caged, err := connectMedian(w.cmd(proj, w.bin, "run", "--", ct, "connect-loop", addr, n))
	if err != nil {
		return []row{{group: group, name: "(failed caged: " + err.Error() + ")"}}, nil
	}
	fmt.Printf("one connect() to loopback: uncaged %.1f µs, caged %.1f µs, the broker adds %.1f µs\n\n",
		uncaged*1e6, caged*1e6, (caged-uncaged)*1e6)
	return []row{
		{group: group, name: "uncaged", median: uncaged, base: uncaged, unit: "s"},
		{group: group, name: "caged (brokered)", median: caged, base: uncaged, unit: "s"},
	}, nil
}

// connectMedian runs c and reads "median connect X µs" from its output,
// in seconds.
func connectMedian(c *exec.Cmd) (float64, error) {
	out, err := c.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, firstLine(out))
	}
	f := strings.Fields(string(out))
	if len(f) < 3 || f[0] != "median" {
		return 0, fmt.Errorf("unexpected output %q", firstLine(out))
	}
	us, err := strconv.ParseFloat(f[2], 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected output %q", firstLine(out))
	}
	return us / 1e6, nil
}
