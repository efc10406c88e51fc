package project

import (
	"path/filepath"
	"strconv"
	"strings"
)

// Grant is one thing a config asks for, as a person reads it: "rw
// ~/.cache/go-build", "connect 443", "pass ANTHROPIC_API_KEY". Two grants
// are the same when their Text is; Source only explains.
type Grant struct {
	Text   string
	Source string // "config", "profile aiAgent", "command claude", …
}

func (g Grant) String() string {
	if g.Source == "" || g.Source == "config" || strings.HasPrefix(g.Text, g.Source+": ") {
		return g.Text
	}
	return g.Text + " (" + g.Source + ")"
}

// Grants lists everything a config asks for, with its profile chain and
// every command, as the trust prompt shows it. It checks what Resolve
// checks except the env files' contents, which it names but does not read.
func Grants(cfg *Config, h Host) ([]Grant, error) {
	root := filepath.Dir(cfg.File)
	pl, err := newPlan(cfg, h, root, Options{})
	if err != nil {
		return nil, err
	}
	out := []Grant{{"profile " + pl.profile, "config"}}
	if cfg.Shell != "" {
		out = append(out, Grant{"shell " + cfg.Shell, "config"})
	}
	out = append(out, render(pl.m, "")...)
	for _, name := range sortedKeys(cfg.Credentials) {
		c := cfg.Credentials[name]
		out = append(out, Grant{"credential " + name + ": " + c.Source + " → " + c.Header + " to " + c.Upstream + " (the cage gets " + c.BaseURLEnv + " and a placeholder in " + c.KeyEnv + ")", "config"})
	}
	for _, name := range sortedKeys(cfg.Commands) {
		if _, err := newPlan(cfg, h, root, Options{Command: name}); err != nil {
			return nil, err
		}
		c := cfg.Commands[name]
		src := "command " + name
		prefix := "command " + name + ": "
		out = append(out, Grant{prefix + quoteArgv(c.Argv), src})
		l, _ := commandLayer(cfg, name)
		for _, g := range render(merge([]layer{l}), src) {
			out = append(out, Grant{prefix + g.Text, g.Source})
		}
	}
	return out, nil
}

// render lists merged grants; only, when set, keeps the scalars that this
// source set (a command's own overrides).
func render(m *merged, only string) []Grant {
	var out []Grant
	add := func(text, src string) { out = append(out, Grant{text, src}) }
	for _, p := range m.paths {
		add(string(p.access)+" "+p.value, p.source)
	}
	for _, d := range m.dangerous {
		add("dangerously allow "+d.value, d.source)
	}
	for _, c := range m.copy {
		add("copy "+c.value, c.source)
	}
	for _, l := range m.link {
		add("link "+l.value, l.source)
	}
	for _, p := range m.connect {
		add("connect "+strconv.Itoa(p.port), p.source)
	}
	for _, p := range m.bind {
		add("bind "+strconv.Itoa(p.port), p.source)
	}
	for _, h := range m.hosts {
		add("host "+h.value, h.source)
	}
	for _, u := range m.unix {
		add("unix socket "+u.value, u.source)
	}
	if m.egress.value == "proxy" && (only == "" || m.egress.source == only) {
		add("egress through the proxy only", m.egress.source)
	}
	for _, d := range m.domains {
		add("domain "+d.value, d.source)
	}
	agent := map[bool]string{true: "ssh agent", false: "no ssh agent"}[m.sshAgent.value]
	system := map[bool]string{true: "exec system", false: "no exec system"}[m.execSystem.value]
	for _, sc := range []struct {
		text, source string
		grants       bool
	}{
		{"udp " + m.udp.value, m.udp.source, m.udp.value != "deny"},
		{agent, m.sshAgent.source, m.sshAgent.value},
		{system, m.execSystem.source, m.execSystem.value},
	} {
		if only == "" && sc.grants || only != "" && sc.source == only {
			add(sc.text, sc.source)
		}
	}
	for _, p := range m.packages {
		add("package "+p.value, p.source)
	}
	for _, p := range m.pass {
		add("pass "+p.value, p.source)
	}
	for _, f := range m.files {
		add("env file "+f.value, f.source)
	}
	for _, s := range m.set {
		add("set "+s.name+"="+s.value, s.source)
	}
	for _, p := range m.protect {
		add("protect "+p.value, p.source)
	}
	for _, lc := range []struct {
		name string
		v    scalar[string]
	}{{"on_create", m.onCreate}, {"on_enter", m.onEnter}} {
		if lc.v.value != "" && (only == "" || lc.v.source == only) {
			add(lc.name+": "+lc.v.value, lc.v.source)
		}
	}
	return out
}

// DiffGrants compares the grants of the last trusted content with the new
// ones: what the config now asks for, and what it no longer asks for.
func DiffGrants(old, new []Grant) (added, removed []Grant) {
	has := func(list []Grant, text string) bool {
		for _, g := range list {
			if g.Text == text {
				return true
			}
		}
		return false
	}
	for _, g := range new {
		if !has(old, g.Text) {
			added = append(added, g)
		}
	}
	for _, g := range old {
		if !has(new, g.Text) {
			removed = append(removed, g)
		}
	}
	return added, removed
}

// quoteArgv renders an argv the way a shell user would type it.
func quoteArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`|&;<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}
