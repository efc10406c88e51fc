package project

import (
	"github.com/aicage/aicage/cage"
)

// Merging: lists are unioned, never replaced, in layer order (the profile
// chain base first, then the config's top level, then the command); an
// entry already present keeps its first source. Scalars (udp, ssh.agent,
// exec.system, lifecycle) are overridden by the last layer that writes them.

// written is one list entry as written, with its source and place.
type written struct {
	value  string
	source string
	at     loc
}

type pathGrant struct {
	written
	access cage.Access
}

type portGrant struct {
	port   int
	source string
	at     loc
}

type setVar struct {
	name, value, source string
}

type scalar[T any] struct {
	value  T
	source string
}

type merged struct {
	paths         []pathGrant
	dangerous     []written
	copy, link    []written
	connect, bind []portGrant
	hosts, unix   []written
	domains       []written
	egress        scalar[string]
	udp           scalar[string]
	hardlinks     scalar[string]
	sshAgent      scalar[bool]
	execSystem    scalar[bool]
	packages      []written
	pass, files   []written
	set           []setVar
	protect       []written
	onCreate      scalar[string]
	onEnter       scalar[string]
}

// defaults hold when no layer says otherwise.
func defaults() *merged {
	return &merged{
		udp:        scalar[string]{"deny", "default"},
		hardlinks:  scalar[string]{"refuse", "default"},
		execSystem: scalar[bool]{true, "default"},
		sshAgent:   scalar[bool]{false, "default"},
	}
}

func merge(layers []layer) *merged {
	m := defaults()
	for _, l := range layers {
		m.add(l)
	}
	return m
}

func (m *merged) add(l layer) {
	s := l.s
	fs := s.Filesystem
	for _, g := range []struct {
		key    string
		list   []string
		access cage.Access
	}{{"ro", fs.RO, cage.RO}, {"rox", fs.ROX, cage.ROX}, {"rw", fs.RW, cage.RW}, {"rwx", fs.RWX, cage.RWX}} {
		for i, p := range g.list {
			w := written{p, l.source, l.w.at("filesystem", g.key, item(i))}
			if !hasPath(m.paths, p, g.access) {
				m.paths = append(m.paths, pathGrant{w, g.access})
			}
		}
	}
	m.dangerous = union(m.dangerous, l, fs.DangerouslyAllow, "filesystem", "dangerously_allow")
	m.copy = union(m.copy, l, s.Home.Copy, "home", "copy")
	m.link = union(m.link, l, s.Home.Link, "home", "link")
	m.connect = unionPorts(m.connect, l, s.Network.Connect, "connect")
	m.bind = unionPorts(m.bind, l, s.Network.Bind, "bind")
	m.hosts = union(m.hosts, l, s.Network.Hosts, "network", "hosts")
	m.unix = union(m.unix, l, s.Network.Unix, "network", "unix")
	m.domains = union(m.domains, l, s.Network.Domains, "network", "domains")
	override(&m.egress, s.Network.Egress, l.source)
	m.packages = union(m.packages, l, s.Exec.Packages, "exec", "packages")
	m.pass = union(m.pass, l, s.Env.Pass, "env", "pass")
	m.files = union(m.files, l, s.Env.Files, "env", "files")
	m.protect = union(m.protect, l, s.Protect.Paths, "protect", "paths")
	for _, k := range sortedKeys(s.Env.Set) {
		m.setEnv(k, s.Env.Set[k], l.source)
	}
	override(&m.udp, s.Network.UDP, l.source)
	override(&m.hardlinks, fs.Hardlinks, l.source)
	override(&m.sshAgent, s.SSH.Agent, l.source)
	override(&m.execSystem, s.Exec.System, l.source)
	override(&m.onCreate, s.Lifecycle.OnCreate, l.source)
	override(&m.onEnter, s.Lifecycle.OnEnter, l.source)
}

func override[T any](dst *scalar[T], v *T, source string) {
	if v != nil {
		*dst = scalar[T]{*v, source}
	}
}

func union(dst []written, l layer, list []string, key ...string) []written {
	for i, v := range list {
		if !hasWritten(dst, v) {
			dst = append(dst, written{v, l.source, l.w.at(append(key, item(i))...)})
		}
	}
	return dst
}

func unionPorts(dst []portGrant, l layer, ports []int, key string) []portGrant {
	for i, p := range ports {
		if !hasPort(dst, p) {
			dst = append(dst, portGrant{p, l.source, l.w.at("network", key, item(i))})
		}
	}
	return dst
}

// setEnv overrides a variable set by an earlier layer in place, so that
// the order stays stable and the last source is named.
func (m *merged) setEnv(name, value, source string) {
	for i := range m.set {
		if m.set[i].name == name {
			m.set[i] = setVar{name, value, source}
			return
		}
	}
	m.set = append(m.set, setVar{name, value, source})
}

func hasWritten(list []written, v string) bool {
	for _, w := range list {
		if w.value == v {
			return true
		}
	}
	return false
}

func hasPath(list []pathGrant, p string, a cage.Access) bool {
	for _, g := range list {
		if g.value == p && g.access == a {
			return true
		}
	}
	return false
}

func hasPort(list []portGrant, p int) bool {
	for _, g := range list {
		if g.port == p {
			return true
		}
	}
	return false
}
