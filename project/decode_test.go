package project

import (
	"path/filepath"
	"strings"
	"testing"
)

// designExample is the .aicage.toml of DESIGN.md, which must decode.
const designExample = `profile = "aiAgent"
shell = "bash"

[filesystem]
ro  = ["~/.config/nvim"]
rox = []
rw  = ["~/.cache/go-build"]
rwx = []

[home]
copy = ["~/.gitconfig"]
link = ["~/.claude"]

[network]
connect = [443, 22]
bind    = []
udp     = "dns"

[env]
pass  = ["ANTHROPIC_API_KEY"]
set   = { EDITOR = "vi" }
files = [".aicage/env"]

[ssh]
agent = true

[exec]
packages = []
system = true

[protect]
paths = [".envrc"]

[lifecycle]
on_create = "npm ci"
on_enter  = ""

[commands.claude]
argv = ["claude"]
description = "Claude Code"

[profiles.strict]
extends = "offline"
[profiles.strict.network]
connect = [443]
`

func TestParseDesignExample(t *testing.T) {
	cfg, err := Parse("/p/.aicage.toml", []byte(designExample))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profile != "aiAgent" || cfg.Shell != "bash" || *cfg.Network.UDP != "dns" || cfg.Env.Set["EDITOR"] != "vi" {
		t.Errorf("decoded %+v", cfg)
	}
	if got := cfg.Commands["claude"].Argv; len(got) != 1 || got[0] != "claude" {
		t.Errorf("commands.claude.argv = %q", got)
	}
	if p := cfg.Profiles["strict"]; p.Extends != "offline" || p.Network.Connect[0] != 443 {
		t.Errorf("profiles.strict = %+v", p)
	}
}

