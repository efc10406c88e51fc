package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the project scripts (proj_*.txtar): a terminal driver,
// since testscript's ttyin leaves stdout and stderr as pipes and feeds its
// whole input at once, and JSON checks for `aicage status --json`.
func init() {
	commands["pty"] = cmdPty
	commands["jsonvalid"] = cmdJSONValid
	commands["jsonhas"] = cmdJSONHas
}

// ptyWait bounds every wait of the terminal driver.
const ptyWait = 10 * time.Second

// pty [-exit N] DIALOGUE CMD ARGS…: run CMD with stdin, stdout and stderr
// on a new pseudo-terminal, as its controlling terminal in a new session
// (so CMD starts in the terminal's foreground), and play DIALOGUE, a file
// of lines:
//
//	expect REGEXP   wait until the output since the last match matches
//	send "TEXT"     type TEXT (Go-quoted: "y\n", "\x03" for Ctrl-C)
//	# comment
//
// Then wait for CMD to exit and check its status is N (default 0). The
// terminal output, with carriage returns and escape sequences removed,
// becomes stdout for the next commands.
func cmdPty(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! pty; use pty -exit N")
	}
	want := 0
	if len(args) > 1 && args[0] == "-exit" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		want, args = n, args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: pty [-exit N] DIALOGUE CMD ARGS…")
	}
	steps := parseDialogue(ts, ts.ReadFile(args[0]))
	env := scriptEnv(ts)

	prog := args[1]
	if !strings.Contains(prog, "/") {
		p, err := lookPathIn(prog, envValue(env, "PATH"))
		ts.Check(err)
		prog = p
	}
	cmd := exec.Command(prog, args[2:]...)
	cmd.Args[0] = args[1]
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(env, "PWD="+cmd.Dir)
	ctrl, tty, err := pty.Open()
	ts.Check(err)
	defer ctrl.Close()
	ts.Check(pty.Setsize(ctrl, &pty.Winsize{Rows: 40, Cols: 200}))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	tty.Close()
	ts.Check(err)
	out := &ptyOutput{changed: make(chan struct{}, 1)}
	readDone := make(chan struct{})
	go func() { out.copyFrom(ctrl); close(readDone) }()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	fail := func(format string, v ...any) {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-waitDone
		ts.Logf("terminal output:\n%s", out.clean())
		ts.Fatalf(format, v...)
	}
	for _, s := range steps {
		switch s.op {
		case "send":
			if _, err := ctrl.Write([]byte(s.arg)); err != nil {
				fail("send %q: %v", s.arg, err)
			}
		case "expect":
			if !out.expect(s.re, ptyWait) {
				fail("line %d: no %q on the terminal within %v", s.line, s.re, ptyWait)
			}
		}
	}
	var werr error
	select {
	case werr = <-waitDone:
	case <-time.After(ptyWait):
		fail("%s did not exit within %v", args[1], ptyWait)
	}
	// The output ends when the last holder of the terminal closes it; a
	// process left behind (which the supervisor should have killed) must
	// not hang the test.
	select {
	case <-readDone:
	case <-time.After(2 * time.Second):
		ctrl.Close()
		<-readDone
	}
	got := 0
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.ExitCode() < 0 {
			ts.Logf("terminal output:\n%s", out.clean())
			ts.Fatalf("%s: %v", args[1], werr)
		}
		got = ee.ExitCode()
	}
	io.WriteString(ts.Stdout(), out.clean())
	if got != want {
		ts.Logf("terminal output:\n%s", out.clean())
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

type ptyStep struct {
	op, arg string
	re      *regexp.Regexp
	line    int
}

func parseDialogue(ts *testscript.TestScript, text string) []ptyStep {
	var steps []ptyStep
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		s := ptyStep{op: op, line: i + 1}
		switch op {
		case "send":
			t, err := strconv.Unquote(arg)
			if err != nil {
				ts.Fatalf("dialogue line %d: send takes a Go-quoted string: %v", i+1, err)
			}
			s.arg = t
		case "expect":
			re, err := regexp.Compile("(?m)" + arg)
			if err != nil {
				ts.Fatalf("dialogue line %d: %v", i+1, err)
			}
			s.re = re
		default:
			ts.Fatalf("dialogue line %d: unknown step %q", i+1, op)
		}
		steps = append(steps, s)
	}
	return steps
}

// ptyOutput collects what the terminal shows; expect consumes it up to the
// end of each match, so that a later expect sees only newer output.
type ptyOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	from    int // cleaned output before this offset was matched already
	eof     bool
	changed chan struct{}
}

