// Package inject keeps API keys out of the cage. For each credential the
// supervisor serves a local endpoint (http://127.0.0.1:PORT/TOKEN, TOKEN
// new each session) that the cage's base-URL variable points at; the key
// variable inside holds a placeholder worth nothing anywhere else. The
// endpoint forwards each request to the one configured upstream over TLS,
// with the real secret in the configured header, and streams the answer
// back with every trace of the secret replaced by the placeholder. The
// secret lives only in the supervisor's memory.
package inject

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Credential is one [credentials.NAME] with its secret read.
type Credential struct {
	Name     string
	Secret   string
	Upstream *url.URL // https://api.anthropic.com, maybe with a base path
	Header   string   // header name: "x-api-key", "Authorization"
	Format   string   // its value with "{}" for the secret: "{}", "Bearer {}"
}

// ParseHeader splits a header template such as "Authorization: Bearer {}".
func ParseHeader(s string) (name, format string, err error) {
	name, format, ok := strings.Cut(s, ":")
	name, format = strings.TrimSpace(name), strings.TrimSpace(format)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.Count(format, "{}") != 1 || strings.ContainsAny(format, "\r\n") {
		return "", "", fmt.Errorf("%q is not a header template: write NAME: VALUE with {} where the secret goes, as in \"x-api-key: {}\" or \"Authorization: Bearer {}\"", s)
	}
	return http.CanonicalHeaderKey(name), format, nil
}

// Endpoint serves every credential of one session.
type Endpoint struct {
	ln    net.Listener
	srv   *http.Server
	wg    sync.WaitGroup
	paths map[string]*route // "/TOKEN" → route
}

type route struct {
	cred        Credential
	token       string
	placeholder string
	fwd         *httputil.ReverseProxy
}

// Placeholder is what the cage's key variable holds for a credential.
func Placeholder(name string) string { return "aicage-injected-" + name }

// Options are how the endpoint reaches upstreams.
type Options struct {
	// Dial connects to an upstream; nil uses the system's resolver.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs are the certificates upstreams are checked against; nil is
	// the system's roots (and $SSL_CERT_FILE).
	RootCAs *x509.CertPool
}

// Start serves creds on 127.0.0.1, on a port the kernel picks.
func Start(creds []Credential, opt Options) (*Endpoint, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the credential endpoint: %w", err)
	}
	e := &Endpoint{ln: ln, paths: map[string]*route{}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if opt.Dial != nil {
		tr.DialContext = opt.Dial
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: opt.RootCAs, MinVersion: tls.VersionTLS12}
	for _, c := range creds {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			ln.Close()
			return nil, err
		}
		r := &route{cred: c, token: hex.EncodeToString(b[:]), placeholder: Placeholder(c.Name)}
		r.fwd = &httputil.ReverseProxy{
			Rewrite:        r.rewrite,
			Transport:      tr,
			FlushInterval:  -1, // server-sent events pass through as they come
			ModifyResponse: r.scrub,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				http.Error(w, "aicage: "+r.scrubString(err.Error()), http.StatusBadGateway)
			},
		}
		e.paths["/"+r.token] = r
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.srv.Serve(ln)
	}()
	return e, nil
}

// Addr is where the endpoint listens.
func (e *Endpoint) Addr() netip.AddrPort { return netip.MustParseAddrPort(e.ln.Addr().String()) }

// BaseURL is what the cage's base-URL variable holds for the credential
// name: the endpoint and the session's token for it.
func (e *Endpoint) BaseURL(name string) string {
	for p, r := range e.paths {
		if r.cred.Name == name {
			return "http://" + e.ln.Addr().String() + p
		}
	}
	return ""
}

// Close stops the endpoint.
func (e *Endpoint) Close() {
	e.srv.Close()
	e.wg.Wait()
}

func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.IsAbs() || r.Method == http.MethodConnect {
		http.Error(w, "aicage: the credential endpoint forwards to its one upstream only", http.StatusBadRequest)
		return
	}
	for p, rt := range e.paths {
		rest, ok := strings.CutPrefix(r.URL.Path, p)
		if ok && (rest == "" || rest[0] == '/') && subtle.ConstantTimeCompare([]byte(r.URL.Path[:len(p)]), []byte(p)) == 1 {
			r.URL.Path = rest
			r.URL.RawPath = ""
			rt.fwd.ServeHTTP(w, r)
			return
		}
	}
	http.Error(w, "aicage: this endpoint serves one cage, which holds its token", http.StatusForbidden)
}

// rewrite sends the request to the upstream, with the secret in its header
// and no trace of the placeholder elsewhere.
func (r *route) rewrite(pr *httputil.ProxyRequest) {
	up := r.cred.Upstream
	pr.SetURL(up)
	pr.Out.Host = up.Host
	pr.Out.Header.Set(r.cred.Header, strings.Replace(r.cred.Format, "{}", r.cred.Secret, 1))
}

// scrub takes the secret out of a response: an upstream that echoes a key
// (an error message, a gateway's debug header) must not hand it to the cage.
func (r *route) scrub(resp *http.Response) error {
	for k, vs := range resp.Header {
		for i, v := range vs {
			resp.Header[k][i] = r.scrubString(v)
		}
	}
	resp.Body = &scrubber{r: resp.Body, secret: []byte(r.cred.Secret), with: []byte(r.placeholder)}
	resp.ContentLength = -1 // the placeholder's length differs
	resp.Header.Del("Content-Length")
	return nil
}

func (r *route) scrubString(s string) string {
	if r.cred.Secret == "" {
		return s
	}
	return strings.ReplaceAll(s, r.cred.Secret, r.placeholder)
}

// ErrNoSecret is a credential whose source gave nothing.
var ErrNoSecret = errors.New("the source gave an empty secret")
