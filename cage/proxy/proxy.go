// Package proxy is the supervisor's egress proxy: the one way out of a cage
// whose [network] egress is "proxy". It speaks HTTP CONNECT (for TLS, and
// for ssh through `aicage connect`) and forwards plain HTTP, for the host
// names in [network] domains only. It resolves names itself and refuses a
// name that resolves into loopback, the LAN or link-local space (the cloud
// metadata service) unless [network] hosts lists the address: a name that
// an attacker points at 127.0.0.1 reaches nothing. Only the cage that holds
// the session's credential (in the proxy URL of its environment) can use it.
//
// # What it sees
//
// Host names and ports, never what TLS carries. An allowed host is allowed
// whole: an agent may still send what it reads to an allowed host (a gist on
// an allowed GitHub), or hide another host behind an allowed one (domain
// fronting, where a CDN routes by the encrypted Host header).
package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what the proxy allows and how it resolves.
type Config struct {
	Domains []Domain
	// Allowed judges a resolved address the way the connect broker judges
	// the cage's own connects ([network] hosts for non-public addresses);
	// nil refuses every non-public address.
	Allowed func(netip.AddrPort) bool
	// Public tells whether an address counts as public; nil means
	// broker-style classification (set by the caller).
	Public func(netip.Addr) bool
	// Resolve looks a name up; nil uses the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Refused, if set, is told of every refusal.
	Refused func(dest, rule string)
}

// Proxy serves one session on a loopback port.
type Proxy struct {
	cfg   Config
	ln    net.Listener
	user  string
	token string
	srv   *http.Server
	fwd   *httputil.ReverseProxy
	wg    sync.WaitGroup
}

// user is the name in the proxy URL; the token is the password.
const user = "aicage"

// dialTimeout bounds a connect to an upstream.
const dialTimeout = 30 * time.Second

// Start listens on 127.0.0.1 on a port the kernel picks.
func Start(cfg Config) (*Proxy, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the egress proxy: %w", err)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		ln.Close()
		return nil, err
	}
	p := &Proxy{cfg: cfg, ln: ln, user: user, token: hex.EncodeToString(b[:])}
	tr := &http.Transport{
		DialContext:         p.dial,
		Proxy:               nil,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	p.fwd = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL = r.In.URL
			r.Out.Host = r.In.Host
		},
		Transport:     tr,
		BufferPool:    bufferPool{},
		FlushInterval: -1, // server-sent events pass through as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.fail(w, err)
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.srv.Serve(ln)
	}()
	return p, nil
}

// Addr is where the proxy listens.
func (p *Proxy) Addr() netip.AddrPort {
	return netip.MustParseAddrPort(p.ln.Addr().String())
}

// URL is the proxy URL with the session's credential.
func (p *Proxy) URL() string {
	return "http://" + p.user + ":" + p.token + "@" + p.ln.Addr().String()
}

// Close stops the proxy and every tunnel through it.
func (p *Proxy) Close() {
	p.srv.Close()
	p.wg.Wait()
}

// refusal is a request the policy refuses.
type refusal struct{ dest, rule string }

func (r *refusal) Error() string { return "refused " + r.dest + " (" + r.rule + ")" }

func (p *Proxy) authorized(r *http.Request) bool {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.token))
	got := r.Header.Get("Proxy-Authorization")
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="aicage"`)
		http.Error(w, "aicage: this proxy serves one cage, which holds its credential", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "aicage: the proxy forwards http:// URLs and tunnels the rest with CONNECT", http.StatusBadRequest)
		return
	}
	host, port := splitHostPort(r.URL.Host, 80)
	if err := p.allow(host, port); err != nil {
		p.fail(w, err)
		return
	}
	p.fwd.ServeHTTP(w, r)
}

// connect tunnels to the host CONNECT names.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, port := splitHostPort(r.Host, 443)
	if err := p.allow(host, port); err != nil {
		p.fail(w, err)
		return
	}
	up, err := p.dial(r.Context(), "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		p.fail(w, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "aicage: cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		down.Close()
		return
	}
	splice(down, buf.Reader, up)
}

// splice copies both ways until either side is done.
func splice(down net.Conn, pending *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		if n := pending.Buffered(); n > 0 {
			b, _ := pending.Peek(n)
			up.Write(b)
		}
		io.Copy(up, down)
		closeWrite(up)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(down, up)
		closeWrite(down)
		done <- struct{}{}
	}()
	<-done
	<-done
	up.Close()
	down.Close()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// allow checks a destination against [network] domains.
func (p *Proxy) allow(host string, port int) error {
	for _, d := range p.cfg.Domains {
		if d.Match(host, port) {
			return nil
		}
	}
	return p.refuse(net.JoinHostPort(canonical(host), strconv.Itoa(port)), "not in [network] domains of .aicage.toml")
}

func (p *Proxy) refuse(dest, rule string) error {
	if p.cfg.Refused != nil {
		p.cfg.Refused(dest, rule)
	}
	return &refusal{dest, rule}
}

// dial resolves host itself and connects to the first address the policy
// allows: a public one, or one [network] hosts lists.
func (p *Proxy) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port := splitHostPort(hostport, 0)
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var refused netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		ap := netip.AddrPortFrom(a, uint16(port))
		if !p.public(a) && (p.cfg.Allowed == nil || !p.cfg.Allowed(ap)) {
			refused = a
			continue
		}
		d := net.Dialer{Timeout: dialTimeout}
		return d.DialContext(ctx, "tcp", ap.String())
	}
	if refused.IsValid() {
		return nil, p.refuse(net.JoinHostPort(canonical(host), strconv.Itoa(port)),
			fmt.Sprintf("resolves to %s, not a public address; list it in [network] hosts of .aicage.toml", refused))
	}
	return nil, fmt.Errorf("%s: no address", host)
}

func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if p.cfg.Resolve != nil {
		return p.cfg.Resolve(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func (p *Proxy) public(a netip.Addr) bool {
	if p.cfg.Public != nil {
		return p.cfg.Public(a)
	}
	return false
}

// fail answers a request that cannot go on: 403 for the policy, 502 else.
func (p *Proxy) fail(w http.ResponseWriter, err error) {
	var re *refusal
	if errors.As(err, &re) {
		http.Error(w, "aicage: "+re.Error(), http.StatusForbidden)
		return
	}
	http.Error(w, "aicage: "+err.Error(), http.StatusBadGateway)
}

// bufferPool lends the forwarding copies 256 KiB buffers: fewer, larger
// reads and writes than the default 32 KiB.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

func splitHostPort(s string, def int) (string, int) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return strings.Trim(s, "[]"), def
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return host, def
	}
	return host, n
}
