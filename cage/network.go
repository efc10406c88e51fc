package cage

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"

	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/proxy"
)

// network compiles [network]: Landlock's port rules, and what the connect
// broker allows.
func (c *compiler) network() {
	connect := append([]Port(nil), c.spec.Connect...)
	b := &broker.Policy{UDP: c.p.UDP, Unix: []broker.UnixRule{}, Hosts: []broker.HostRule{}, Connect: []int{}, Bind: []int{}}
	for _, h := range c.spec.Hosts {
		b.Hosts = append(b.Hosts, h)
		if h.Port != 0 {
			// Landlock knows ports only; the broker narrows this one to
			// the listed addresses.
			connect = append(connect, Port{Port: h.Port, Source: "[network] hosts (" + h.Source + ")"})
		}
	}
	c.p.Connect = mergePorts(connect)
	c.p.Bind = mergePorts(c.spec.Bind)
	for _, p := range c.p.Connect {
		b.Connect = append(b.Connect, p.Port)
	}
	for _, p := range c.p.Bind {
		b.Bind = append(b.Bind, p.Port)
	}
	for _, d := range []struct{ path, source string }{
		{c.p.Root, "the project"}, {c.p.Home, "the private home"}, {c.p.TmpDir, "the private tmp"},
	} {
		b.Unix = append(b.Unix, broker.UnixRule{Path: c.real(d.path), Kind: broker.Beneath, Source: d.source})
	}
	if sock := getenv(c.host.Env, "SSH_AUTH_SOCK"); c.spec.SSHAgent && strings.HasPrefix(sock, "/") {
		b.Unix = append(b.Unix, broker.UnixRule{Path: c.real(sock), Kind: broker.Exact, Source: "[ssh] agent"})
	}
	for _, u := range c.spec.Unix {
		kind := broker.Exact
		path := u.Path
		if strings.ContainsAny(path, "*?[") {
			kind = broker.Glob
		} else {
			path = c.real(path)
		}
		b.Unix = append(b.Unix, broker.UnixRule{Path: path, Kind: kind, Source: u.Source})
	}
	b.Resolvers = c.resolvers()
	c.p.Credentials = append([]Credential(nil), c.spec.Credentials...)
	if c.spec.Egress == "proxy" {
		b.Egress = "proxy"
		c.p.Egress = &Egress{Domains: append([]proxy.Domain{}, c.spec.Domains...)}
	}
	c.p.Broker = b
}

// real is path with its symlinks resolved where it exists: the broker
// judges the real paths of sockets.
func (c *compiler) real(path string) string {
	if r, err := c.host.FS.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// resolvers reads the nameservers of the resolver configuration; without
// any, glibc and Go ask 127.0.0.1 and ::1.
func (c *compiler) resolvers() []netip.Addr {
	file := c.host.ResolvConf
	if file == "" {
		file = "/etc/resolv.conf"
	}
	out := []netip.Addr{}
	b, _ := c.host.FS.ReadHead(file, 64<<10)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(strings.SplitN(f[1], "%", 2)[0]); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	if len(out) == 0 {
		out = append(out, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
	}
	return out
}
