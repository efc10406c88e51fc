package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestDomainMatch(t *testing.T) {
	for _, tc := range []struct {
		entry, host string
		port        int
		want        bool
	}{
		{"api.anthropic.com", "api.anthropic.com", 443, true},
		{"api.anthropic.com", "API.Anthropic.com.", 443, true},
		{"api.anthropic.com", "api.anthropic.com", 80, true},
		{"api.anthropic.com", "api.anthropic.com", 8443, false},
		{"api.anthropic.com", "evil-api.anthropic.com", 443, false},
		{"api.anthropic.com", "api.anthropic.com.evil.example", 443, false},
		{"*.github.com", "api.github.com", 443, true},
		{"*.github.com", "a.b.github.com", 443, true},
		{"*.github.com", "github.com", 443, false},
		{"*.github.com", "evilgithub.com", 443, false},
		{"registry.npmjs.org:8443", "registry.npmjs.org", 8443, true},
		{"registry.npmjs.org:8443", "registry.npmjs.org", 443, false},
	} {
		d, err := ParseDomain(tc.entry)
		if err != nil {
			t.Fatalf("ParseDomain(%q): %v", tc.entry, err)
		}
		if got := d.Match(tc.host, tc.port); got != tc.want {
			t.Errorf("%q matches %s:%d = %v, want %v", tc.entry, tc.host, tc.port, got, tc.want)
		}
	}
	for _, bad := range []string{"", "*.", "a.*.com", "**.x.com", "x.com:0", "x.com:70000", "x y.com", "a..b", "http://x.com"} {
		if _, err := ParseDomain(bad); err == nil {
			t.Errorf("ParseDomain(%q): no error", bad)
		}
	}
}

// upstream is a loopback server on 127.0.0.2 that answers every request
// with its path, and counts connections.
type upstream struct {
	addr  netip.AddrPort
	mu    sync.Mutex
	conns int
}

func newUpstream(t *testing.T) *upstream {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	u := &upstream{addr: netip.MustParseAddrPort(ln.Addr().String())}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.mu.Lock()
				u.conns++
				u.mu.Unlock()
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conns
}

func testProxy(t *testing.T, u *upstream, refused *[]string) *Proxy {
	names := map[string]string{
		"api.test":      "127.0.0.2",
		"evil.test":     "127.0.0.2",
		"rebind.test":   "127.0.0.1",
		"metadata.test": "169.254.169.254",
	}
	var domains []Domain
	for _, e := range []string{"api.test:" + fmt.Sprint(u.addr.Port()), "rebind.test:" + fmt.Sprint(u.addr.Port()), "metadata.test"} {
		d, err := ParseDomain(e)
		if err != nil {
			t.Fatal(err)
		}
		domains = append(domains, d)
	}
	var mu sync.Mutex
	p, err := Start(Config{
		Domains: domains,
		Public:  func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.2") },
		Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
			if ip, ok := names[host]; ok {
				return []netip.Addr{netip.MustParseAddr(ip)}, nil
			}
			return nil, fmt.Errorf("no such host %s", host)
		},
		Refused: func(dest, rule string) {
			mu.Lock()
			*refused = append(*refused, dest+" "+rule)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// get fetches url through the proxy, tunnelling with CONNECT when tunnel.
func get(t *testing.T, proxyURL, target string, tunnel bool) (int, string) {
	t.Helper()
	pu, _ := url.Parse(proxyURL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	if tunnel {
		// Force CONNECT for plain http, as curl --proxytunnel does.
		c, err := net.Dial("tcp", pu.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tu, _ := url.Parse(target)
		auth := ""
		if pu.User != nil {
			pw, _ := pu.User.Password()
			auth = "Proxy-Authorization: Basic " + basic(pu.User.Username(), pw) + "\r\n"
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", tu.Host, tu.Host, auth)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", tu.Path, tu.Host)
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	resp, err := (&http.Client{Transport: tr}).Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basic(u, p string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestProxy(t *testing.T) {
	u := newUpstream(t)
	var refused []string
	p := testProxy(t, u, &refused)
	port := fmt.Sprint(u.addr.Port())
	for _, tc := range []struct {
		name, proxy, target string
		tunnel              bool
		code                int
		body                string
	}{
		{"forward allowed", p.URL(), "http://api.test:" + port + "/fwd", false, 200, "upstream saw /fwd"},
		{"tunnel allowed", p.URL(), "http://api.test:" + port + "/tun", true, 200, "upstream saw /tun"},
		{"forward not listed", p.URL(), "http://evil.test:" + port + "/x", false, 403, "not in [network] domains"},
		{"tunnel not listed", p.URL(), "http://evil.test:" + port + "/x", true, 403, "not in [network] domains"},
		{"listed port only", p.URL(), "http://api.test:443/x", true, 403, "not in [network] domains"},
		{"rebinding to loopback", p.URL(), "http://rebind.test:" + port + "/x", true, 403, "resolves to 127.0.0.1"},
		{"metadata", p.URL(), "http://metadata.test/x", false, 403, "resolves to 169.254.169.254"},
		{"no credential", "http://" + p.Addr().String(), "http://api.test:" + port + "/x", true, 407, "holds its credential"},
		{"wrong credential", "http://aicage:wrong@" + p.Addr().String(), "http://api.test:" + port + "/x", false, 407, "holds its credential"},
	} {
		before := u.count()
		code, body := get(t, tc.proxy, tc.target, tc.tunnel)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.body)
		}
		if tc.code != 200 && u.count() != before {
			t.Errorf("%s: the upstream got a connection", tc.name)
		}
	}
	if len(refused) != 5 {
		t.Errorf("refusals: %q, want 5", refused)
	}
}
