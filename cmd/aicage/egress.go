package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/proxy"
)

// Test-only knobs of the egress proxy, so that the end-to-end tests can
// play the internet on loopback: a hosts file the proxy resolves names
// from, and addresses it takes for public. Both only widen what a test's
// own loopback servers may be, never what a real name resolves to.
const (
	testOnlyHostsEnv  = "AICAGE_TESTONLY_HOSTS"
	testOnlyPublicEnv = "AICAGE_TESTONLY_PUBLIC"
)

// startEgress starts the egress proxy for a policy in proxy mode, lets the
// broker reach it, and points the cage's environment at it. The proxy
// lives until stop.
func startEgress(pol *cage.Policy, host cage.Host, refused *refusals) (stop func(), err error) {
	if pol.Egress == nil {
		return func() {}, nil
	}
	if pol.Broker == nil {
		return nil, fail(errors.New(`egress = "proxy" needs the connect broker, which is not running`),
			"without the broker the cage could bypass the proxy; run 'aicage doctor'")
	}
	cfg := proxy.Config{
		Domains: pol.Egress.Domains,
		Allowed: func(ap netip.AddrPort) bool { return pol.Broker.Listed(false, ap) },
		Public:  publicAddr(),
		Refused: func(dest, rule string) {
			refused.add(broker.Refusal{Time: time.Now(), Op: "proxy", Dest: dest, Rule: rule})
		},
	}
	if cfg.Resolve, err = testResolver(); err != nil {
		return nil, fail(err)
	}
	p, err := proxy.Start(cfg)
	if err != nil {
		return nil, fail(err)
	}
	pol.Broker.Supervisor = append(pol.Broker.Supervisor, p.Addr())
	pol.Env = setEnv(pol.Env, proxyEnv(p.URL(), host.Self))
	return p.Close, nil
}

// testResolver resolves from the test-only hosts file; nil without one.
func testResolver() (func(context.Context, string) ([]netip.Addr, error), error) {
	f := os.Getenv(testOnlyHostsEnv)
	if f == "" {
		return nil, nil
	}
	names, err := readHosts(f)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, name string) ([]netip.Addr, error) {
		if a, ok := names[strings.ToLower(name)]; ok {
			return a, nil
		}
		return nil, fmt.Errorf("%s: no such host (%s)", name, testOnlyHostsEnv)
	}, nil
}

// publicAddr is what the proxy takes for a public address: what the broker
// does, plus the test-only addresses.
func publicAddr() func(netip.Addr) bool {
	extra := map[netip.Addr]bool{}
	for _, s := range strings.Split(os.Getenv(testOnlyPublicEnv), ",") {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			extra[a] = true
		}
	}
	return func(a netip.Addr) bool { return broker.NonPublic(a) == "" || extra[a.Unmap()] }
}

// readHosts reads an /etc/hosts-style file.
func readHosts(file string) (map[string][]netip.Addr, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]netip.Addr{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
		if len(fields) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an address", file, fields[0])
		}
		for _, name := range fields[1:] {
			out[strings.ToLower(name)] = append(out[strings.ToLower(name)], a)
		}
	}
	return out, sc.Err()
}

// proxyEnv points the clients that honour proxy variables at url: curl,
// git, pip, go, npm (npm_config_*), Node's fetch (NODE_USE_ENV_PROXY, Node
// 22.21 and 24+), and ssh for git through 'aicage connect'. The project's
// own loopback services ([network] hosts) go direct.
func proxyEnv(url, self string) []string {
	var env []string
	for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy",
		"npm_config_proxy", "npm_config_https_proxy", "AICAGE_PROXY"} {
		env = append(env, k+"="+url)
	}
	return append(env,
		"NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1",
		"NODE_USE_ENV_PROXY=1",
		"GIT_SSH_COMMAND=ssh -o ProxyCommand="+shellQuote(self+" connect %h %p"))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
