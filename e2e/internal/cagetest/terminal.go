package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// terminalWait bounds each wait of the terminal harness.
const terminalWait = 15 * time.Second

// terminal [-dialogue FILE] CMD ARGS… is a harness run outside the cage, as
// the user's terminal: it runs CMD with stdin, stdout and stderr on a new
// pseudo-terminal that is CMD's controlling terminal, in a new session (as
// a shell starts a job in the foreground), plays the dialogue if any, and
// waits for CMD. Then it reads what is left in the terminal's input queue,
// which the user's shell would read next as if typed, and its line
// discipline. It prints the terminal's output (carriage returns and escape
// sequences removed), then "input queue: %q" and "line discipline: N", and
// exits with CMD's status (128+N for a signal).
//
// A dialogue is lines of
//
//	expect REGEXP   wait until the output since the last match matches
//	send "TEXT"     type TEXT (Go-quoted: "\x03" is Ctrl-C)
//	# comment
//
// A failure of the harness itself exits 99, apart from any status of CMD.
func terminal(args []string) error {
	if err := runTerminal(args); err != nil {
		fmt.Fprintf(os.Stderr, "cagetest terminal: %v\n", err)
		os.Exit(99)
	}
	return nil
}

func runTerminal(args []string) error {
	fs := flag.NewFlagSet("terminal", flag.ContinueOnError)
	dialogue := fs.String("dialogue", "", "a file of expect and send lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: terminal [-dialogue FILE] CMD ARGS…")
	}
	var steps []step
	if *dialogue != "" {
		data, err := os.ReadFile(*dialogue)
		if err != nil {
			return err
		}
		if steps, err = parseDialogue(string(data)); err != nil {
			return err
		}
	}
	ctrl, tty, err := pty.Open()
	if err != nil {
		return err
	}
	defer ctrl.Close()
	if err := pty.Setsize(ctrl, &pty.Winsize{Rows: 40, Cols: 200}); err != nil {
		return err
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		tty.Close()
		return err
	}
	out := &termOutput{changed: make(chan struct{}, 1)}
	readDone := make(chan struct{})
	go func() { out.copyFrom(ctrl); close(readDone) }()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	fail := func(err error) error {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-waitDone
		tty.Close()
		fmt.Print(out.clean())
		return err
	}
	for _, s := range steps {
		switch s.op {
		case "send":
			if _, err := ctrl.Write([]byte(s.arg)); err != nil {
				return fail(fmt.Errorf("send %q: %w", s.arg, err))
			}
		case "expect":
			if !out.expect(s.re, terminalWait) {
				return fail(fmt.Errorf("dialogue line %d: no %q on the terminal within %v", s.line, s.re, terminalWait))
			}
		}
	}
	var werr error
	select {
	case werr = <-waitDone:
	case <-time.After(terminalWait):
		return fail(fmt.Errorf("%s did not exit within %v", fs.Arg(0), terminalWait))
	}
	ldisc, lerr := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGETD)
	queued, qerr := "", error(nil)
	if lerr == nil && ldisc == 0 { // N_TTY: another has no queue to read
		queued, qerr = drainInput(tty)
	}
	tty.Close()
	// The output ends when the last holder of the terminal closes it; a
	// process left behind must not hang the harness.
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
		ctrl.Close()
		<-readDone
	}
	fmt.Print(out.clean())
	if qerr != nil {
		return fmt.Errorf("reading the input queue: %w", qerr)
	}
	if lerr != nil {
		return fmt.Errorf("TIOCGETD: %w", lerr)
	}
	if ldisc == 0 {
		fmt.Printf("\ninput queue: %q\nline discipline: %d\n", queued, ldisc)
	} else {
		fmt.Printf("\ninput queue: unreadable\nline discipline: %d\n", ldisc)
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	return werr
}

// drainInput reads everything waiting in the terminal's input queue,
// partial lines too: it turns canonical mode off first, which makes every
// queued byte readable, and reads without waiting.
func drainInput(tty *os.File) (string, error) {
	fd := int(tty.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	tio.Lflag &^= unix.ICANON | unix.ECHO
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 0, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return "", err
	}
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			b.Write(buf[:n])
			continue
		}
		if err == nil || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EIO) {
			return b.String(), nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return b.String(), err
	}
}

type step struct {
	op, arg string
	re      *regexp.Regexp
	line    int
}

func parseDialogue(text string) ([]step, error) {
	var steps []step
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		s := step{op: op, line: i + 1}
		switch op {
		case "send":
			t, err := strconv.Unquote(arg)
			if err != nil {
				return nil, fmt.Errorf("dialogue line %d: send takes a Go-quoted string: %w", i+1, err)
			}
			s.arg = t
		case "expect":
			re, err := regexp.Compile("(?m)" + arg)
			if err != nil {
				return nil, fmt.Errorf("dialogue line %d: %w", i+1, err)
			}
			s.re = re
		default:
			return nil, fmt.Errorf("dialogue line %d: unknown step %q", i+1, op)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// termOutput collects what the terminal shows; expect consumes it up to the
// end of each match, so that a later expect sees only newer output.
type termOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	from    int
	eof     bool
	changed chan struct{}
}

func (o *termOutput) copyFrom(f *os.File) {
	b := make([]byte, 4096)
	for {
		n, err := f.Read(b)
		o.mu.Lock()
		o.buf.Write(b[:n])
		if err != nil {
			o.eof = true // EIO once nobody holds the terminal any more
		}
		o.mu.Unlock()
		select {
		case o.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (o *termOutput) expect(re *regexp.Regexp, wait time.Duration) bool {
	deadline := time.After(wait)
	for {
		o.mu.Lock()
		text := cleanTerminal(o.buf.String())
		eof := o.eof
		if o.from <= len(text) {
			if loc := re.FindStringIndex(text[o.from:]); loc != nil {
				o.from += loc[1]
				o.mu.Unlock()
				return true
			}
		}
		o.mu.Unlock()
		if eof {
			return false
		}
		select {
		case <-o.changed:
		case <-deadline:
			return false
		}
	}
}

func (o *termOutput) clean() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return cleanTerminal(o.buf.String())
}

// escapes are the control sequences a shell's line editor writes.
var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?`)

func cleanTerminal(s string) string {
	s = escapes.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "")
}
