package project

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aicage/aicage/cage"
)

func ports(ps []cage.Port) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d/%s", p.Port, p.Source))
	}
	return strings.Join(out, " ")
}

// TestMergeOrderAndSources: lists are unioned in layer order (profile chain
// base first, config, command), duplicates keep their first source, scalars
// are overridden by the last layer that writes them.
func TestMergeOrderAndSources(t *testing.T) {
	h, proj := testHost(t)
	writeFile(t, filepath.Join(h.ProfilesDir(), "team.toml"), `extends = "devNet"
[network]
connect = [9000, 443]
[filesystem]
ro = ["~/.config/team"]
`)
	const config = `profile = "strict"
[profiles.strict]
extends = "team"
[profiles.strict.network]
connect = [9001]
udp = "deny"
[network]
connect = [443, 5432]
[filesystem]
ro = ["~/.config/team", "~/.config/nvim"]
rw = ["~/.config/nvim"]
[env]
set = { A = "config", B = "config" }
[commands.claude]
argv = ["claude", "--verbose"]
[commands.claude.network]
connect = [7000, 22]
udp = "allow"
[commands.claude.env]
set = { B = "command" }
[commands.claude.ssh]
agent = false
`
	p, err := load(t, h, proj, config, Options{Command: "claude", Args: []string{"--resume"}})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Spec
	teamSrc := "profile team (from ~/.config/aicage/profiles/team.toml)"
	want := "443/profile aiAgent 22/profile aiAgent 80/profile devNet 3000/profile devNet 5000/profile devNet 8080/profile devNet " +
		"9000/" + teamSrc + " 9001/profile strict 5432/config 7000/command claude"
	if got := ports(s.Connect); got != want {
		t.Errorf("connect:\n got %s\nwant %s", got, want)
	}
	if got := ports(s.Bind); got != "3000/profile devNet 5000/profile devNet 8000/profile devNet 8080/profile devNet" {
		t.Errorf("bind: %s", got)
	}
	if s.UDP != "allow" || s.SSHAgent || !s.ExecSystem {
		t.Errorf("scalars: udp %q agent %v system %v", s.UDP, s.SSHAgent, s.ExecSystem)
	}
	wantPaths := []cage.PathEntry{
		{Path: filepath.Join(h.Home, ".config/team"), Access: cage.RO, Source: teamSrc},
		{Path: filepath.Join(h.Home, ".config/nvim"), Access: cage.RO, Source: "config"},
		{Path: filepath.Join(h.Home, ".config/nvim"), Access: cage.RW, Source: "config"},
	}
	if !reflect.DeepEqual(s.Paths, wantPaths) {
		t.Errorf("paths:\n got %+v\nwant %+v", s.Paths, wantPaths)
	}
	wantEnv := []cage.EnvVar{{Name: "A", Value: "config", Source: "config"}, {Name: "B", Value: "command", Source: "command claude"}}
	if !reflect.DeepEqual(s.Env, wantEnv) {
		t.Errorf("env: %+v", s.Env)
	}
	if !reflect.DeepEqual(s.Argv, []string{"claude", "--verbose", "--resume"}) {
		t.Errorf("argv: %q", s.Argv)
	}
	if !reflect.DeepEqual(p.Chain, []string{"strict", "team", "devNet", "aiAgent"}) {
		t.Errorf("chain: %q", p.Chain)
	}
	if s.Profile != "strict" || s.Root != proj || s.StateDir != filepath.Join(proj, ".aicage/state") || s.Cwd != proj {
		t.Errorf("spec: %+v", s)
	}
	if p.ConfigPath != filepath.Join(proj, ConfigName) || p.Command != "claude" {
		t.Errorf("project: %+v", p)
	}
}

func TestBuiltinProfiles(t *testing.T) {
	h, proj := testHost(t)
	tests := []struct {
		profile       string
		connect, bind string
		udp           string
		agent         bool
	}{
		{"offline", "", "", "deny", false},
		{"aiAgent", "443/profile aiAgent 22/profile aiAgent", "", "dns", true},
		{"devNet", "443/profile aiAgent 22/profile aiAgent 80/profile devNet 3000/profile devNet 5000/profile devNet 8080/profile devNet",
			"3000/profile devNet 5000/profile devNet 8000/profile devNet 8080/profile devNet", "dns", true},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			p, err := load(t, h, proj, "profile = \""+tt.profile+"\"\n", Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := p.Spec
			if ports(s.Connect) != tt.connect || ports(s.Bind) != tt.bind || s.UDP != tt.udp || s.SSHAgent != tt.agent {
				t.Errorf("got connect %q bind %q udp %q agent %v", ports(s.Connect), ports(s.Bind), s.UDP, s.SSHAgent)
			}
		})
	}
}

