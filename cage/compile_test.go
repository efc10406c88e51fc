package cage

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testHost is a machine with a user "u", a project under their home, an npm
// global install, nvm, and the usual secrets in /etc.
func testHost() Host {
	f := fakeFS{
		"/usr/bin/env":                          "ELF",
		"/usr/bin/git":                          "ELF",
		"/usr/lib/x":                            "",
		"/bin":                                  "->usr/bin",
		"/lib":                                  "->usr/lib",
		"/etc/passwd":                           "",
		"/etc/shadow":                           "",
		"/etc/gshadow":                          "",
		"/etc/sudoers.d/u":                      "",
		"/etc/resolv.conf":                      "->/run/systemd/resolve/stub-resolv.conf",
		"/run/systemd/resolve/stub-resolv.conf": "",
		"/etc/ssh/ssh_config":                   "",
		"/etc/ssh/ssh_host_ed25519_key":         "",
		"/etc/ssh/ssh_host_ed25519_key.pub":     "",
		"/etc/ssl/certs/ca.pem":                 "",
		"/etc/ssl/private/server.key":           "",
		"/proc/self":                            "dir/",
		"/sys/kernel":                           "dir/",
		"/dev/null":                             "",
		"/dev/tty":                              "",
		"/dev/pts/0":                            "",
		"/dev/sda":                              "",
		"/tmp":                                  "dir/",
		"/home/u/.ssh/id_ed25519":               "",
		"/home/u/.gnupg/x":                      "",
		"/home/u/.bashrc":                       "",
		"/home/u/.cache/go-build":               "dir/",
		"/home/u/.gitconfig":                    "",
		"/home/u/.claude/settings.json":         "",
		"/home/u/src/p/.git/config":             "",
		"/home/u/src/p/sub":                     "dir/",
		"/home/u/.npm-global/bin/claude":        "->../lib/node_modules/@anthropic-ai/claude-code/cli.js",
		"/home/u/.npm-global/lib/node_modules/@anthropic-ai/claude-code/cli.js": "#!/usr/bin/env node\n",
		"/home/u/.npm-global/etc/npmrc":                                         "//registry/:_authToken=SECRET",
		"/home/u/.nvm/versions/node/v20.1.0/bin/node":                           "ELF",
		"/home/u/.nvm/versions/node/v20.1.0/lib/node_modules/npm/index.js":      "",
		"/home/u/.nvm/versions/node/v20.1.0/etc/npmrc":                          "//registry/:_authToken=SECRET",
		"/home/u/.pyenv/shims/python":                                           "#!/usr/bin/env bash\nexec pyenv exec python",
		"/home/u/.pyenv/libexec/pyenv":                                          "#!/usr/bin/env bash",
		"/home/u/.pyenv/versions/3.11/bin/python3":                              "ELF",
		"/home/u/.local/bin/tool":                                               "->../share/tool/versions/1.0",
		"/home/u/.local/share/tool/versions/1.0":                                "ELF",
		"/home/u/.local/share/keyrings/login.keyring":                           "",
		"/opt/aicage/aicage":                                                    "ELF",
	}
	return Host{
		Home: "/home/u",
		Env: []string{
			"PATH=/home/u/.npm-global/bin:/home/u/.nvm/versions/node/v20.1.0/bin:/home/u/.local/bin:/usr/bin:/bin",
			"TERM=xterm", "LANG=C.UTF-8", "LC_ALL=C", "USER=u",
			"AWS_SECRET_ACCESS_KEY=SECRET", "GITHUB_TOKEN=SECRET", "SSH_AUTH_SOCK=/tmp/agent.sock",
		},
		Self:      "/opt/aicage/aicage",
		ABI:       7,
		UID:       1000,
		DataDir:   "/home/u/.local/share/aicage",
		ConfigDir: "/home/u/.config/aicage",
		StateDir:  "/home/u/.local/state/aicage",
		FS:        f,
	}
}

func testSpec() Spec {
	return Spec{
		Root:       "/home/u/src/p",
		StateDir:   "/home/u/src/p/.aicage/state",
		Profile:    "aiAgent",
		Argv:       []string{"git", "status"},
		Cwd:        "/home/u/src/p/sub",
		UDP:        "dns",
		ExecSystem: true,
		Connect:    []Port{{443, "profile aiAgent"}, {22, "profile aiAgent"}, {443, "config"}},
	}
}