// TestParseErrors: every decoding error names file:line:col, the key and
// what was expected.
func TestParseErrors(t *testing.T) {
	const f = "/p/.aicage.toml"
	tests := []struct {
		name string
		toml string
		want []string
		hint string
	}{
		{"malformed", "[network\nconnect = [1]\n", []string{f + ":1:9:", "expected ']'"}, ""},
		{"unknown key", "[network]\nconect = [443]\n", []string{f + ":2:1: network.conect:", `unknown key "conect"`, `did you mean "connect"?`}, "[network] takes: connect, bind, udp, hosts, unix, domains, egress"},
		{"unknown table", "[netwrk]\nconnect = [443]\n", []string{f + ":1:2: netwrk:", `did you mean "network"?`}, ""},
		{"unknown top-level key", "profil = \"offline\"\n", []string{f + ":1:1: profil:", `did you mean "profile"?`}, ""},
		{"key in the wrong section", "connect = [443]\n", []string{f + ":1:1: connect:", `unknown key "connect"`}, "connect belongs in [network]"},
		{"unknown key in inline table", "[commands.x]\nargv = [\"x\"]\nnetwork = { connect = [1], bnd = [2] }\n", []string{f + ":3:28: commands.x.network.bnd:", `did you mean "bind"?`}, ""},
		{"unknown key in command section", "[commands.x]\nargv = [\"x\"]\n[commands.x.filesystem]\nrww = []\n", []string{f + ":4:1: commands.x.filesystem.rww:", `did you mean "rw"?`}, ""},
		{"wrong type", "[network]\nconnect = \"443\"\n", []string{f + ":2:11: network.connect:", "expected a list of port numbers (1–65535), got a string"}, ""},
		{"wrong item type", "[network]\nconnect = [443, \"22\"]\n", []string{f + ":2:17: network.connect:", "expected a list of port numbers", "got a string"}, ""},
		{"wrong bool", "[ssh]\nagent = \"yes\"\n", []string{f + ":2:9: ssh.agent:", "expected true or false, got a string"}, ""},
		{"port out of range", "[network]\nconnect = [443, 70000]\n", []string{f + ":2:17: network.connect[1]:", "port 70000 is out of range, expected 1–65535"}, ""},
		{"port zero", "[network]\nbind = [0]\n", []string{f + ":2:9: network.bind[0]:", "port 0 is out of range"}, ""},
		{"host not an address", "[network]\nhosts = [\"127.0.0.1:5432\", \"db.local:5432\"]\n", []string{f + ":2:28: network.hosts[1]:", `"db.local" is not an IP address`}, `write an address or range with an optional port: "127.0.0.1:5432", "10.0.0.0/8:22", "[::1]:8080"`},
		{"host range with host bits", "[network]\nhosts = [\"10.0.0.1/8:22\"]\n", []string{f + ":2:10: network.hosts[0]:", "did you mean 10.0.0.0/8?"}, `write an address or range with an optional port: "127.0.0.1:5432", "10.0.0.0/8:22", "[::1]:8080"`},
		{"domain with a path", "[network]\ndomains = [\"http://x.com\"]\n", []string{f + ":2:12: network.domains[0]:", "is not a host name"}, `write a host name, "*." and a name, and an optional port: "api.anthropic.com", "*.github.com", "ghcr.io:443"`},
		{"egress mode", "[network]\negress = \"proxi\"\n", []string{f + ":2:10: network.egress:", `"proxi" is not an egress mode`, `did you mean "proxy"?`}, ""},
		{"unix relative", "[network]\nunix = [\"run/x.sock\"]\n", []string{f + ":2:9: network.unix[0]:", `"run/x.sock" is not an absolute path`}, "write an absolute path or one under ~; sockets inside the project are allowed already"},
		{"command port", "[commands.x]\nargv = [\"x\"]\n[commands.x.network]\nconnect = [99999]\n", []string{f + ":4:12: commands.x.network.connect[0]:", "out of range"}, ""},
		{"udp value", "[network]\nudp = \"dsn\"\n", []string{f + ":2:7: network.udp:", `"dsn" is not a UDP policy`, `did you mean "dns"?`}, ""},
		{"duplicate key", "profile = \"a\"\nprofile = \"b\"\n", []string{f + ":2:1: profile:", "already defined"}, ""},
		{"empty argv", "[commands.x]\nargv = []\n", []string{f + ":2:1: commands.x.argv:", "non-empty list"}, ""},
		{"command on_create", "[commands.x]\nargv = [\"x\"]\n[commands.x.lifecycle]\non_create = \"make\"\n", []string{f + ":4:13: commands.x.lifecycle.on_create:", "once per project"}, ""},
		{"env name", "[env]\npass = [\"A-B\"]\n", []string{f + ":2:9: env.pass[0]:", "not a variable name"}, ""},
		{"reserved env", "[env]\nset = { AICAGE = \"0\" }\n", []string{f + ":2:18: env.set.AICAGE:", "set by the cage itself"}, ""},
		{"tilde user", "[filesystem]\nro = [\"~bob/x\"]\n", []string{f + ":2:7: filesystem.ro[0]:", "not ~user"}, ""},
		{"other variable", "[filesystem]\nrw = [\"$HOME/.cache\"]\n", []string{f + ":2:7: filesystem.rw[0]:", "only $ORIG_HOME"}, "use ~ or $ORIG_HOME for your real home"},
		{"builtin redefined", "[profiles.aiAgent]\nextends = \"offline\"\n", []string{f + ":1:11: profiles.aiAgent:", "built in"}, ""},
		{"bad profile name", "[profiles.\"a/b\"]\n", []string{f, "not a valid profile name"}, ""},
		{"profile key", "[profiles.strict]\nextend = \"offline\"\n", []string{f + ":2:1: profiles.strict.extend:", `did you mean "extends"?`}, ""},
		{"command as a value", "[commands]\nx = 3\n", []string{f + ":2:5: commands.x:", "expected a table, got an integer"}, ""},
		{"NUL in argv", "[commands.x]\nargv = [\"a\\u0000b\"]\n", []string{f + ":2:9: commands.x.argv[0]:", "NUL"}, ""},
		{"udp wrong type", "[network]\nudp = 1\n", []string{f + ":2:7: network.udp:", `expected "deny", "dns" or "allow", got an integer`}, ""},
		{"hardlinks value", "[filesystem]\nhardlinks = \"brake\"\n", []string{f + ":2:13: filesystem.hardlinks:", `"brake" is not a hard-link policy`, `did you mean "break"?`}, ""},
		{"hardlinks wrong type", "[filesystem]\nhardlinks = false\n", []string{f + ":2:13: filesystem.hardlinks:", `expected "refuse", "break" or "allow", got a boolean`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(f, []byte(tt.toml))
			e := wantError(t, err, tt.want...)
			if tt.hint != "" && e.Hint != tt.hint {
				t.Errorf("hint = %q, want %q", e.Hint, tt.hint)
			}
		})
	}
}

