package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/inject"
)

// startCredentials reads each credential's secret outside the cage, serves
// them from the supervisor's endpoint, lets the broker reach it, and gives
// the cage the endpoint and a placeholder instead of the key. A source that
// fails stops the start: the cage never runs with half its environment. A
// variable source that is not set leaves its credential out.
func startCredentials(pol *cage.Policy, host cage.Host) (stop func(), err error) {
	var creds []inject.Credential
	var used []cage.Credential
	for _, c := range pol.Credentials {
		secret, err := inject.Read(c.Source, host.Env, host.Home)
		if err != nil {
			return nil, fail(fmt.Errorf("credential %s: reading %s: %w", c.Name, c.Source, err),
				"fix the source in [credentials."+c.Name+"] of .aicage.toml, or unset it to run without the credential")
		}
		if secret == "" {
			continue
		}
		up, err := upstreamURL(c, host.Env)
		if err != nil {
			return nil, fail(fmt.Errorf("credential %s: %w", c.Name, err),
				"set $"+c.UpstreamEnv+" to an http(s) URL such as https://gateway.example.com, or unset it to use "+c.Upstream)
		}
		name, format, _ := inject.ParseHeader(c.Header) // checked at decoding
		creds = append(creds, inject.Credential{Name: c.Name, Secret: secret, Upstream: up, Header: name, Format: format})
		used = append(used, c)
	}
	if len(creds) == 0 {
		return func() {}, nil
	}
	if pol.Broker == nil {
		return nil, fail(fmt.Errorf("credentials need the connect broker, which is not running"), "run 'aicage doctor'")
	}
	resolve, err := testResolver()
	if err != nil {
		return nil, fail(err)
	}
	opt := inject.Options{}
	if resolve != nil {
		opt.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			h, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			as, err := resolve(ctx, h)
			if err != nil {
				return nil, err
			}
			n, _ := strconv.Atoi(p)
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(as[0].String(), strconv.Itoa(n)))
		}
	}
	e, err := inject.Start(creds, opt)
	if err != nil {
		return nil, fail(err)
	}
	pol.Broker.Supervisor = append(pol.Broker.Supervisor, e.Addr())
	var env []string
	for _, c := range used {
		env = append(env, c.BaseURLEnv+"="+e.BaseURL(c.Name), c.KeyEnv+"="+inject.Placeholder(c.Name))
	}
	pol.Env = setEnv(pol.Env, env)
	return e.Close, nil
}

// upstreamURL is the outside variable's URL when the user set one (a
// company gateway, a local model server), else the configured upstream.
func upstreamURL(c cage.Credential, env []string) (*url.URL, error) {
	raw, from := c.Upstream, "upstream"
	if c.UpstreamEnv != "" {
		if v := cage.Getenv(env, c.UpstreamEnv); v != "" {
			raw, from = v, "$"+c.UpstreamEnv
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s %q is not an http(s) URL", from, raw)
	}
	return u, nil
}

// credentialState is a credential as status shows it: where the key comes
// from and whether it would be injected now, never the key.
type credentialState struct {
	Name     string `json:"name"`
	Source   string `json:"source"`
	State    string `json:"state"`
	Header   string `json:"header"`
	Upstream string `json:"upstream"`
}

func credentialStates(creds []cage.Credential, inside bool) []credentialState {
	out := []credentialState{}
	for _, c := range creds {
		s := credentialState{Name: c.Name, Source: c.Source, Header: c.Header, Upstream: c.Upstream}
		switch name, isEnv := strings.CutPrefix(c.Source, inject.FromEnv); {
		case inside:
			s.State = "configured (" + c.Source + ")"
		case isEnv && os.Getenv(name) != "":
			s.State = "injected (from $" + name + ")"
		case isEnv:
			s.State = "not used: $" + name + " is not set"
		case strings.HasPrefix(c.Source, inject.FromFile):
			s.State = "injected (from " + strings.TrimPrefix(c.Source, inject.FromFile) + ")"
		default:
			s.State = "injected (from the command's output at entry)"
		}
		if c.UpstreamEnv != "" && !inside {
			if v := os.Getenv(c.UpstreamEnv); v != "" {
				s.Upstream = v + " (from $" + c.UpstreamEnv + ")"
			}
		}
		out = append(out, s)
	}
	return out
}
