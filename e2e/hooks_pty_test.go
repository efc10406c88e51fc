package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The shell-hook tests drive real interactive shells on a pseudo-terminal:
// bash, zsh and fish, each with the hook that 'aicage hook SHELL' prints,
// isolated in a directory of their own under /var/tmp (never /tmp, which
// every cage may read), as the suite's user and, when that is root, as
// uid 65534 too.

// hookWait bounds every wait for a shell; the steps themselves take
// milliseconds.
const hookWait = 15 * time.Second

// nobody is the unprivileged user the hook tests also run as under root.
const nobody = 65534

// hookWorld is one test's isolated machine: a fake home with a secret,
// XDG dirs, rc files, and projects around it.
type hookWorld struct {
	t      *testing.T
	uid    int // -1: the suite's own user
	base   string
	home   string
	canary string // the secret in ~/.ssh/id_canary
	bin    string // the aicage the hook calls
	env    []string
	// projects and places
	proj, untrusted, broken, plain, elsewhere string
}

func hookUsers(t *testing.T) []int {
	if os.Getuid() == 0 {
		return []int{-1, nobody}
	}
	return []int{-1}
}

func hookUserName(uid int) string {
	if uid < 0 {
		return "self"
	}
	return fmt.Sprintf("uid%d", uid)
}

// newHookWorld lays out the world. bin, if not "", is where the aicage
// binary is copied (relative to the world's base) instead of being used
// from the build directory.
func newHookWorld(t *testing.T, uid int, bin string) *hookWorld {
	t.Helper()
	base, err := os.MkdirTemp(workBase, "aicage-hooks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 8)
	rand.Read(nonce)
	w := &hookWorld{
		t: t, uid: uid, base: base,
		home:      filepath.Join(base, "home"),
		canary:    "HOOK-CANARY-" + hex.EncodeToString(nonce),
		bin:       filepath.Join(binDir, "aicage"),
		proj:      filepath.Join(base, "work", "proj"),
		untrusted: filepath.Join(base, "work", "untrusted"),
		broken:    filepath.Join(base, "work", "broken"),
		plain:     filepath.Join(base, "work", "plain"),
		elsewhere: filepath.Join(base, "elsewhere"),
	}
	// fish generates completions from every man page in the background
	// the first time it runs in a home, outliving the test: not here, nor
	// in the project's private home
	fishDone := filepath.Join(".local", "share", "fish", "generated_completions")
	for _, d := range []string{
		filepath.Join(w.home, fishDone),
		filepath.Join(w.proj, ".aicage", "state", "home", fishDone),
		filepath.Join(w.untrusted, ".aicage", "state", "home", fishDone),
		filepath.Join(w.home, ".ssh"), filepath.Join(w.home, ".config", "fish"), filepath.Join(base, "rc"),
		filepath.Join(w.proj, "sub", "deep"), filepath.Join(w.untrusted, "sub"),
		filepath.Join(w.broken, "sub"), filepath.Join(w.plain, "sub"), w.elsewhere,
	} {
		w.mkdir(d)
	}
	w.write(filepath.Join(w.home, ".ssh", "id_canary"), w.canary+"\n", 0o600)
	config := "profile = \"offline\"\n"
	w.write(filepath.Join(w.proj, ".aicage.toml"), config, 0o644)
	w.write(filepath.Join(w.untrusted, ".aicage.toml"), config, 0o644)
	w.write(filepath.Join(w.broken, ".aicage.toml"), "profile = \"offline\"\n[network]\nconect = [443]\n", 0o644)
	if bin != "" {
		w.bin = filepath.Join(base, bin)
		w.mkdir(filepath.Dir(w.bin))
		if err := copyFile(filepath.Join(binDir, "aicage"), w.bin); err != nil {
			t.Fatal(err)
		}
	}
	w.env = []string{
		"HOME=" + w.home,
		"XDG_CONFIG_HOME=" + filepath.Join(w.home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(w.home, ".local/share"),
		"XDG_STATE_HOME=" + filepath.Join(w.home, ".local/state"),
		"XDG_CACHE_HOME=" + filepath.Join(w.home, ".cache"),
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"TERM=xterm",
		"LANG=C.UTF-8",
		"GIT_CONFIG_NOSYSTEM=1",
	}
	if uid >= 0 {
		w.chownAll()
	}
	w.run(w.proj, w.bin, "allow")
	return w
}

func (w *hookWorld) mkdir(d string) {
	if err := os.MkdirAll(d, 0o755); err != nil {
		w.t.Fatal(err)
	}
}

func (w *hookWorld) write(p, content string, mode os.FileMode) {
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		w.t.Fatal(err)
	}
	if w.uid >= 0 {
		os.Lchown(p, w.uid, w.uid)
	}
}

func (w *hookWorld) chownAll() {
	err := filepath.Walk(w.base, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, w.uid, w.uid)
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *hookWorld) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if w.uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(w.uid), Gid: uint32(w.uid)}
	}
	return a
}