// TestResolveErrors: errors that need the home, the profiles and the
// filesystem, still with file:line:col and the key.
func TestResolveErrors(t *testing.T) {
	h, proj := testHost(t)
	f := filepath.Join(proj, ConfigName)
	writeFile(t, filepath.Join(h.ProfilesDir(), "loop.toml"), "extends = \"strict\"\n")
	tests := []struct {
		name string
		toml string
		opts Options
		want []string
	}{
		{"unknown profile", "profile = \"aiagent\"\n", Options{}, []string{f + ":1:11: profile:", `unknown profile "aiagent"`, `did you mean "aiAgent"?`}},
		{"unknown --profile", "", Options{Profile: "nope"}, []string{"--profile:", `unknown profile "nope"`}},
		{"unknown extends", "profile = \"strict\"\n[profiles.strict]\nextends = \"ofline\"\n", Options{}, []string{f + ":3:11: profiles.strict.extends:", `did you mean "offline"?`}},
		{"extends cycle", "profile = \"a\"\n[profiles.a]\nextends = \"b\"\n[profiles.b]\nextends = \"a\"\n", Options{}, []string{f + ":5:11: profiles.b.extends:", "extends cycle: a → b → a"}},
		{"extends cycle through a user file", "profile = \"strict\"\n[profiles.strict]\nextends = \"loop\"\n", Options{}, []string{"loop.toml:1:11: extends:", "extends cycle: strict → loop → strict"}},
		{"rw home", "[filesystem]\nrw = [\"~\"]\n", Options{}, []string{f + ":2:7: filesystem.rw[0]:", "refusing to grant rw ~ (config)", "whole home"}},
		{"ro ssh", "[filesystem]\nro = [\"~/.ssh\"]\n", Options{}, []string{f + ":2:7: filesystem.ro[0]:", "refusing to grant ro ~/.ssh", "holds your keys"}},
		{"inside ssh", "[home]\ncopy = [\"~/.ssh/id_ed25519\"]\n", Options{}, []string{f + ":2:9: home.copy[0]:", "refusing to copy", "lies in ~/.ssh"}},
		{"contains home", "[filesystem]\nro = [\"" + filepath.Dir(h.Home) + "\"]\n", Options{}, []string{f + ":2:7:", "contains"}},
		{"root", "[filesystem]\nrox = [\"/\"]\n", Options{}, []string{f + ":2:8:", "whole filesystem", "refusing"}},
		{"rc file", "[home]\nlink = [\"~/.bashrc\"]\n", Options{}, []string{f + ":2:9: home.link[0]:", "refusing to link ~/.bashrc", "outside the cage"}},
		{"fish config", "[filesystem]\nrw = [\"~/.config\"]\n", Options{}, []string{"contains ~/.config/fish"}},
		{"trust store", "[filesystem]\nrw = [\"~/.local/share\"]\n", Options{}, []string{"contains ~/.local/share/aicage", "trust store"}},
		{"aicage config", "[filesystem]\nrw = [\"~/.config/aicage/profiles\"]\n", Options{}, []string{"lies in ~/.config/aicage"}},
		{"gitconfig write", "[filesystem]\nrw = [\"~/.gitconfig\"]\n", Options{}, []string{"can make git run programs"}},
		{"trust store even when dangerously allowed", "[filesystem]\nro = [\"~/.local/share/aicage\"]\ndangerously_allow = [\"~/.local/share/aicage\"]\n", Options{}, []string{f + ":3:22: filesystem.dangerously_allow[0]:", "holds aicage's trust store, which aicage never grants"}},
		{"command grant", "[commands.x]\nargv = [\"x\"]\n[commands.x.filesystem]\nro = [\"~/.gnupg\"]\n", Options{Command: "x"}, []string{f + ":4:7: commands.x.filesystem.ro[0]:", "(command x)"}},
		{"env file outside", "[env]\nfiles = [\"../secrets.env\"]\n", Options{}, []string{f + ":2:10: env.files[0]:", "outside the project"}},
		{"missing env file", "[env]\nfiles = [\".aicage/env\"]\n", Options{}, []string{f + ":2:10: env.files[0]:", "env file .aicage/env: no such file"}},
		{"unknown command", "[commands.claude]\nargv = [\"claude\"]\n", Options{Command: "cluade"}, []string{`no command "cluade"`, `did you mean "claude"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, h, proj, tt.toml, tt.opts)
			wantError(t, err, tt.want...)
		})
	}
}

func TestUnknownCommandListsAvailable(t *testing.T) {
	h, proj := testHost(t)
	_, err := load(t, h, proj, "[commands.b]\nargv = [\"b\"]\n[commands.a]\nargv = [\"a\"]\n", Options{Command: "zzz"})
	e := wantError(t, err, `no command "zzz"`)
	if e.Hint != "commands here: a, b" {
		t.Errorf("hint = %q", e.Hint)
	}
}

func TestUnknownProfileHintListsProfiles(t *testing.T) {
	h, proj := testHost(t)
	writeFile(t, filepath.Join(h.ProfilesDir(), "team.toml"), "")
	_, err := load(t, h, proj, "profile = \"x\"\n[profiles.mine]\n", Options{})
	e := wantError(t, err, `unknown profile "x"`)
	if !strings.Contains(e.Hint, "offline, aiAgent, devNet, mine, team") {
		t.Errorf("hint = %q", e.Hint)
	}
}

func TestUserProfileErrorsNameItsFile(t *testing.T) {
	h, proj := testHost(t)
	p := filepath.Join(h.ProfilesDir(), "team.toml")
	writeFile(t, p, "extends = \"aiAgent\"\n[network]\nconnect = [8080, 123456]\n")
	_, err := load(t, h, proj, "profile = \"team\"\n", Options{})
	wantError(t, err, p+":3:18: network.connect[1]:", "port 123456 is out of range")

	writeFile(t, p, "[netwrok]\n")
	_, err = load(t, h, proj, "profile = \"team\"\n", Options{})
	wantError(t, err, p+":1:2: netwrok:", `did you mean "network"?`)

	writeFile(t, filepath.Join(h.ProfilesDir(), "offline.toml"), "")
	_, err = load(t, h, proj, "profile = \"offline\"\n", Options{})
	wantError(t, err, "offline.toml: profile offline is built in")
}

func TestRefusalsLiftedByDangerouslyAllow(t *testing.T) {
	h, proj := testHost(t)
	mkdir(t, filepath.Join(h.Home, ".ssh"))
	p, err := load(t, h, proj, "[filesystem]\nro = [\"~/.ssh\"]\ndangerously_allow = [\"~/.ssh\"]\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec.DangerouslyAllow; len(got) != 1 || got[0] != filepath.Join(h.Home, ".ssh") {
		t.Errorf("DangerouslyAllow = %q", got)
	}
	// An exact entry is needed: allowing ~/.ssh does not allow the home.
	_, err = load(t, h, proj, "[filesystem]\nro = [\"~\"]\ndangerously_allow = [\"~/.ssh\"]\n", Options{})
	wantError(t, err, "whole home")
}

func TestRefusalFollowsSymlinks(t *testing.T) {
	h, proj := testHost(t)
	mkdir(t, filepath.Join(h.Home, ".ssh"))
	link := filepath.Join(h.Home, "innocent")
	if err := symlink(filepath.Join(h.Home, ".ssh"), link); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, h, proj, "[filesystem]\nro = [\"~/innocent\"]\n", Options{})
	wantError(t, err, "refusing to grant ro ~/innocent", "it leads to ~/.ssh, which holds your keys")
}

func TestRootRefused(t *testing.T) {
	h, _ := testHost(t)
	_, err := load(t, h, h.Home, "", Options{})
	e := wantError(t, err, "cannot use ~ as the project root", "whole home")
	if !strings.Contains(e.Hint, "move .aicage.toml") {
		t.Errorf("hint = %q", e.Hint)
	}
}
