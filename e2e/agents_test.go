package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestRealAgents runs the agents' own npm packages in real cages, each
// from its 'aicage init' template, against a mock model on loopback whose
// first answer is a shell tool call that writes a proof file in the
// project, reads a canary in the real home's ~/.ssh, appends to the real
// ~/.bashrc and connects to a loopback port the policy does not allow.
// Judged outside: the proof is there, the canary is in no file of the
// project and in no request the mock received (what the model saw),
// ~/.bashrc is unchanged, the port saw no connection. A control with
// ~/.ssh granted shows the canary does reach the mock, so the check can
// fail. A second session shows the agent's own state persisted in the
// private home. Claude and codex run once more on a terminal.
//
// The agents are installed with 'npm install -g --prefix' under the test's
// home, from a cache kept between runs (agentCacheEnv). Without npm or
// the registry the test skips, unless agentRequireEnv is set (CI).
func TestRealAgents(t *testing.T) {
	w := newAgentWorld(t)
	for _, a := range agents {
		t.Run(a.name, func(t *testing.T) {
			if a.scenario != nil {
				a.scenario(t, w, a)
				return
			}
			w.toolCallScenario(t, a)
		})
	}
	for _, a := range ptyAgents {
		t.Run(a.name+"-terminal", func(t *testing.T) { w.ptyScenario(t, a) })
	}
	t.Run("claude-through-proxy", w.proxyScenario)
}

// agentVersions pins what the suite verifies (the README's table).
var agentVersions = map[string]string{
	"@anthropic-ai/claude-code": "2.1.197",
	"@openai/codex":             "0.171.0",
	"@google/gemini-cli":        "0.61.0",
	"opencode-ai":               "1.18.33",
	"@github/copilot":           "1.0.102",
}

const (
	// agentCacheEnv names npm's cache directory for the agents; .ci/run
	// sets it to one outside the clone, reused between runs.
	agentCacheEnv = "AICAGE_E2E_AGENT_CACHE"
	// agentRequireEnv turns the skip into a failure (CI).
	agentRequireEnv = "AICAGE_E2E_REQUIRE_AGENTS"
	// agentWait bounds one agent session.
	agentWait = 90 * time.Second
)

// agentWorld is the user's machine: a real home with a secret in ~/.ssh,
// a ~/.bashrc, the agents under ~/.npm-global, and one project per agent.
type agentWorld struct {
	base, home, canary, bashrc string
	uid                        int // -1: the suite's own user
	path                       string
	forbidden                  net.Listener
	forbiddenHits              atomic.Int32
}

func newAgentWorld(t *testing.T) *agentWorld {
	base, err := os.MkdirTemp(workBase, "aicage-agents-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 8)
	rand.Read(nonce)
	w := &agentWorld{base: base, home: filepath.Join(base, "home"), uid: -1,
		canary: "CANARY-" + hex.EncodeToString(nonce), bashrc: "# the user's own bashrc\nexport PS1='$ '\n"}
	if os.Getuid() == 0 {
		// claude refuses its bypass flag as root, and root is not how
		// users run agents
		w.uid = nobody
	}
	for _, d := range []string{".ssh", ".config", ".local/share", ".local/state", ".cache"} {
		if err := os.MkdirAll(filepath.Join(w.home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.write(t, ".ssh/id_canary", w.canary+"\n", 0o600)
	w.write(t, ".bashrc", w.bashrc, 0o644)
	prefix := filepath.Join(w.home, ".npm-global")
	w.installAgents(t, prefix)
	w.path = filepath.Join(prefix, "bin") + ":" + binDir + ":/usr/local/bin:/usr/bin:/bin"
	w.chown(t, base)
	w.forbidden, err = net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.forbidden.Close() })
	go func() {
		for {
			c, err := w.forbidden.Accept()
			if err != nil {
				return
			}
			w.forbiddenHits.Add(1)
			c.Close()
		}
	}()
	return w
}

// installAgents installs the pinned packages the way users do, from the
// cache when it holds them; without npm or the registry it skips (or
// fails, under agentRequireEnv).
func (w *agentWorld) installAgents(t *testing.T, prefix string) {
	skip := func(format string, v ...any) {
		if os.Getenv(agentRequireEnv) != "" {
			t.Fatalf("the agents cannot be installed ("+agentRequireEnv+" is set): "+format, v...)
		}
		t.Skipf("skipping the real agents: "+format, v...)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skip("npm is not installed")
	}
	cache := os.Getenv(agentCacheEnv)
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			skip("no cache directory: set %s", agentCacheEnv)
		}
		cache = filepath.Join(dir, "aicage-e2e", "npm")
	}
	args := []string{"install", "-g", "--prefix", prefix, "--cache", cache, "--prefer-offline",
		"--no-audit", "--no-fund", "--loglevel=error"}
	for p, v := range agentVersions {
		args = append(args, p+"@"+v)
	}
	start := time.Now()
	cmd := exec.Command(npm, args...)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		skip("npm install failed (no registry?): %v: %s", err, npmError(out))
	}
	t.Logf("npm install -g --prefix ~/.npm-global (cache %s): %v", cache, time.Since(start).Round(time.Millisecond))
}