// run runs a command as the world's user, in dir, and fails the test if
// it fails.
func (w *hookWorld) run(dir, prog string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, append(w.env, "PWD="+dir), w.attr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hookShell is an interactive shell on a pseudo-terminal.
type hookShell struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	ptmx  *os.File
	mu    sync.Mutex
	buf   bytes.Buffer
	pos   int // where the next expect starts
	marks int
	done  chan struct{}
}

// outerPrompt and innerPrompt tell the user's shell from the caged one.
var (
	outerPrompt = regexp.MustCompile(`OUTER[$%#>] `)
	innerPrompt = regexp.MustCompile(`\(aicage\) `)
)

// startShell starts shell in dir with rc (the text of its rc file) and the
// world's environment.
func (w *hookWorld) startShell(shell, dir, rc string) *hookShell {
	w.t.Helper()
	s := w.startShellNoPrompt(shell, dir, rc)
	s.expect(outerPrompt)
	return s
}

// startShellNoPrompt is startShell for a shell that may not show the
// outer prompt first.
func (w *hookWorld) startShellNoPrompt(shell, dir, rc string) *hookShell {
	w.t.Helper()
	prog, err := exec.LookPath(shell)
	if err != nil {
		w.t.Skipf("%s is not installed", shell)
	}
	env := append(append([]string(nil), w.env...), "SHELL="+prog)
	var args []string
	switch shell {
	case "bash":
		f := filepath.Join(w.base, "rc", "bashrc")
		w.write(f, rc, 0o644)
		args = []string{"--noprofile", "--rcfile", f, "-i"}
	case "zsh":
		w.write(filepath.Join(w.base, "rc", ".zshrc"), rc, 0o644)
		env = append(env, "ZDOTDIR="+filepath.Join(w.base, "rc"))
		args = []string{"-d", "-i"}
	case "fish":
		w.write(filepath.Join(w.home, ".config", "fish", "config.fish"), rc, 0o644)
		args = []string{"-i"}
	}
	return w.startPty(shell, dir, env, prog, args...)
}

// startPty starts prog on a new pseudo-terminal, as the world's user, in
// a session of its own.
func (w *hookWorld) startPty(name, dir string, env []string, prog string, args ...string) *hookShell {
	w.t.Helper()
	ptmx, tty, err := openHookPty()
	if err != nil {
		w.t.Fatal(err)
	}
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 220}); err != nil {
		w.t.Fatal(err)
	}
	if w.uid >= 0 {
		if err := os.Chown(tty.Name(), w.uid, w.uid); err != nil {
			w.t.Fatal(err)
		}
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = w.attr()
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		w.t.Fatal(err)
	}
	s := &hookShell{t: w.t, name: name, cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	go s.read()
	w.t.Cleanup(s.stop)
	return s
}

