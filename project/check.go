package project

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/inject"
	"github.com/aicage/aicage/cage/proxy"
)

var egressModes = []string{"direct", "proxy"}

// Checks that need nothing but the decoded file: ports, udp values, names,
// the spelling of paths. Each error points at the value at fault.

// validName is what command and profile names may be,
// ^[A-Za-z0-9][A-Za-z0-9_.-]*$: they are typed on the command line and a
// profile name becomes a file name. (Hand-written: a regexp compiled at
// start-up costs every entry.)
func validName(s string) bool {
	for i, r := range s {
		ok := r < 0x80 && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return s != ""
}

// validEnvName is a portable environment variable name,
// ^[A-Za-z_][A-Za-z0-9_]*$.
func validEnvName(s string) bool {
	for i, r := range s {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return s != ""
}

// reservedEnv are set by the cage itself to mark it.
var reservedEnv = []string{"AICAGE", "AICAGE_ROOT", "AICAGE_PROFILE"}

// udpModes are the values of [network] udp, strictest first.
var udpModes = []string{"deny", "dns", "allow"}

// hardlinkModes are the values of [filesystem] hardlinks, strictest first.
var hardlinkModes = []string{"refuse", "break", "allow"}

// where locates values of one Sections in one file.
type where struct {
	file   string
	pos    *positions
	prefix []string // e.g. ["commands", "claude"]
}

func (w where) at(parts ...string) loc {
	path := append(append([]string(nil), w.prefix...), parts...)
	l := loc{file: w.file, key: dotted(path)}
	l.line, l.col = w.pos.at(path...)
	return l
}

func item(i int) string { return "#" + strconv.Itoa(i) }

func (c *Config) check() error {
	top := where{file: c.File, pos: c.pos}
	if err := checkSections(top, &c.Sections); err != nil {
		return err
	}
	for _, name := range sortedKeys(c.Commands) {
		cmd := c.Commands[name]
		w := where{file: c.File, pos: c.pos, prefix: []string{"commands", name}}
		if err := checkCommand(w, name, cmd); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.Credentials) {
		w := where{file: c.File, pos: c.pos, prefix: []string{"credentials", name}}
		if err := checkCredential(w, name, c.Credentials[name]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.Profiles) {
		w := where{file: c.File, pos: c.pos, prefix: []string{"profiles", name}}
		if !validName(name) {
			return w.at().errorf("", "%q is not a valid profile name, expected letters, digits, '.', '_' and '-'", name)
		}
		if isBuiltin(name) {
			return w.at().errorf("choose another name, and extend it with extends = \""+name+"\"", "profile %s is built in and cannot be redefined", name)
		}
		if err := checkSections(w, &c.Profiles[name].Sections); err != nil {
			return err
		}
	}
	return nil
}

func checkCredential(w where, name string, c *Credential) error {
	if !validName(name) {
		return w.at().errorf("", "%q is not a valid credential name, expected letters, digits, '.', '_' and '-'", name)
	}
	for _, req := range []struct{ key, value string }{
		{"source", c.Source}, {"upstream", c.Upstream}, {"header", c.Header}, {"base_url_env", c.BaseURLEnv}, {"key_env", c.KeyEnv},
	} {
		if req.value == "" {
			return w.at().errorf("see the claude template ('aicage init --template claude --force' in a scratch directory) for a complete one",
				"credential %s has no %s", name, req.key)
		}
	}
	if err := inject.CheckSource(c.Source); err != nil {
		return w.at("source").errorf(`"env:ANTHROPIC_API_KEY" reads your shell's variable, "file:~/.config/key" a file, "command:pass show anthropic" a command's output`, "%v", err)
	}
	if err := checkUpstream(c.Upstream); err != nil {
		return w.at("upstream").errorf("", "%v", err)
	}
	if _, _, err := inject.ParseHeader(c.Header); err != nil {
		return w.at("header").errorf("", "%v", err)
	}
	for _, e := range []struct{ key, value string }{{"base_url_env", c.BaseURLEnv}, {"key_env", c.KeyEnv}, {"upstream_env", c.UpstreamEnv}} {
		if e.value != "" {
			if err := checkEnvName(w.at(e.key), e.value); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkUpstream wants an https URL, or http to this machine (a local model
// server), with no query or fragment.
func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an upstream URL like https://api.anthropic.com", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
	default:
		return fmt.Errorf("%q: the key travels to the upstream, so it must be https (or http to this machine)", s)
	}
	return nil
}

func checkCommand(w where, name string, cmd *Command) error {
	if !validName(name) {
		return w.at().errorf("", "%q is not a valid command name, expected letters, digits, '.', '_' and '-'", name)
	}
	if len(cmd.Argv) == 0 || cmd.Argv[0] == "" {
		return w.at("argv").errorf(`for example argv = ["`+name+`"]`, "expected a non-empty list: the program and its arguments")
	}
	for i, a := range cmd.Argv {
		if strings.ContainsRune(a, 0) {
			return w.at("argv", item(i)).errorf("", "contains a NUL byte")
		}
	}
	if cmd.Lifecycle.OnCreate != nil {
		return w.at("lifecycle", "on_create").errorf("move it to the top-level [lifecycle]", "on_create runs once per project, not per command")
	}
	return checkSections(w, &cmd.Sections)
}

func checkSections(w where, s *Sections) error {
	for _, list := range []struct {
		key   string
		ports []int
	}{{"connect", s.Network.Connect}, {"bind", s.Network.Bind}} {
		for i, p := range list.ports {
			if p < 1 || p > 65535 {
				return w.at("network", list.key, item(i)).errorf("", "port %d is out of range, expected 1–65535", p)
			}
		}
	}
	for i, h := range s.Network.Hosts {
		if _, err := broker.ParseHost(h); err != nil {
			return w.at("network", "hosts", item(i)).errorf(`write an address or range with an optional port: "127.0.0.1:5432", "10.0.0.0/8:22", "[::1]:8080"`, "%v", err)
		}
	}
	for i, d := range s.Network.Domains {
		if _, err := proxy.ParseDomain(d); err != nil {
			return w.at("network", "domains", item(i)).errorf(`write a host name, "*." and a name, and an optional port: "api.anthropic.com", "*.github.com", "ghcr.io:443"`, "%v", err)
		}
	}
	if e := s.Network.Egress; e != nil && !contains(egressModes, *e) {
		return w.at("network", "egress").errorf("", "%q is not an egress mode, expected \"direct\" or \"proxy\"%s", *e, didYouMean(*e, egressModes))
	}
	for i, u := range s.Network.Unix {
		if !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "~") && !strings.HasPrefix(u, "$ORIG_HOME") {
			return w.at("network", "unix", item(i)).errorf("write an absolute path or one under ~; sockets inside the project are allowed already", "%q is not an absolute path", u)
		}
		if strings.ContainsRune(u, 0) {
			return w.at("network", "unix", item(i)).errorf("", "contains a NUL byte")
		}
	}
	if u := s.Network.UDP; u != nil && !contains(udpModes, *u) {
		return w.at("network", "udp").errorf("", "%q is not a UDP policy, expected \"deny\", \"dns\" or \"allow\"%s", *u, didYouMean(*u, udpModes))
	}
	if h := s.Filesystem.Hardlinks; h != nil && !contains(hardlinkModes, *h) {
		return w.at("filesystem", "hardlinks").errorf("", "%q is not a hard-link policy, expected \"refuse\", \"break\" or \"allow\"%s", *h, didYouMean(*h, hardlinkModes))
	}
	for i, n := range s.Env.Pass {
		if err := checkEnvName(w.at("env", "pass", item(i)), n); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(s.Env.Set) {
		if err := checkEnvName(w.at("env", "set", n), n); err != nil {
			return err
		}
		if strings.ContainsRune(s.Env.Set[n], 0) {
			return w.at("env", "set", n).errorf("", "the value contains a NUL byte")
		}
	}
	for i, p := range s.Exec.Packages {
		if strings.TrimSpace(p) == "" {
			return w.at("exec", "packages", item(i)).errorf("", "expected a Nix store path or installable, got an empty string")
		}
	}
	return checkPathSpelling(w, s)
}

func checkEnvName(l loc, n string) error {
	if !validEnvName(n) {
		return l.errorf("", "%q is not a variable name, expected letters, digits and '_'", n)
	}
	if contains(reservedEnv, n) {
		return l.errorf("", "%s is set by the cage itself", n)
	}
	return nil
}

// pathLists names every list of paths in a Sections, in display order.
func pathLists(s *Sections) []struct {
	key  []string
	list []string
} {
	return []struct {
		key  []string
		list []string
	}{
		{[]string{"filesystem", "ro"}, s.Filesystem.RO},
		{[]string{"filesystem", "rox"}, s.Filesystem.ROX},
		{[]string{"filesystem", "rw"}, s.Filesystem.RW},
		{[]string{"filesystem", "rwx"}, s.Filesystem.RWX},
		{[]string{"filesystem", "dangerously_allow"}, s.Filesystem.DangerouslyAllow},
		{[]string{"home", "copy"}, s.Home.Copy},
		{[]string{"home", "link"}, s.Home.Link},
		{[]string{"env", "files"}, s.Env.Files},
		{[]string{"protect", "paths"}, s.Protect.Paths},
	}
}

func checkPathSpelling(w where, s *Sections) error {
	for _, pl := range pathLists(s) {
		for i, p := range pl.list {
			l := w.at(append(pl.key, item(i))...)
			switch {
			case p == "":
				return l.errorf("", "expected a path, got an empty string")
			case strings.ContainsRune(p, 0):
				return l.errorf("", "%q contains a NUL byte", p)
			case strings.HasPrefix(p, "~") && p != "~" && !strings.HasPrefix(p, "~/"):
				return l.errorf("write ~/… for your own home", "%q: only ~ (your home) is expanded, not ~user", p)
			case strings.HasPrefix(p, "$") && !isOrigHome(p):
				return l.errorf("use ~ or $ORIG_HOME for your real home", "%q: only $ORIG_HOME is expanded in paths", p)
			}
		}
	}
	return nil
}

func isOrigHome(p string) bool {
	for _, v := range []string{"$ORIG_HOME", "${ORIG_HOME}"} {
		if p == v || strings.HasPrefix(p, v+"/") {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