func (o *ptyOutput) copyFrom(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
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

func (o *ptyOutput) expect(re *regexp.Regexp, wait time.Duration) bool {
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

func (o *ptyOutput) clean() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return cleanTerminal(o.buf.String())
}

// escapes are the terminal control sequences a shell's line editor writes
// (bracketed paste, cursor moves, colours, titles).
var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?`)

func cleanTerminal(s string) string {
	s = escapes.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "")
}

// scriptEnv returns the script's environment as exec would pass it.
func scriptEnv(ts *testscript.TestScript) []string {
	f, err := os.CreateTemp(ts.Getenv("WORK"), ".env-*")
	ts.Check(err)
	f.Close()
	defer os.Remove(f.Name())
	// Through a file, so that the environment is not logged as stdout.
	ts.Check(ts.Exec("sh", "-c", `env -0 > "$1"`, "sh", f.Name()))
	data, err := os.ReadFile(f.Name())
	ts.Check(err)
	var env []string
	for _, kv := range strings.Split(string(data), "\x00") {
		if kv != "" && !strings.HasPrefix(kv, "PWD=") {
			env = append(env, kv)
		}
	}
	return env
}

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

func lookPathIn(name, path string) (string, error) {
	for _, dir := range strings.Split(path, ":") {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on the script's PATH", name)
}

// jsonvalid FILE: FILE holds exactly one JSON value; negated, it does not.
func cmdJSONValid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jsonvalid FILE")
	}
	_, err := decodeJSON(ts.ReadFile(args[0]))
	if (err == nil) == neg {
		ts.Fatalf("%s: valid JSON: %v (%v)", args[0], err == nil, err)
	}
}

func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// jsonhas FILE PATH [REGEXP | KEY=REGEXP…]: PATH (dotted keys, [] for every
// element of an array, e.g. grants[], ** for every value at any depth, "."
// for the whole document) selects values of the JSON in FILE;
// at least one exists, or with REGEXP one is a scalar matching it, or with
// KEY=REGEXP pairs one is an object whose KEYs are scalars matching each.
func cmdJSONHas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jsonhas FILE PATH [REGEXP | KEY=REGEXP…]")
	}
	v, err := decodeJSON(ts.ReadFile(args[0]))
	ts.Check(err)
	vals := selectJSON([]any{v}, args[1])
	var match func(any) bool
	switch conds := args[2:]; {
	case len(conds) == 0:
		match = func(any) bool { return true }
	case len(conds) == 1 && !strings.Contains(conds[0], "="):
		re := regexp.MustCompile(conds[0])
		match = func(x any) bool { s, ok := scalarString(x); return ok && re.MatchString(s) }
	default:
		type cond struct {
			key string
			re  *regexp.Regexp
		}
		var cs []cond
		for _, c := range conds {
			k, r, ok := strings.Cut(c, "=")
			if !ok {
				ts.Fatalf("jsonhas: %q is not KEY=REGEXP", c)
			}
			re, err := regexp.Compile(r)
			ts.Check(err)
			cs = append(cs, cond{k, re})
		}
		match = func(x any) bool {
			obj, ok := x.(map[string]any)
			if !ok {
				return false
			}
			for _, c := range cs {
				s, ok := scalarString(obj[c.key])
				if !ok || !c.re.MatchString(s) {
					return false
				}
			}
			return true
		}
	}
	found := false
	for _, x := range vals {
		if match(x) {
			found = true
			break
		}
	}
	if found == neg {
		ts.Fatalf("%s: %s %q: found %v (%d values at the path)", args[0], args[1], args[2:], found, len(vals))
	}
}

func selectJSON(vals []any, path string) []any {
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		if part == "**" {
			var all []any
			for _, v := range vals {
				all = append(all, descendants(v)...)
			}
			vals = all
			continue
		}
		name, each := strings.CutSuffix(part, "[]")
		var next []any
		for _, v := range vals {
			if name != "" {
				obj, ok := v.(map[string]any)
				if !ok {
					continue
				}
				if v, ok = obj[name]; !ok {
					continue
				}
				if !each {
					next = append(next, v)
					continue
				}
				if arr, ok := v.([]any); ok {
					next = append(next, arr...)
				}
				continue
			}
			if arr, ok := v.([]any); ok && each {
				next = append(next, arr...)
			}
		}
		vals = next
	}
	return vals
}

// descendants returns v and every value inside it, depth first.
func descendants(v any) []any {
	out := []any{v}
	switch c := v.(type) {
	case map[string]any:
		for _, x := range c {
			out = append(out, descendants(x)...)
		}
	case []any:
		for _, x := range c {
			out = append(out, descendants(x)...)
		}
	}
	return out
}

func scalarString(x any) (string, bool) {
	switch v := x.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	}
	return "", false
}