// openHookPty opens a pseudo-terminal whose master end goes through Go's
// poller, so that closing it ends a pending read.
func openHookPty() (ptmx, tty *os.File, err error) {
	p, t, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	fd, err := unix.Dup(int(p.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "ptmx"), t, nil
}

func (s *hookShell) read() {
	defer close(s.done)
	b := make([]byte, 4096)
	for {
		n, err := s.ptmx.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// stop hangs up the terminal, which sends SIGHUP to the shells on it, as
// closing a terminal window does.
func (s *hookShell) stop() {
	s.ptmx.Close()
	<-s.done
	exited := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(hookWait):
		s.cmd.Process.Kill()
		<-exited
	}
	if s.t.Failed() || os.Getenv("AICAGE_HOOK_SCREENS") != "" {
		s.t.Logf("%s screen:\n%s", s.name, s.output(0))
	}
}

// output is what the terminal received from offset on, without escapes.
func (s *hookShell) output(from int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cleanHookOutput(s.buf.String()[from:])
}

var hookEscapes = regexp.MustCompile(`\x1b\[[0-9;?>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?|\r`)

func cleanHookOutput(s string) string { return hookEscapes.ReplaceAllString(s, "") }

// send types a line.
func (s *hookShell) send(line string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(line + "\r")); err != nil {
		s.t.Fatalf("typing %q: %v", line, err)
	}
}

// expect waits until re matches the raw output after the last match, and
// returns the submatches; the next expect starts after it.
func (s *hookShell) expect(re *regexp.Regexp) []string {
	s.t.Helper()
	deadline := time.Now().Add(hookWait)
	for {
		s.mu.Lock()
		raw := s.buf.String()
		s.mu.Unlock()
		if loc := re.FindStringSubmatchIndex(raw[s.pos:]); loc != nil {
			m := make([]string, 0, len(loc)/2)
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					m = append(m, "")
					continue
				}
				m = append(m, raw[s.pos+loc[i]:s.pos+loc[i+1]])
			}
			s.pos += loc[1]
			return m
		}
		select {
		case <-s.done:
			s.t.Fatalf("%s exited while waiting for %q; screen:\n%s", s.name, re, s.output(0))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: no %q after %v; screen since the last step:\n%s", s.name, re, hookWait, s.output(s.pos))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mark returns the current offset, to look at what a step printed.
func (s *hookShell) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Len()
}

// where is the state a probe reports.
type where struct {
	caged bool
	pwd   string
}

// probe asks the shell at its prompt whether it is in a cage and where it
// is. The typed text cannot match the answer: it holds $AICAGE, the answer
// its value.
func (s *hookShell) probe() where {
	s.t.Helper()
	s.marks++
	s.send(fmt.Sprintf(`echo "PROBE-%d [$AICAGE] $PWD"`, s.marks))
	m := s.expect(regexp.MustCompile(fmt.Sprintf(`PROBE-%d \[(1?)\] ([^\r\n]*)\r?\n`, s.marks)))
	return where{caged: m[1] == "1", pwd: m[2]}
}

// at checks that a probe reports want.
func (s *hookShell) at(step string, want where) {
	s.t.Helper()
	if got := s.probe(); got != want {
		s.t.Errorf("%s: %s: caged=%v in %s, want caged=%v in %s", s.name, step, got.caged, got.pwd, want.caged, want.pwd)
	}
}

// readsCanary types a cat of the real home's secret (the path expanded
// outside, so that the cage's own $HOME does not matter) and reports
// whether the secret reached the terminal.
func (s *hookShell) readsCanary(w *hookWorld) bool {
	s.t.Helper()
	from := s.mark()
	s.marks++
	s.send(fmt.Sprintf("cat %s; echo CAT-%d''-done", filepath.Join(w.home, ".ssh", "id_canary"), s.marks))
	s.expect(regexp.MustCompile(fmt.Sprintf(`CAT-%d-done`, s.marks)))
	return strings.Contains(s.output(from), w.canary)
}

// cd types a cd and waits for the prompt of the shell it should land in.
func (s *hookShell) cd(dir string, caged bool) {
	s.t.Helper()
	s.do("cd "+hookQuote(dir), caged)
}

// do types a command line and waits for the prompt of the shell it should
// land in: the caged shell's or the user's.
func (s *hookShell) do(line string, caged bool) {
	s.t.Helper()
	s.send(line)
	if caged {
		s.expect(innerPrompt)
	} else {
		s.expect(outerPrompt)
	}
}

// hookQuote quotes a test path for any of the three shells: the paths the
// tests type have no single quote.
func hookQuote(s string) string {
	if strings.ContainsAny(s, `'\`) {
		panic("hookQuote: " + s)
	}
	return "'" + s + "'"
}

// hookRC is the rc text that installs the hook of the binary bin.
func hookRC(shell, bin string) string {
	q := hookQuoteFor(shell, bin)
	switch shell {
	case "bash":
		return "PS1='OUTER$ '\neval \"$(" + q + " hook bash)\"\n"
	case "zsh":
		return "PS1='OUTER%# '\neval \"$(" + q + " hook zsh)\"\n"
	default:
		return "set -g fish_greeting\nfunction fish_prompt; printf 'OUTER> '; end\n" + q + " hook fish | source\n"
	}
}

// hookQuoteFor quotes any string for shell, independently of package
// hooks (the tests must not trust the code they test).
func hookQuoteFor(shell, s string) string {
	if shell == "fish" {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