// TestCompileGolden pins the whole policy of a typical project.
func TestCompileGolden(t *testing.T) {
	spec := testSpec()
	spec.Paths = []PathEntry{
		{Path: "~/.cache/go-build", Access: RW, Source: "config"},
		{Path: "~/.gitconfig", Access: RO, Source: "config"},
		{Path: "~/does-not-exist", Access: RO, Source: "config"},
	}
	spec.HomeLink = []Entry{{Path: "~/.claude", Source: "config"}}
	spec.HomeCopy = []Entry{{Path: "~/.gitconfig", Source: "config"}}
	spec.Env = []EnvVar{{Name: "EDITOR", Value: "vi", Source: "config"}}
	spec.SSHAgent = true
	p, err := Compile(spec, testHost())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(p, "", "  ")
	golden := filepath.Join("testdata", "policy.golden.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, append(got, '\n'), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cage -run Golden -update)", err)
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("policy differs from %s (run with -update after checking):\n%s", golden, got)
	}
}

func ruleFor(p *Policy, path string) *Rule {
	for i := range p.Rules {
		if p.Rules[i].Path == path {
			return &p.Rules[i]
		}
	}
	return nil
}

func TestBaselineLeavesSecretsOut(t *testing.T) {
	p, err := Compile(testSpec(), testHost())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{
		"/etc/shadow", "/etc/gshadow", "/etc/sudoers.d", "/etc/ssh/ssh_host_ed25519_key",
		"/etc/ssl/private", "/etc/ssh", "/etc/ssl", "/home/u", "/home/u/.ssh", "/dev/sda", "/dev", "/run",
	} {
		if r := ruleFor(p, secret); r != nil {
			t.Errorf("%s is granted (%s), want not", secret, r.Access)
		}
	}
	for path, want := range map[string]Access{
		"/etc": LS, "/etc/passwd": RO, "/etc/ssh/ssh_config": RO, "/etc/ssh/ssh_host_ed25519_key.pub": RO,
		"/etc/ssl/certs": RO, "/run/systemd/resolve/stub-resolv.conf": RO,
		"/usr": ROX, "/usr/bin": ROX, "/home/u/src/p": RWX, "/home/u/src/p/.aicage/state/home": RWX,
		"/tmp": RW, "/proc": RO, "/dev/null": RW, "/opt/aicage/aicage": ROX,
	} {
		r := ruleFor(p, path)
		if r == nil || r.Access != want {
			t.Errorf("%s: got %+v, want %s", path, r, want)
		}
	}
	if r := ruleFor(p, "/dev/pts"); r == nil || !r.Dev {
		t.Errorf("/dev/pts: got %+v, want device ioctls", r)
	}
	if r := ruleFor(p, "/dev/null"); r == nil || r.Dev || r.Dir {
		t.Errorf("/dev/null: got %+v, want a file without device ioctls", r)
	}
}

func TestRefusedGrants(t *testing.T) {
	cases := []struct {
		path, access string
		allow        []string
		refused      bool
	}{
		{"~", "ro", nil, true},
		{"/", "ro", nil, true},
		{"/home", "ro", nil, true},
		{"~/.ssh", "ro", nil, true},
		{"~/.ssh/id_ed25519", "ro", nil, true},
		{"~/.gnupg", "rw", nil, true},
		{"~/.bashrc", "rw", nil, true},
		{"~/.local/share", "ro", nil, true},        // contains the trust store
		{"~/.local/share/aicage", "ro", nil, true}, // the trust store
		{"~/.local/share/aicage", "rw", []string{"~/.local/share/aicage"}, true},
		{"~/.local/state/aicage", "rw", []string{"~/.local/state/aicage"}, true},
		{"~/.ssh", "ro", []string{"~/.ssh"}, false},
		{"~/.bashrc", "ro", []string{"~/.bashrc"}, false},
		{"~/.cache/go-build", "rw", nil, false},
	}
	for _, tc := range cases {
		spec := testSpec()
		spec.Paths = []PathEntry{{Path: tc.path, Access: Access(tc.access), Source: "config"}}
		spec.DangerouslyAllow = tc.allow
		_, err := Compile(spec, testHost())
		var re *RefusedError
		if got := errors.As(err, &re); got != tc.refused {
			t.Errorf("%s %s (allow %v): refused=%v, want %v (err: %v)", tc.access, tc.path, tc.allow, got, tc.refused, err)
		}
	}
}

func TestRootThatDefeatsTheCage(t *testing.T) {
	for _, root := range []string{"/home/u", "/", "/home", "/home/u/.ssh"} {
		spec := testSpec()
		spec.Root, spec.Cwd = root, root
		_, err := Compile(spec, testHost())
		var re *RootError
		if !errors.As(err, &re) {
			t.Errorf("root %s: got %v, want a RootError", root, err)
		}
	}
}

