package cage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ChildArg is the hidden sub-command that makes the aicage binary the child
// that locks itself down and execs the command. main dispatches on it before
// anything else runs.
const ChildArg = "__aicage-cage-child"

// policyFD is the inherited pipe the supervisor writes the policy to.
const policyFD = 3

// maxPolicySize bounds what the child reads from the pipe.
const maxPolicySize = 16 << 20 // 16 MiB

// ExecError is a failure of the child's final execve.
type ExecError struct {
	Prog string
	Err  error
}

func (e *ExecError) Error() string { return fmt.Sprintf("cannot run %s: %v", e.Prog, e.Err) }

// Code is the exit status for it: 127 when the program is gone, else 126.
func (e *ExecError) Code() int {
	if errors.Is(e.Err, syscall.ENOENT) {
		return 127
	}
	return 126
}

// Hint says what to check.
func (e *ExecError) Hint() string {
	if errors.Is(e.Err, syscall.EACCES) {
		return "the program (or its interpreter) is not under a grant with execute; add its directory to [filesystem] rox"
	}
	return "check that the program exists and can run on this machine"
}

// Child reads the policy from the inherited pipe, locks this process down in
// the order that keeps each step possible (fds, capabilities, seccomp,
// Landlock — each needs rights the next removes) and execs the command. It
// returns only on failure.
func Child() error {
	// Capabilities, the bounding set and securebits are per thread: keep this
	// goroutine on one thread so that execve runs from the locked-down one.
	runtime.LockOSThread()
	p, err := readPolicy()
	if err != nil {
		return err
	}
	if err := closeInheritedFDs(); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if err := os.Chdir(p.Dir); err != nil {
		return fmt.Errorf("entering %s: %w", p.Dir, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	if err := p.installSeccomp(); err != nil {
		return err
	}
	if p.ABI > 0 {
		if err := p.restrictLandlock(); err != nil {
			return err
		}
	}
	err = syscall.Exec(p.Argv[0], p.Argv, p.Env)
	return &ExecError{Prog: p.Argv[0], Err: err}
}

func readPolicy() (*Policy, error) {
	f := os.NewFile(policyFD, "policy")
	if f == nil {
		return nil, errors.New("bug: the policy pipe is missing (this command is run by aicage itself)")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize))
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	var p Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("bug: decoding the policy: %w", err)
	}
	if len(p.Argv) == 0 {
		return nil, errors.New("bug: the policy has no command")
	}
	return &p, nil
}

// closeInheritedFDs marks every fd above 2 close-on-exec, so nothing the
// user's shell (or aicage) had open reaches the command (runc's
// CVE-2024-21626).
func closeInheritedFDs() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("marking fds close-on-exec: %v; listing /proc/self/fd: %w", err, rerr)
	}
	for _, e := range entries {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// dropCapabilities leaves the command with no capability at all, even when
// aicage runs as root: securebits first (so uid 0 regains nothing on exec),
// then the bounding and ambient sets, then the thread's own sets.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	bounding := capBoundingNonEmpty()
	if data[0].Effective|data[1].Effective|data[0].Permitted|data[1].Permitted == 0 && !bounding {
		return nil
	}
	const noRoot = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS… and their locks
	_ = unix.Prctl(unix.PR_SET_SECUREBITS, noRoot&^(1<<4), 0, 0, 0)
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break
			}
			if errors.Is(err, unix.EPERM) {
				break // no CAP_SETPCAP: nothing in the bounding set can be regained either
			}
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	data = [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	return nil
}

func capBoundingNonEmpty() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strings.Trim(strings.TrimSpace(v), "0") != ""
		}
	}
	return true
}
