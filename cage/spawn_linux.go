package cage

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/aicage/aicage/cage/seccomp"
)

// The command is started from a dedicated OS thread of the supervisor that
// locks itself down first — capabilities, no_new_privs, seccomp and
// Landlock are all per thread when applied without TSYNC — and then forks
// and execs the command, which inherits that thread's state. The
// supervisor's other threads stay as they were, and no second Go program
// has to start: the command is the only exec after aicage's own.
//
// The thread is never given back to the Go runtime: its goroutine keeps it
// locked until the session ends and then exits, which ends the thread.
// Threads the runtime creates meanwhile are cloned from a clean template
// thread, never from a locked one (runtime.newm), so the lock-down cannot
// leak into the supervisor. The thread must also live as long as the
// command: PR_SET_PDEATHSIG fires when the thread that forked the child
// exits, not the process.

// ExecError is a failure to start the command: its program could not be
// executed.
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

// lockdown is everything the starting thread applies to itself, built
// beforehand on any thread.
type lockdown struct {
	ruleset int    // Landlock ruleset fd; -1 without Landlock
	flags   uint32 // for landlock_restrict_self
	// seccomp is the filter's options, nil without a filter; the starting
	// thread builds it with its own thread id as the guard.
	seccomp *seccomp.Options
}

// prepareLockdown opens the granted paths into a Landlock ruleset and
// builds the seccomp filter.
func (p *Policy) prepareLockdown() (*lockdown, error) {
	l := &lockdown{ruleset: -1}
	if !p.NoSeccomp {
		opts := p.seccompOptions()
		if _, err := seccomp.Program(opts); err != nil {
			return nil, err
		}
		l.seccomp = &opts
	}
	if p.ABI > 0 {
		fd, flags, err := p.landlockRuleset()
		if err != nil {
			return nil, err
		}
		l.ruleset, l.flags = fd, flags
	}
	return l, nil
}

func (l *lockdown) close() {
	if l.ruleset >= 0 {
		unix.Close(l.ruleset)
		l.ruleset = -1
	}
}

// apply locks the calling thread down, in the order that keeps each step
// possible: capabilities, no_new_privs, seccomp, Landlock. The caller must
// hold the thread locked and never unlock it. It returns the broker's
// listener, or -1.
func (l *lockdown) apply() (listener int, err error) {
	listener = -1
	if err := dropCapabilities(); err != nil {
		return -1, err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("setting no_new_privs: %w", err)
	}
	if l.seccomp != nil {
		opts := *l.seccomp
		opts.Guard = uint32(unix.Gettid())
		prog, err := seccomp.Program(opts)
		if err != nil {
			return -1, err
		}
		filter, err := seccomp.Filter(prog)
		if err != nil {
			return -1, err
		}
		if opts.Broker {
			if listener, err = seccomp.InstallFilterListener(filter); err != nil {
				return -1, err
			}
		} else if err := seccomp.InstallFilter(filter, 0); err != nil {
			return -1, err
		}
	}
	if l.ruleset >= 0 {
		if err := landlockRestrictThread(l.ruleset, l.flags); err != nil {
			if listener >= 0 {
				unix.Close(listener)
			}
			return -1, err
		}
	}
	return listener, nil
}

// started is what the starting thread reports.
type started struct {
	pid      int
	tid      int // the starting thread, in the command's Landlock domain
	listener int // the broker's seccomp listener, or -1
	err      error
}

// lockedThread is the thread that started the command. It stays in the
// command's own Landlock domain until release, and runs work sent to it
// there: the broker's abstract-socket calls, which Landlock's scope must
// judge as the command's own.
type lockedThread struct {
	work    chan func()
	release func()
}

// run performs f on the locked thread and waits for it.
func (t *lockedThread) run(f func()) {
	done := make(chan struct{})
	t.work <- func() { f(); close(done) }
	<-done
}

// startLocked starts argv from a new locked-down thread and returns what
// it reports and the thread, to be released once the command and all its
// processes are dead.
func startLocked(l *lockdown, argv0 string, argv []string, attr *syscall.ProcAttr) (started, *lockedThread, error) {
	res := make(chan started)
	rel := make(chan struct{})
	t := &lockedThread{work: make(chan func()), release: func() { close(rel) }}
	go offMainThread(func() {
		listener, err := l.apply()
		if err != nil {
			res <- started{err: err}
			return
		}
		pid, err := syscall.ForkExec(argv0, argv, attr)
		if err != nil {
			if listener >= 0 {
				unix.Close(listener)
			}
			res <- started{err: &ExecError{Prog: argv0, Err: err}}
			return
		}
		res <- started{pid: pid, tid: unix.Gettid(), listener: listener}
		for {
			select {
			case f := <-t.work:
				f()
			case <-rel:
				return
			}
		}
	})
	r := <-res
	l.close()
	if r.err != nil {
		return r, nil, r.err
	}
	return r, t, nil
}

// offMainThread runs body locked to an OS thread that is not the main
// thread, and never unlocks it: when body returns, the thread exits. The
// main thread stands for the whole process in /proc/PID and kill(2):
// locked down, it would put the supervisor in the cage's Landlock domain,
// and the cage could read its environment and signal it. A goroutine that
// finds itself on it holds it, clean, while another — which cannot run on
// it meanwhile — calls body, and then gives it back.
func offMainThread(body func()) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		done := make(chan struct{})
		go func() { defer close(done); offMainThread(body) }()
		<-done
		runtime.UnlockOSThread()
		return
	}
	body()
}

// closeInheritedFDs marks every fd above 2 close-on-exec, so nothing the
// user's shell (or aicage) had open reaches the command (runc's
// CVE-2024-21626). The supervisor opens everything close-on-exec itself.
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

// dropCapabilities leaves the calling thread, and so the command, with no
// capability at all, even when aicage runs as root: securebits first (so
// uid 0 regains nothing on exec), then the bounding and ambient sets, then
// the thread's own sets. All of them are per thread.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	bounding := capBoundingNonEmpty()
	if data[0].Effective|data[1].Effective|data[0].Permitted|data[1].Permitted|
		data[0].Inheritable|data[1].Inheritable == 0 && !bounding {
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

// capBoundingNonEmpty reads the calling thread's bounding set.
func capBoundingNonEmpty() bool {
	b, err := os.ReadFile("/proc/thread-self/status")
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

func (p *Policy) seccompOptions() seccomp.Options {
	return seccomp.Options{UDP: p.UDP, LandlockUDP: p.ABI >= 10, Broker: p.Broker != nil}
}

// seccompProtections describes the filter's rules for status and doctor.
func seccompProtections(abi int, udp string, brokered bool) []Protection {
	if udp == "" {
		udp = "deny"
	}
	var out []Protection
	for _, r := range seccomp.Rules(seccomp.Options{UDP: udp, LandlockUDP: abi >= 10, Broker: brokered, Guard: 1}) {
		p := Protection{Name: "seccomp: " + r.Name, State: r.State, Why: r.Why}
		if why := kernelCredit(r.Name); why != "" && r.State == "enforced" {
			p.Why = why
		}
		if r.Closes != "" {
			p.Name += " (" + r.Closes + ")"
		}
		out = append(out, p)
	}
	return out
}