func TestProgramUnderHome(t *testing.T) {
	spec := testSpec()
	spec.Argv = []string{"claude", "--help"}
	p, err := Compile(spec, testHost())
	if err != nil {
		t.Fatal(err)
	}
	if p.Argv[0] != "/home/u/.npm-global/bin/claude" {
		t.Errorf("argv[0] = %s", p.Argv[0])
	}
	pkg := "/home/u/.npm-global/lib/node_modules/@anthropic-ai/claude-code"
	if r := ruleFor(p, pkg); r == nil || r.Access != ROX {
		t.Errorf("package dir: got %+v, want rox", r)
	}
	for _, dir := range []string{"/home/u/.nvm/versions/node/v20.1.0/bin", "/home/u/.nvm/versions/node/v20.1.0/lib"} {
		if r := ruleFor(p, dir); r == nil || r.Access != ROX {
			t.Errorf("interpreter prefix %s: got %+v, want rox", dir, r)
		}
	}
	for _, r := range p.Rules {
		if within("/home/u/.nvm/versions/node/v20.1.0/etc", r.Path) || r.Path == "/home/u/.nvm/versions/node/v20.1.0" {
			t.Errorf("granted %s: the interpreter's etc/npmrc holds registry tokens", r.Path)
		}
	}
	for _, r := range p.Rules {
		if r.Path == "/home/u" || r.Path == "/home/u/.npm-global" || strings.HasPrefix(r.Path, "/home/u/.npm-global/etc") {
			t.Errorf("granted %s: more than the install prefix", r.Path)
		}
	}

	spec.Argv = []string{"python"}
	h := testHost()
	h.Env = append(h.Env, "PATH=/home/u/.pyenv/shims:/usr/bin")
	p, err = Compile(spec, h)
	if err != nil {
		t.Fatal(err)
	}
	if r := ruleFor(p, "/home/u/.pyenv/libexec"); r == nil || r.Access != ROX {
		t.Errorf("pyenv shim: got %+v, want the whole manager rox", r)
	}

	spec.Argv = []string{"tool"}
	p, err = Compile(spec, testHost())
	if err != nil {
		t.Fatal(err)
	}
	if r := ruleFor(p, "/home/u/.local/share/tool/versions"); r == nil || r.Access != ROX {
		t.Errorf("native install: got %+v, want its versions dir rox", r)
	}
	if r := ruleFor(p, "/home/u/.local/share"); r != nil {
		t.Errorf("granted ~/.local/share (keyrings live there)")
	}
}

func TestProgramNotFound(t *testing.T) {
	spec := testSpec()
	spec.Argv = []string{"no-such-program"}
	_, err := Compile(spec, testHost())
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want NotFoundError", err)
	}
}

func TestEnvironmentStartsEmpty(t *testing.T) {
	spec := testSpec()
	spec.Env = []EnvVar{{Name: "HOME", Value: "/home/u"}, {Name: "EDITOR", Value: "vi"}}
	p, err := Compile(spec, testHost())
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(p.Env, "\n")
	for _, bad := range []string{"SECRET", "SSH_AUTH_SOCK", "HOME=/home/u\n"} {
		if strings.Contains(env+"\n", bad) {
			t.Errorf("environment has %q:\n%s", bad, env)
		}
	}
	for _, want := range []string{"EDITOR=vi", "AICAGE=1", "AICAGE_ROOT=/home/u/src/p", "AICAGE_PROFILE=aiAgent",
		"HOME=/home/u/src/p/.aicage/state/home", "TMPDIR=/home/u/src/p/.aicage/state/tmp", "LC_ALL=C", "TERM=xterm"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if p.Dir != "/home/u/src/p/sub" {
		t.Errorf("dir = %s, want the cwd inside the project", p.Dir)
	}
}

func TestGrantsJoinAndPortsMerge(t *testing.T) {
	spec := testSpec()
	spec.Paths = []PathEntry{
		{Path: "~/.cache/go-build", Access: RO, Source: "profile x"},
		{Path: "~/.cache/go-build", Access: RW, Source: "config"},
		{Path: "~/.cache/go-build", Access: ROX, Source: "command c"},
	}
	p, err := Compile(spec, testHost())
	if err != nil {
		t.Fatal(err)
	}
	r := ruleFor(p, "/home/u/.cache/go-build")
	if r == nil || r.Access != RWX || r.Source != "profile x, config, command c" {
		t.Errorf("got %+v", r)
	}
	if len(p.Connect) != 2 || p.Connect[0].Port != 22 || p.Connect[1].Source != "profile aiAgent, config" {
		t.Errorf("connect = %+v", p.Connect)
	}
}

// A link through /proc/self resolves to aicage's own /proc entry: the rule
// names /proc/self, the same at every entry.
func TestProcSelf(t *testing.T) {
	own := "/proc/" + strconv.Itoa(os.Getpid())
	for in, want := range map[string]string{
		own + "/mounts":  "/proc/self/mounts",
		own:              "/proc/self",
		own + "0/x":      own + "0/x",
		"/proc/1/mounts": "/proc/1/mounts",
		"/etc/passwd":    "/etc/passwd",
	} {
		if got := procSelf(in); got != want {
			t.Errorf("procSelf(%q) = %q, want %q", in, got, want)
		}
	}
}
