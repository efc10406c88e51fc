package cage

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/aicage/aicage/cage/broker"
)

// RunOptions are the supervisor's inputs besides the policy.
type RunOptions struct {
	Stdin, Stdout, Stderr *os.File
	// Ready, if set, runs before the command starts, while the cage's
	// ruleset is being built: work that must precede the command (the
	// integrity snapshot) overlaps with it. An error stops the start.
	Ready func() error
	// Started, if set, runs once the command runs; Exited runs after every
	// process of the cage is dead.
	Started func(pid int)
	Exited  func()
	// Refused, if set, is told of every call the connect broker refused
	// (from many goroutines).
	Refused func(broker.Refusal)
	// Trace, if set, is told as each phase of the run ends; Span, if set,
	// times work that runs beside the phases (it returns the function that
	// ends the span).
	Trace func(phase string)
	Span  func(name string) (end func())
}

// forwarded are the signals the supervisor passes on to the command.
var forwarded = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGWINCH, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM,
}

// Run starts the command in the cage and supervises it: it forwards signals,
// keeps the terminal usable (the command gets the foreground), reaps, and
// when the command exits it kills every process the cage left behind. It
// returns the command's exit status, 128+N when a signal N killed it. A
// command that cannot be executed is an *ExecError.
func Run(p *Policy, opt RunOptions) (int, error) {
	if opt.Stdin == nil {
		opt.Stdin, opt.Stdout, opt.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	trace, span := opt.Trace, opt.Span
	if trace == nil {
		trace = func(string) {}
	}
	if span == nil {
		span = func(string) func() { return func() {} }
	}
	if len(p.Argv) == 0 {
		return 0, errors.New("bug: the policy has no command")
	}
	if fi, err := os.Stat(p.Dir); err != nil || !fi.IsDir() {
		return 0, fmt.Errorf("entering %s: not a directory the cage can start in", p.Dir)
	}
	type prepared struct {
		l   *lockdown
		err error
	}
	prep := make(chan prepared, 1)
	go func() {
		defer span("ruleset (Landlock, seccomp)")()
		l, err := p.prepareLockdown()
		prep <- prepared{l, err}
	}()
	// The signals to forward are asked for while the ruleset and the
	// snapshot are made: the runtime takes each one in a round trip to its
	// signal thread (0.35 ms for the eight, on the critical path before).
	// From here on they no longer end aicage; one that would have, and
	// came before the command starts, ends the start instead.
	sigs := make(chan os.Signal, 16)
	notified := make(chan struct{})
	go func() {
		defer span("signal set-up")()
		signal.Notify(sigs, forwarded...)
		close(notified)
	}()
	var readyErr error
	if opt.Ready != nil {
		readyErr = opt.Ready()
	}
	pr := <-prep
	trace("ruleset, integrity snapshot")
	if pr.err != nil || readyErr != nil {
		if pr.l != nil {
			pr.l.close()
		}
		return 0, errors.Join(readyErr, pr.err)
	}
	// The thread that starts the command stays in the command's Landlock
	// domain, and Landlock lets a domain ptrace its own members: a caged
	// process could otherwise attach to that thread (or read
	// /proc/PID/task/TID/environ and mem) and so reach the whole
	// supervisor. A process that is not dumpable can be ptraced only with
	// CAP_SYS_PTRACE, which the cage never has. The command is dumpable
	// again after its execve, as every program is.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		pr.l.close()
		return 0, fmt.Errorf("making the supervisor undumpable: %w", err)
	}
	// The supervisor adopts every orphan of the cage, so that nothing the
	// cage starts outlives the session (double fork, setsid, daemons).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		pr.l.close()
		return 0, fmt.Errorf("becoming child subreaper: %w", err)
	}
	if err := closeInheritedFDs(); err != nil {
		pr.l.close()
		return 0, err
	}
	<-notified
	if sig, ok := endingSignal(sigs); ok {
		pr.l.close()
		return 128 + int(sig), nil
	}
	term := newTerminal(opt.Stdin)
	signal.Ignore(syscall.SIGTTOU, syscall.SIGTTIN)
	st, locked, err := startLocked(pr.l, p.Argv[0], p.Argv, &syscall.ProcAttr{
		Dir:   p.Dir,
		Env:   p.Env,
		Files: []uintptr{opt.Stdin.Fd(), opt.Stdout.Fd(), opt.Stderr.Fd()},
		// Pdeathsig: if the supervisor itself is killed (kill -9, the OOM
		// killer), the kernel kills the command instead of leaving it to
		// run unsupervised.
		Sys: &syscall.SysProcAttr{Setpgid: true, Foreground: term.foreground, Ctty: 0, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		term.restore()
		return 0, err
	}
	defer locked.release()
	trace("supervisor set-up, fork, exec")
	pid := st.pid
	if st.listener >= 0 {
		b, err := broker.Start(broker.Options{
			Listener: st.listener, Policy: p.Broker,
			InDomain: locked.run, InDomainTID: st.tid,
			Refused: opt.Refused,
		})
		if err != nil {
			// The command's trapped calls fail with ENOSYS once the
			// listener is gone: nothing is let through unjudged.
			syscall.Kill(-pid, syscall.SIGKILL)
			waitMain(pid, term)
			killLeftovers()
			term.restore()
			return 0, fmt.Errorf("starting the connect broker: %w", err)
		}
		defer b.Stop()
	}
	if opt.Started != nil {
		opt.Started(pid)
	}
	trace("broker start")
	done := make(chan struct{})
	go forward(sigs, pid, done)
	status := waitMain(pid, term)
	trace("command")
	close(done)
	// The signals stay caught, unforwarded, until aicage exits: undoing
	// that would cost another round trip each, and a Ctrl-C now would only
	// cut short the checks that follow (the integrity verification).
	term.restore()
	killLeftovers()
	trace("leftovers")
	if opt.Exited != nil {
		opt.Exited()
	}
	return status, nil
}

// endingSignal returns a signal that came before the command started and
// would have ended aicage then (all forwarded ones but SIGWINCH); the
// others are dropped: there is nothing yet for them to reach.
func endingSignal(sigs <-chan os.Signal) (syscall.Signal, bool) {
	for {
		select {
		case s := <-sigs:
			if sig := s.(syscall.Signal); sig != syscall.SIGWINCH {
				return sig, true
			}
		default:
			return 0, false
		}
	}
}

func forward(sigs <-chan os.Signal, pid int, done <-chan struct{}) {
	for {
		select {
		case s := <-sigs:
			syscall.Kill(pid, s.(syscall.Signal))
		case <-done:
			return
		}
	}
}

// waitMain reaps until the command itself exits. When the command stops on
// a terminal (Ctrl-Z), the supervisor takes the terminal back and stops
// too, so the user's shell sees the job stop; on `fg` it hands the terminal
// back and continues the command.
func waitMain(pid int, term *terminal) int {
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, syscall.WUNTRACED, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 125 // ECHILD: cannot happen while the command lives
		}
		if wpid != pid {
			continue // an orphan the cage left; reaped
		}
		switch {
		case ws.Stopped():
			if term.foreground {
				term.takeBack()
				syscall.Kill(os.Getpid(), syscall.SIGSTOP)
				term.giveTo(pid)
				syscall.Kill(-pid, syscall.SIGCONT)
			}
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// killLeftovers kills and reaps every process still below the supervisor.
// The usual case, nothing left, costs one wait4.
func killLeftovers() {
	for {
		wpid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return // ECHILD: nothing is left
		case wpid > 0:
			continue // reaped one
		}
		// Children are alive: kill them, then wait for one to die (a child
		// between exit and zombie is not listed, but the wait sees it).
		for _, k := range children() {
			syscall.Kill(k, syscall.SIGKILL)
		}
		if _, err := syscall.Wait4(-1, nil, 0, nil); err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// children lists this process's child pids, from every thread's children file.
func children() []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// terminal is the user's terminal when aicage runs in its foreground.
type terminal struct {
	fd         int
	foreground bool
	saved      *unix.Termios
}

func newTerminal(f *os.File) *terminal {
	t := &terminal{fd: int(f.Fd())}
	tios, err := unix.IoctlGetTermios(t.fd, unix.TCGETS)
	if err != nil {
		return t
	}
	t.saved = tios
	pgrp, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	t.foreground = err == nil && pgrp == syscall.Getpgrp()
	return t
}

func (t *terminal) takeBack() {
	if t.foreground {
		unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, syscall.Getpgrp())
	}
}

func (t *terminal) giveTo(pgrp int) {
	if t.foreground {
		unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp)
	}
}

// restore takes the terminal back and undoes modes a crashed program left.
func (t *terminal) restore() {
	t.takeBack()
	if t.saved != nil {
		unix.IoctlSetTermios(t.fd, unix.TCSETS, t.saved)
	}
}
