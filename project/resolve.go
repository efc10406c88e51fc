package project

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/proxy"
)

// Options are what the command line adds to a config.
type Options struct {
	Profile    string   // --profile NAME; "" keeps the config's
	Command    string   // run [commands.NAME]; "" for none
	Args       []string // appended to the command's argv; the whole argv when Command is ""
	Shell      bool     // an interactive shell (aicage shell)
	BestEffort bool     // --best-effort
}

// Project is a resolved configuration: the cage.Spec that Compile takes,
// and what only the command line needs.
type Project struct {
	Spec       cage.Spec
	ConfigPath string        // the .aicage.toml; "" when the built-in policy is used
	Chain      []string      // the profile and what it extends, most specific first
	Shell      string        // the program `aicage shell` starts
	OnCreate   string        // [lifecycle] on_create, "" for none: run in the cage when the state is made
	OnEnter    string        // [lifecycle] on_enter, "" for none: run in the cage at each entry
	Packages   []cage.Entry  // [exec] packages as written (Spec.Packages holds them for cage.ResolvePackages)
	Commands   []CommandInfo // [commands], sorted by name
	Command    string        // the command chosen with Options.Command
}

// Builtin reports whether no .aicage.toml is involved.
func (p *Project) Builtin() bool { return p.ConfigPath == "" }

// CommandInfo is one [commands.NAME].
type CommandInfo struct {
	Name        string
	Argv        []string
	Description string
}

// plan is a merged configuration before the environment is read.
type plan struct {
	root, stateDir string
	profile        string
	chain          []string
	m              *merged
	g              *guard
}

// Resolve merges a config with its profile chain and, when opts names one,
// a command, checks every grant, reads the env files and returns the Project.
func Resolve(cfg *Config, h Host, opts Options) (*Project, error) {
	root := filepath.Dir(cfg.File)
	pl, err := newPlan(cfg, h, root, opts)
	if err != nil {
		return nil, err
	}
	pl.stateDir = filepath.Join(root, ".aicage", "state")
	p, err := pl.project(h, opts)
	if err != nil {
		return nil, err
	}
	p.ConfigPath = cfg.File
	for _, name := range sortedKeys(cfg.Credentials) {
		c := cfg.Credentials[name]
		p.Spec.Credentials = append(p.Spec.Credentials, cage.Credential{
			Name: name, Source: c.Source, Upstream: c.Upstream, UpstreamEnv: c.UpstreamEnv,
			Header: c.Header, BaseURLEnv: c.BaseURLEnv, KeyEnv: c.KeyEnv,
		})
	}
	if opts.Command != "" {
		p.Spec.Argv = append(append([]string(nil), cfg.Commands[opts.Command].Argv...), opts.Args...)
		p.Command = opts.Command
	}
	if cfg.Shell != "" {
		p.Shell = cfg.Shell
	}
	if opts.Shell && len(p.Spec.Argv) == 0 {
		p.Spec.Argv = []string{p.Shell}
	}
	for _, name := range sortedKeys(cfg.Commands) {
		c := cfg.Commands[name]
		p.Commands = append(p.Commands, CommandInfo{name, c.Argv, c.Description})
	}
	return p, nil
}

// Default is the policy without a config: the built-in aiAgent profile (or
// opts.Profile) for the git top-level, or the cwd, with state kept under
// $XDG_STATE_HOME/aicage/projects/. It needs no trust.
func Default(h Host, opts Options) (*Project, error) {
	if opts.Command != "" {
		return nil, &Error{Msg: fmt.Sprintf("no %s here, so no command %q", ConfigName, opts.Command),
			Hint: "run 'aicage run -- CMD' for any command, or 'aicage init' to write a config"}
	}
	root := GitRoot(h.Cwd)
	g := newGuard(h, "", nil)
	if root == "" || g.checkRoot(root) != "" {
		root = filepath.Clean(h.Cwd)
	}
	pl, err := newPlan(nil, h, root, opts)
	if err != nil {
		return nil, err
	}
	pl.stateDir = DefaultStateDir(h, root)
	p, err := pl.project(h, opts)
	if err != nil {
		return nil, err
	}
	if opts.Shell && len(p.Spec.Argv) == 0 {
		p.Spec.Argv = []string{p.Shell}
	}
	return p, nil
}

var unreadable = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// DefaultStateDir is where a project without a config keeps its state:
// a readable name and a short hash of the root, so two checkouts called
// "app" do not share a private home.
func DefaultStateDir(h Host, root string) string {
	sum := sha256.Sum256([]byte(root))
	name := strings.Trim(unreadable().ReplaceAllString(filepath.Base(root), "_"), "._")
	if name == "" {
		name = "root"
	}
	return filepath.Join(h.StateHome, "aicage", "projects", name+"-"+hex.EncodeToString(sum[:])[:12])
}

// newPlan resolves the profile chain, merges the layers and checks every
// grant. cfg is nil without a config.
func newPlan(cfg *Config, h Host, root string, opts Options) (*plan, error) {
	name, ref := DefaultProfile, loc{key: "profile"}
	if cfg != nil {
		ref.file = cfg.File
		if cfg.Profile != "" {
			name, ref = cfg.Profile, where{file: cfg.File, pos: cfg.pos}.at("profile")
		}
	}
	if opts.Profile != "" {
		name, ref = opts.Profile, loc{key: "--profile"}
	}
	layers, err := chain(cfg, h, name, ref)
	if err != nil {
		return nil, err
	}
	pl := &plan{root: root, profile: name}
	for i := len(layers) - 1; i >= 0; i-- {
		pl.chain = append(pl.chain, strings.TrimPrefix(strings.SplitN(layers[i].source, " (", 2)[0], "profile "))
	}
	if cfg != nil {
		layers = append(layers, layer{source: "config", w: where{file: cfg.File, pos: cfg.pos}, s: &cfg.Sections})
		if opts.Command != "" {
			l, err := commandLayer(cfg, opts.Command)
			if err != nil {
				return nil, err
			}
			layers = append(layers, l)
		}
	}
	pl.m = merge(layers)
	pl.g = newGuard(h, root, pl.m.dangerous)
	if err := pl.check(cfg); err != nil {
		return nil, err
	}
	return pl, nil
}

