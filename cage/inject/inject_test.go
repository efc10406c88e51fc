package inject

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const realKey = "sk-REAL-KEY-0123456789"

// upstream is a TLS server that records what it was sent and can echo the
// key back, stream, or send a large body.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	seen    []http.Header
	flushed chan time.Time
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{flushed: make(chan time.Time, 1)}
	u.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.mu.Unlock()
		switch r.URL.Path {
		case "/base/v1/echo":
			w.Header().Set("X-Debug-Key", r.Header.Get("X-Api-Key"))
			fmt.Fprintf(w, "you sent %s, and again: %s.", r.Header.Get("X-Api-Key"), r.Header.Get("X-Api-Key"))
		case "/base/v1/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			u.flushed <- time.Now()
			time.Sleep(300 * time.Millisecond)
			fmt.Fprint(w, "data: second\n\n")
		case "/base/v1/big":
			b := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
			w.Write(b)
		default:
			fmt.Fprintf(w, "path %s", r.URL.Path)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func startFor(t *testing.T, u *upstream) *Endpoint {
	up, _ := url.Parse(u.URL + "/base")
	e, err := Start([]Credential{{Name: "anthropic", Secret: realKey, Upstream: up, Header: "X-Api-Key", Format: "{}"}},
		Options{RootCAs: u.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func get(t *testing.T, target string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestEndpointInjectsAndScrubs(t *testing.T) {
	u := newUpstream(t)
	e := startFor(t, u)
	base := e.BaseURL("anthropic")
	resp, body := get(t, base+"/v1/echo", map[string]string{"X-Api-Key": Placeholder("anthropic")})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	u.mu.Lock()
	got := u.seen[len(u.seen)-1].Get("X-Api-Key")
	u.mu.Unlock()
	if got != realKey {
		t.Errorf("upstream got x-api-key %q, want the real key", got)
	}
	if strings.Contains(body, realKey) || resp.Header.Get("X-Debug-Key") == realKey {
		t.Errorf("the real key came back: %q %v", body, resp.Header)
	}
	if want := "you sent " + Placeholder("anthropic") + ", and again: " + Placeholder("anthropic") + "."; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
}

func TestEndpointRefusesWithoutToken(t *testing.T) {
	u := newUpstream(t)
	e := startFor(t, u)
	for _, target := range []string{
		"http://" + e.Addr().String() + "/v1/echo",
		"http://" + e.Addr().String() + "/",
		strings.TrimSuffix(e.BaseURL("anthropic"), "0") + "x/v1/echo",
		e.BaseURL("anthropic") + "x/v1/echo",
	} {
		resp, body := get(t, target, nil)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, realKey) {
			t.Errorf("%s: %d %q, want 403", target, resp.StatusCode, body)
		}
	}
	// An absolute-form request names another host: refused, not forwarded.
	c, err := net.Dial("tcp", e.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok := strings.TrimPrefix(e.BaseURL("anthropic"), "http://"+e.Addr().String())
	fmt.Fprintf(c, "GET http://evil.example%s/v1/echo HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", tok)
	b, _ := io.ReadAll(c)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 400")) || bytes.Contains(b, []byte(realKey)) {
		t.Errorf("absolute-form request: %q", b)
	}
	u.mu.Lock()
	n := len(u.seen)
	u.mu.Unlock()
	if n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
}

func TestEndpointStreams(t *testing.T) {
	u := newUpstream(t)
	e := startFor(t, u)
	resp, err := http.Get(e.BaseURL("anthropic") + "/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	arrived := time.Now()
	if err != nil || !strings.Contains(string(buf[:n]), "data: first") {
		t.Fatalf("first read: %q %v", buf[:n], err)
	}
	sent := <-u.flushed
	if d := arrived.Sub(sent); d > 5*time.Millisecond {
		t.Errorf("the first event took %v to pass, want under 5ms", d)
	}
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), "data: second") {
		t.Errorf("rest %q", rest)
	}
}

func TestEndpointBigBody(t *testing.T) {
	u := newUpstream(t)
	e := startFor(t, u)
	resp, err := http.Get(e.BaseURL("anthropic") + "/v1/big")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, _ := io.Copy(h, resp.Body)
	resp.Body.Close()
	want := sha256.Sum256(bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16))
	if n != 10<<20 || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("got %d bytes, digest differs: %v", n, !bytes.Equal(h.Sum(nil), want[:]))
	}
}

func TestScrubberAcrossReads(t *testing.T) {
	secret := "SECRETKEY"
	for _, in := range []string{"aSECRETKEYb", "SECRETKEY", "xxSECRETKE", "SECRETSECRETKEYSECRET", "noneSEC", ""} {
		for chunk := 1; chunk <= 4; chunk++ {
			s := &scrubber{r: io.NopCloser(&slowReader{s: in, n: chunk}), secret: []byte(secret), with: []byte("X")}
			got, _ := io.ReadAll(s)
			if want := strings.ReplaceAll(in, secret, "X"); string(got) != want {
				t.Errorf("%q in chunks of %d: %q, want %q", in, chunk, got, want)
			}
		}
	}
}

type slowReader struct {
	s string
	n int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.s)
	r.s = r.s[n:]
	return n, nil
}

func TestReadSource(t *testing.T) {
	dir := t.TempDir()
	env := []string{"KEY=  from-env  ", "HOME=" + dir}
	writeFile(t, dir+"/key", "from-file\n")
	for _, tc := range []struct{ src, want, err string }{
		{src: "env:KEY", want: "from-env"},
		{src: "env:UNSET", want: ""},
		{src: "file:~/key", want: "from-file"},
		{src: "file:" + dir + "/missing", err: "no such file"},
		{src: "command:echo from-command", want: "from-command"},
		{src: "command:exit 3", err: "exit status 3"},
		{src: "command:echo oops >&2; exit 1", err: "oops"},
		{src: "command:true", err: "empty secret"},
		{src: "command:printf 'a\\nb'", err: "spans lines"},
		{src: "vault:x", err: "not a secret source"},
	} {
		got, err := Read(tc.src, env, dir)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tc.src, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%s: %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct{ in, name, format string }{
		{"x-api-key: {}", "X-Api-Key", "{}"},
		{"Authorization: Bearer {}", "Authorization", "Bearer {}"},
		{"x-goog-api-key:{}", "X-Goog-Api-Key", "{}"},
	} {
		n, f, err := ParseHeader(tc.in)
		if err != nil || n != tc.name || f != tc.format {
			t.Errorf("ParseHeader(%q) = %q %q %v", tc.in, n, f, err)
		}
	}
	for _, bad := range []string{"x-api-key", "x-api-key: key", ": {}", "a b: {}", "x: {} {}"} {
		if _, _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%q): no error", bad)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
