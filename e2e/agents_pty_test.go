package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/aicage/aicage/e2e/internal/mockmodel"
)

// ptyAgent is an agent driven on a terminal: 'aicage run NAME' with no
// arguments, a prompt typed, the tool call awaited, the quit key pressed.
type ptyAgent struct {
	agent
	// setup writes what the agent's first interactive start asks about
	// (onboarding, trust of the folder, the key) as answered, as it is on
	// a machine where the user ran it before.
	setup func(t *testing.T, w *agentWorld, mock *mockmodel.Server, proj string)
	quit  []string // what is typed to quit, in order
	args  []string // after 'aicage run NAME'
}

var ptyAgents = []ptyAgent{
	{agent: agents[0], setup: claudeInteractiveSetup, quit: []string{"\x03", "\x03"}},
	// codex's terminal UI talks to a background app-server by default,
	// whose socket under the private home it cannot reach in the cage (see
	// the README): --no-daemon keeps it in the process
	{agent: agents[1], setup: codexInteractiveSetup, quit: []string{"\x03", "\x03"}, args: []string{"--no-daemon"}},
}

func claudeInteractiveSetup(t *testing.T, w *agentWorld, _ *mockmodel.Server, proj string) {
	key := "aicage-injected-anthropic" // what the cage holds: the template injects the key
	w.write(t, ".claude.json", fmt.Sprintf(`{
  "hasCompletedOnboarding": true,
  "theme": "dark",
  "customApiKeyResponses": {"approved": [%q], "rejected": []},
  "projects": {%q: {"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true, "allowedTools": []}}
}
`, key[len(key)-20:], proj), 0o644)
	w.write(t, ".claude/settings.json", `{"permissions": {"allow": ["Bash"], "defaultMode": "acceptEdits"}}`+"\n", 0o644)
}

func codexInteractiveSetup(t *testing.T, w *agentWorld, m *mockmodel.Server, proj string) {
	codexConfig(t, w, m, fmt.Sprintf("approval_policy = \"never\"\nprojects = { %q = { trust_level = \"trusted\" } }\n", proj))
}

// ptyScenario: the agent on a pseudo-terminal, in TestRealAgents (which
// installs the agents once). The typed prompt makes the mock's tool call
// run in the cage; the quit key ends the agent; the terminal is left as it
// was (echo and canonical mode).
func (w *agentWorld) ptyScenario(t *testing.T, a ptyAgent) {
	mock := mockmodel.Start("")
	defer mock.Close()
	port := 0
	if a.direct {
		port = mockPort(mock)
	}
	proj := w.newProject(t, a.name+"-tty", a.name, agentConfig(a.name, port, false))
	if a.agent.setup != nil {
		a.agent.setup(t, w, mock)
	}
	a.setup(t, w, mock, proj)
	proof := "PROOF-tty-" + a.name
	mock.SetCommand(w.toolCommand(proj, proof))

	ptmx, tty, err := openHookPty()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	if w.uid >= 0 {
		os.Chown(tty.Name(), w.uid, w.uid)
	}
	cmd := exec.Command(filepath.Join(binDir, "aicage"), append([]string{"run", a.name}, a.args...)...)
	cmd.Dir, cmd.Env = proj, append(w.env(a.env(mock)...), "PWD="+proj)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = w.attr()
	cmd.SysProcAttr.Setctty = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	screen := &agentScreen{}
	go screen.copyFrom(ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	fail := func(format string, v ...any) {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-done
		t.Fatalf(format+"\nscreen:\n%s", append(v, screen.String())...)
	}
	// the agent is ready when its screen stops changing for a moment
	time.Sleep(500 * time.Millisecond)
	screen.settle(2*time.Second, 15*time.Second)
	type1 := func(s string) {
		if _, err := ptmx.Write([]byte(s)); err != nil {
			fail("typing %q: %v", s, err)
		}
	}
	type1(firstPrompt)
	// Enter once the prompt is drawn, and again while no request came:
	// on a loaded machine an Enter that arrives with the text is taken as
	// part of a paste; an Enter on an empty prompt does nothing
	screen.settle(700*time.Millisecond, 10*time.Second)
	for i := 0; i < 5 && !mockSaw(mock, "FIRST-SESSION-PROMPT"); i++ {
		type1("\r")
		for end := time.Now().Add(6 * time.Second); time.Now().Before(end) && !mockSaw(mock, "FIRST-SESSION-PROMPT"); {
			time.Sleep(100 * time.Millisecond)
		}
	}
	proofFile := filepath.Join(proj, "proof.txt")
	deadline := time.Now().Add(agentWait)
	for !mockSaw(mock, "TOOL-RAN") {
		if time.Now().After(deadline) {
			fail("the tool call did not run within %v (tool calls answered: %d)", agentWait, mock.ToolCalls())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b, err := os.ReadFile(proofFile); err != nil || strings.TrimSpace(string(b)) != proof {
		fail("no proof of the tool call in the project: %v %q", err, b)
	}
	screen.settle(time.Second, 10*time.Second)
	for _, k := range a.quit {
		type1(k)
		time.Sleep(400 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Logf("%s exited: %v", a.name, err)
		}
	case <-time.After(20 * time.Second):
		fail("%s did not exit on its quit key", a.name)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
		t.Errorf("the terminal was not restored: lflag %#x (echo %v, canonical %v)\nscreen:\n%s",
			tio.Lflag, tio.Lflag&unix.ECHO != 0, tio.Lflag&unix.ICANON != 0, screen.String())
	}
	w.checkContained(t, proj, mock, w.forbiddenHits.Load())
}

// agentScreen collects what the terminal shows.
type agentScreen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed time.Time
}

func (s *agentScreen) copyFrom(f *os.File) {
	b := make([]byte, 8192)
	for {
		n, err := f.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		if n > 0 {
			s.changed = time.Now()
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// settle waits until nothing was drawn for quiet, at most max.
func (s *agentScreen) settle(quiet, max time.Duration) {
	end := time.Now().Add(max)
	for time.Now().Before(end) {
		s.mu.Lock()
		c := s.changed
		s.mu.Unlock()
		if !c.IsZero() && time.Since(c) > quiet {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *agentScreen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := cleanHookOutput(s.buf.String())
	if len(out) > 6000 {
		out = "…" + out[len(out)-6000:]
	}
	return out
}