func commandLayer(cfg *Config, name string) (layer, error) {
	c, ok := cfg.Commands[name]
	if !ok {
		names := sortedKeys(cfg.Commands)
		hint := "add a [commands." + name + "] table with argv = [...], or run 'aicage run -- " + name + "'"
		if len(names) > 0 {
			hint = "commands here: " + strings.Join(names, ", ")
		}
		return layer{}, &Error{File: cfg.File, Key: "commands", Msg: fmt.Sprintf("no command %q%s", name, didYouMean(name, names)), Hint: hint}
	}
	w := where{file: cfg.File, pos: cfg.pos, prefix: []string{"commands", name}}
	return layer{source: "command " + name, w: w, s: &c.Sections}, nil
}

// check refuses the root and every grant that would make the cage meaningless.
func (pl *plan) check(cfg *Config) error {
	h, g := pl.g.h, pl.g
	if why := g.checkRoot(pl.root); why != "" {
		e := &Error{Msg: fmt.Sprintf("cannot use %s as the project root: %s", tilde(pl.root, h.Home), why),
			Hint: "run aicage from a project directory, or create one with 'aicage init' there"}
		if cfg != nil {
			e.File, e.Hint = cfg.File, "move "+ConfigName+" into a project directory"
		}
		return e
	}
	for _, d := range pl.m.dangerous {
		if why := g.neverWhy(expand(d.value, h.Home, pl.root)); why != "" {
			return d.at.errorf("remove it", "cannot allow %s (%s): %s, which aicage never grants", d.value, d.source, why)
		}
	}
	for _, p := range pl.m.paths {
		write := p.access == cage.RW || p.access == cage.RWX
		if err := g.refuse(p.written, expand(p.value, h.Home, pl.root), write, "grant "+string(p.access)); err != nil {
			return err
		}
	}
	for _, c := range pl.m.copy {
		if err := g.refuse(c, expand(c.value, h.Home, pl.root), false, "copy"); err != nil {
			return err
		}
	}
	for _, l := range pl.m.link {
		if err := g.refuse(l, expand(l.value, h.Home, pl.root), true, "link"); err != nil {
			return err
		}
	}
	for _, f := range pl.m.files {
		if !lexicallyInside(expand(f.value, h.Home, pl.root), pl.root) {
			return f.at.errorf("use [env] pass for variables from your environment", "env file %s is outside the project; env files are read from the project root", f.value)
		}
	}
	return nil
}

// project builds the Spec and reads the environment.
func (pl *plan) project(h Host, opts Options) (*Project, error) {
	m := pl.m
	abs := func(p string) string { return expand(p, h.Home, pl.root) }
	s := cage.Spec{
		Root:       pl.root,
		StateDir:   pl.stateDir,
		Profile:    pl.profile,
		Argv:       append([]string(nil), opts.Args...),
		Cwd:        h.Cwd,
		Shell:      opts.Shell,
		UDP:        m.udp.value,
		Hardlinks:  m.hardlinks.value,
		SSHAgent:   m.sshAgent.value,
		ExecSystem: m.execSystem.value,
		BestEffort: opts.BestEffort,
	}
	for _, p := range m.paths {
		s.Paths = append(s.Paths, cage.PathEntry{Path: abs(p.value), Access: p.access, Source: p.source})
	}
	for _, d := range m.dangerous {
		s.DangerouslyAllow = append(s.DangerouslyAllow, abs(d.value))
	}
	s.HomeCopy = entries(m.copy, abs)
	s.HomeLink = entries(m.link, abs)
	s.Protect = entries(m.protect, abs)
	for _, p := range m.connect {
		s.Connect = append(s.Connect, cage.Port{Port: p.port, Source: p.source})
	}
	for _, p := range m.bind {
		s.Bind = append(s.Bind, cage.Port{Port: p.port, Source: p.source})
	}
	for _, h := range m.hosts {
		r, _ := broker.ParseHost(h.value) // checked at decoding
		r.Source = h.source
		s.Hosts = append(s.Hosts, r)
	}
	s.Unix = entries(m.unix, abs)
	for _, d := range m.domains {
		r, _ := proxy.ParseDomain(d.value) // checked at decoding
		r.Source = d.source
		s.Domains = append(s.Domains, r)
	}
	s.Egress = m.egress.value
	env, err := pl.env(h)
	if err != nil {
		return nil, err
	}
	s.Env = env
	for _, p := range m.packages { // resolved by cage.ResolvePackages, relative to Root
		s.Packages = append(s.Packages, cage.Package{Entry: p.value, Source: p.source})
	}
	shell := lookupEnv(h.Env, "SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	return &Project{
		Spec:     s,
		Chain:    pl.chain,
		Shell:    shell,
		OnCreate: m.onCreate.value,
		OnEnter:  m.onEnter.value,
		Packages: entries(m.packages, func(p string) string { return p }),
	}, nil
}

func entries(ws []written, conv func(string) string) []cage.Entry {
	var out []cage.Entry
	for _, w := range ws {
		out = append(out, cage.Entry{Path: conv(w.value), Source: w.source})
	}
	return out
}
