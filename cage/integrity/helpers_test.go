//go:build linux

package integrity

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// within is how long a restore may take in these tests: the watcher acts in
// milliseconds; the margin is for loaded CI machines and -race.
const deadline = 2 * time.Second

// TestMain isolates git from the machine's configuration: its own HOME,
// global config, no system config, no pager from the environment.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "integrity-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	global := filepath.Join(home, "gitconfig")
	err = os.WriteFile(global, []byte("[user]\n\tname = Test\n\temail = test@example.com\n"+
		"[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"), 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": global,
		"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
		"TERM": "dumb", "LC_ALL": "C",
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PAGER", "PAGER",
		"GIT_SSH", "GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
}

// git runs git in dir and fails the test when it fails.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitTry(dir, args...)
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(out)
}

// gitTry runs git in dir and returns its output whatever happens.
func gitTry(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gitPTY runs git in dir with its output on a terminal, so that it starts
// its pager.
func gitPTY(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	// PAGER is what git falls back to when no core.pager is set; cat does
	// not wait for the terminal as less would.
	cmd.Env = append(os.Environ(), "PAGER=cat")
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("starting git on a pty: %v", err)
	}
	var out bytes.Buffer
	_, _ = io.Copy(&out, f) // ends with EIO when git and its pager are gone
	_ = cmd.Wait()
	f.Close()
	return out.String()
}

func writeFile(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", deadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// project is a git repository in a temporary directory, with a bare
// "origin" it tracks, a marker path that planted code would create, and
// evil.sh, a program that creates it.
type project struct {
	t      *testing.T
	base   string // temporary directory holding everything
	root   string // the project (a git repository)
	origin string // bare repository, remote "origin"
	store  string // integrity store
	marker string
	evil   string // a script that creates marker
	w      *Watcher

	mu     sync.Mutex
	events []Event
}

func newProject(t *testing.T) *project {
	t.Helper()
	needGit(t)
	base := t.TempDir()
	p := &project{
		t: t, base: base,
		root:   filepath.Join(base, "proj"),
		origin: filepath.Join(base, "origin.git"),
		store:  filepath.Join(base, "state", "aicage", "integrity", "proj"),
		marker: filepath.Join(base, "MARKER"),
		evil:   filepath.Join(base, "evil.sh"),
	}
	// As a pager or a clean filter it passes its input through; called with
	// arguments (ssh, upload-pack, fsmonitor) it fails at once rather than
	// wait for a protocol it does not speak.
	writeFile(t, p.evil, fmt.Sprintf("#!/bin/sh\ntouch %s\n[ $# -gt 0 ] && exit 1\nexec cat\n", p.marker), 0o755)
	git(t, base, "init", "-q", "--bare", p.origin)
	git(t, base, "init", "-q", p.root)
	writeFile(t, filepath.Join(p.root, "README"), "hello\n", 0o644)
	git(t, p.root, "add", "README")
	git(t, p.root, "commit", "-q", "-m", "first")
	git(t, p.root, "remote", "add", "origin", p.origin)
	git(t, p.root, "push", "-q", "-u", "origin", "main")
	return p
}

// evilHook is a hook body that creates the marker.
func (p *project) evilHook() string {
	return fmt.Sprintf("#!/bin/sh\ntouch %s\n", p.marker)
}

func (p *project) git(args ...string) string { p.t.Helper(); return git(p.t, p.root, args...) }

func (p *project) path(rel string) string { return filepath.Join(p.root, rel) }

// start takes the snapshot and starts watching, with extra [protect] paths.
// The periodic verification is off: what these tests see restored was
// restored on an inotify event, at once.
func (p *project) start(extra ...string) *Watcher {
	p.t.Helper()
	return p.startWith(options{watch: true}, extra...)
}

func (p *project) startWith(opt options, extra ...string) *Watcher {
	p.t.Helper()
	set, err := ProtectedSet(p.root, extra)
	if err != nil {
		p.t.Fatal(err)
	}
	w, err := start(p.store, set, p.onEvent, opt)
	if err != nil {
		p.t.Fatal(err)
	}
	p.w = w
	p.t.Cleanup(func() { w.Close() })
	return w
}

func (p *project) onEvent(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *project) reported() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// waitEvent waits until a restore of rel whose reason contains what has
// been reported, and returns it.
func (p *project) waitEvent(rel, what string) Event {
	p.t.Helper()
	var found Event
	waitFor(p.t, fmt.Sprintf("no restore of %s (%s) reported; got %v", rel, what, p.reported()), func() bool {
		for _, e := range p.reported() {
			if e.Rel == rel && strings.Contains(e.What, what) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// noMarker fails when planted code ran.
func (p *project) noMarker() {
	p.t.Helper()
	if exists(p.marker) {
		p.t.Fatalf("planted code ran: %s exists", p.marker)
	}
}

// runEverything runs what a user runs outside the cage after a session:
// git status (fsmonitor), git commit (hooks), git log on a terminal (pager).
func (p *project) runEverything() {
	p.t.Helper()
	_, _ = gitTry(p.root, "status")
	writeFile(p.t, p.path("README"), fmt.Sprintf("changed %d\n", time.Now().UnixNano()), 0o644)
	_, _ = gitTry(p.root, "add", "README")
	_, _ = gitTry(p.root, "commit", "-q", "-m", "after the session")
	gitPTY(p.t, p.root, "log", "-1")
}

// abandon ends a session the way a killed supervisor does: no final
// verification, no session log, the store still marked running.
func (w *Watcher) abandon() {
	w.closeOnce.Do(func() {
		w.stopLoop()
		w.release()
	})
}