func TestProfileOverride(t *testing.T) {
	h, proj := testHost(t)
	p, err := load(t, h, proj, "profile = \"devNet\"\n[network]\nconnect = [5432]\n", Options{Profile: "offline"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ports(p.Spec.Connect); got != "5432/config" || p.Spec.Profile != "offline" || p.Spec.UDP != "deny" {
		t.Errorf("connect %q profile %q udp %q", got, p.Spec.Profile, p.Spec.UDP)
	}
}

func TestDefaultProfileWithoutProfileKey(t *testing.T) {
	h, proj := testHost(t)
	p, err := load(t, h, proj, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Profile != DefaultProfile || p.Spec.UDP != "dns" {
		t.Errorf("profile %q udp %q", p.Spec.Profile, p.Spec.UDP)
	}
}

// TestEnvPrecedence: pass < files < set, emitted in that order; unset pass
// names are skipped; ${VAR} in an env file never reads aicage's environment.
func TestEnvPrecedence(t *testing.T) {
	h, proj := testHost(t, "TOKEN=outside", "SECRET=s3cr3t", "PATH=/bin")
	writeFile(t, filepath.Join(proj, ".aicage/env"), "TOKEN=file\nFROM_FILE=${SECRET}\nLOCAL=x\nEXP=${LOCAL}y\n")
	p, err := load(t, h, proj, `[env]
pass = ["TOKEN", "UNSET"]
files = [".aicage/env"]
set = { TOKEN = "set" }
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []cage.EnvVar{
		{Name: "TOKEN", Value: "outside", Source: "config"},
		{Name: "EXP", Value: "xy", Source: "file .aicage/env (config)"},
		{Name: "FROM_FILE", Value: "", Source: "file .aicage/env (config)"},
		{Name: "LOCAL", Value: "x", Source: "file .aicage/env (config)"},
		{Name: "TOKEN", Value: "file", Source: "file .aicage/env (config)"},
		{Name: "TOKEN", Value: "set", Source: "config"},
	}
	if !reflect.DeepEqual(p.Spec.Env, want) {
		t.Errorf("env:\n got %+v\nwant %+v", p.Spec.Env, want)
	}
}

func TestEnvFileSymlinkOutOfProject(t *testing.T) {
	h, proj := testHost(t)
	writeFile(t, filepath.Join(h.Home, ".aws/credentials"), "AWS_SECRET=x\n")
	mkdir(t, filepath.Join(proj, ".aicage"))
	if err := symlink(filepath.Join(h.Home, ".aws/credentials"), filepath.Join(proj, ".aicage/env")); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, h, proj, "[env]\nfiles = [\".aicage/env\"]\n", Options{})
	wantError(t, err, "env.files[0]:", "leads outside the project")
}

func TestShellArgv(t *testing.T) {
	h, proj := testHost(t, "SHELL=/bin/zsh")
	p, err := load(t, h, proj, "", Options{Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Spec.Shell || !reflect.DeepEqual(p.Spec.Argv, []string{"/bin/zsh"}) {
		t.Errorf("shell %v argv %q", p.Spec.Shell, p.Spec.Argv)
	}
	p, err = load(t, h, proj, "shell = \"bash\"\n", Options{Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Spec.Argv, []string{"bash"}) || p.Shell != "bash" {
		t.Errorf("argv %q", p.Spec.Argv)
	}
}

func TestRunAnyCommand(t *testing.T) {
	h, proj := testHost(t)
	p, err := load(t, h, proj, "", Options{Args: []string{"make", "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Spec.Argv, []string{"make", "test"}) {
		t.Errorf("argv %q", p.Spec.Argv)
	}
}

func TestResolveLifecycleAndExtras(t *testing.T) {
	h, proj := testHost(t)
	p, err := load(t, h, proj, `[lifecycle]
on_create = "npm ci"
on_enter = "echo hi"
[exec]
packages = ["nixpkgs#nodejs"]
system = false
[protect]
paths = [".envrc", "~/.claude/settings.json"]
[home]
copy = ["~/.gitconfig"]
link = ["~/.claude"]
[commands.b]
argv = ["b"]
description = "the b"
[commands.a]
argv = ["a", "x"]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.OnCreate != "npm ci" || p.OnEnter != "echo hi" || p.Spec.ExecSystem {
		t.Errorf("lifecycle %q %q system %v", p.OnCreate, p.OnEnter, p.Spec.ExecSystem)
	}
	if !reflect.DeepEqual(p.Packages, []cage.Entry{{Path: "nixpkgs#nodejs", Source: "config"}}) {
		t.Errorf("packages %+v", p.Packages)
	}
	wantProtect := []cage.Entry{{Path: filepath.Join(proj, ".envrc"), Source: "config"}, {Path: filepath.Join(h.Home, ".claude/settings.json"), Source: "config"}}
	if !reflect.DeepEqual(p.Spec.Protect, wantProtect) {
		t.Errorf("protect %+v", p.Spec.Protect)
	}
	if p.Spec.HomeCopy[0].Path != filepath.Join(h.Home, ".gitconfig") || p.Spec.HomeLink[0].Path != filepath.Join(h.Home, ".claude") {
		t.Errorf("home %+v %+v", p.Spec.HomeCopy, p.Spec.HomeLink)
	}
	want := []CommandInfo{{"a", []string{"a", "x"}, ""}, {"b", []string{"b"}, "the b"}}
	if !reflect.DeepEqual(p.Commands, want) {
		t.Errorf("commands %+v", p.Commands)
	}
}

func TestDefault(t *testing.T) {
	h, proj := testHost(t)
	mkdir(t, filepath.Join(proj, ".git"))
	sub := filepath.Join(proj, "pkg", "x")
	mkdir(t, sub)
	h.Cwd = sub
	p, err := Default(h, Options{Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Builtin() || p.Spec.Root != proj || p.Spec.Profile != "aiAgent" || p.Spec.Cwd != sub {
		t.Errorf("got %+v", p.Spec)
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(h.Home, ".local/state/aicage/projects/app-")) + `[0-9a-f]{12}$`).MatchString(p.Spec.StateDir) {
		t.Errorf("state dir %s", p.Spec.StateDir)
	}
	if got := ports(p.Spec.Connect); got != "443/profile aiAgent 22/profile aiAgent" {
		t.Errorf("connect %s", got)
	}
	// Another checkout with the same name gets another state dir.
	other := filepath.Join(h.Home, "other", "app")
	mkdir(t, other)
	h.Cwd = other
	q, err := Default(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Spec.Root != other || q.Spec.StateDir == p.Spec.StateDir {
		t.Errorf("root %s state %s", q.Spec.Root, q.Spec.StateDir)
	}
}

func TestDefaultRefusesHome(t *testing.T) {
	h, _ := testHost(t)
	h.Cwd = h.Home
	_, err := Default(h, Options{})
	e := wantError(t, err, "cannot use ~ as the project root")
	if e.Hint == "" {
		t.Error("no hint")
	}
	// A dotfiles repository in the home is not taken as the project.
	mkdir(t, filepath.Join(h.Home, ".git"))
	h.Cwd = filepath.Join(h.Home, "src", "app")
	p, err := Default(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Root != h.Cwd {
		t.Errorf("root %s, want %s", p.Spec.Root, h.Cwd)
	}
}

func TestDefaultNoCommands(t *testing.T) {
	h, _ := testHost(t)
	_, err := Default(h, Options{Command: "claude"})
	wantError(t, err, "no .aicage.toml here")
}

func TestDiscover(t *testing.T) {
	h, proj := testHost(t)
	writeFile(t, filepath.Join(proj, ConfigName), "profile = \"offline\"\n")
	deep := filepath.Join(proj, "a", "b")
	mkdir(t, deep)
	f, err := Discover(deep)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || f.Path != filepath.Join(proj, ConfigName) || f.Root != proj || string(f.Data) != "profile = \"offline\"\n" {
		t.Fatalf("got %+v", f)
	}
	f, err = Discover(h.Home)
	if err != nil || f != nil {
		t.Errorf("above the project: %+v %v", f, err)
	}
	if _, err := Discover("relative"); err == nil {
		t.Error("relative dir accepted")
	}
}

func TestReadFileLimits(t *testing.T) {
	_, proj := testHost(t)
	big := filepath.Join(proj, "big", ConfigName)
	writeFile(t, big, strings.Repeat("#", maxConfigSize+1))
	_, err := ReadFile(big)
	wantError(t, err, "larger than")

	target := filepath.Join(proj, "real.toml")
	writeFile(t, target, "")
	link := filepath.Join(proj, "link", ConfigName)
	mkdir(t, filepath.Dir(link))
	if err := symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(link)
	wantError(t, err, "symbolic link")

	dir := filepath.Join(proj, "dir", ConfigName)
	mkdir(t, dir)
	_, err = ReadFile(dir)
	wantError(t, err, "not a regular file")
}

func TestGitRoot(t *testing.T) {
	_, proj := testHost(t)
	writeFile(t, filepath.Join(proj, "wt", ".git"), "gitdir: /elsewhere\n")
	mkdir(t, filepath.Join(proj, "wt", "x"))
	if got := GitRoot(filepath.Join(proj, "wt", "x")); got != filepath.Join(proj, "wt") {
		t.Errorf("worktree: %q", got)
	}
	if got := GitRoot(proj); got != "" {
		t.Errorf("no git: %q", got)
	}
}

// TestHardlinksPolicy: "refuse" unless a layer says otherwise; a command's
// section overrides the config's.
func TestHardlinksPolicy(t *testing.T) {
	h, proj := testHost(t)
	for _, tt := range []struct {
		config string
		opts   Options
		want   string
	}{
		{"", Options{}, "refuse"},
		{"[filesystem]\nhardlinks = \"break\"\n", Options{}, "break"},
		{"[filesystem]\nhardlinks = \"break\"\n[commands.x]\nargv = [\"x\"]\n[commands.x.filesystem]\nhardlinks = \"allow\"\n", Options{Command: "x"}, "allow"},
	} {
		p, err := load(t, h, proj, tt.config, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hardlinks != tt.want {
			t.Errorf("%q: hardlinks %q, want %q", tt.config, p.Spec.Hardlinks, tt.want)
		}
	}
}