// npmError is the first line of npm's error output that says what failed.
func npmError(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		if strings.Contains(l, "error") && !strings.Contains(l, "A complete log") {
			return strings.TrimSpace(l)
		}
	}
	return lines[len(lines)-1]
}

func (w *agentWorld) write(t *testing.T, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(w.home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	w.chown(t, filepath.Dir(p))
}

// chown gives a tree to the agents' user.
func (w *agentWorld) chown(t *testing.T, root string) {
	t.Helper()
	if w.uid < 0 {
		return
	}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, w.uid, w.uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// env is the user's shell environment, plus extra.
func (w *agentWorld) env(extra ...string) []string {
	return append([]string{
		"HOME=" + w.home,
		"XDG_CONFIG_HOME=" + filepath.Join(w.home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(w.home, ".local/share"),
		"XDG_STATE_HOME=" + filepath.Join(w.home, ".local/state"),
		"XDG_CACHE_HOME=" + filepath.Join(w.home, ".cache"),
		"PATH=" + w.path,
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
		"GIT_CONFIG_NOSYSTEM=1",
	}, extra...)
}

func (w *agentWorld) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if w.uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(w.uid), Gid: uint32(w.uid)}
	}
	return a
}

// run runs a command as the user in dir, with no terminal, and returns
// its combined output; it fails the test on a non-zero exit.
func (w *agentWorld) run(t *testing.T, dir string, env []string, prog string, args ...string) string {
	t.Helper()
	out, err := w.runErr(dir, env, prog, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return out
}

func (w *agentWorld) runErr(dir string, env []string, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, append(env, "PWD="+dir), w.attr()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(agentWait):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return buf.String(), fmt.Errorf("no exit within %v", agentWait)
	}
}

// newProject makes a project for one agent: 'aicage init --template NAME',
// then agentConfig's additions, then 'aicage allow'.
func (w *agentWorld) newProject(t *testing.T, name, template, extra string) string {
	t.Helper()
	proj := filepath.Join(w.base, "work", name)
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	w.chown(t, filepath.Dir(proj))
	aicage := filepath.Join(binDir, "aicage")
	w.run(t, proj, w.env(), aicage, "init", "--template", template)
	f, err := os.OpenFile(filepath.Join(proj, ".aicage.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(extra)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	w.run(t, proj, w.env(), aicage, "allow")
	return proj
}

// agentConfig is everything the suite adds to a template: the mock's
// loopback address for the command that reaches it directly (codex's and
// opencode's own config names the mock's URL), and for the control, a
// grant of ~/.ssh. Every test config is built here, in one place.
func agentConfig(command string, mockPort int, grantSSH bool) string {
	var b strings.Builder
	if mockPort > 0 {
		fmt.Fprintf(&b, "\n# the mock model on loopback (added by the test)\n[commands.%s.network]\nconnect = [%d]\nhosts = [\"127.0.0.1:%d\"]\n", command, mockPort, mockPort)
	}
	if grantSSH {
		b.WriteString("\n# the control: ~/.ssh granted (added by the test)\n[filesystem]\nro = [\"~/.ssh\"]\ndangerously_allow = [\"~/.ssh\"]\n")
	}
	return b.String()
}
