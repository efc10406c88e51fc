package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"testing"
	"time"
)

// The proxy's cost: a 100 MB download from a loopback server through the
// proxy (CONNECT tunnel and plain forwarding) next to the same download
// direct, and the time one small request takes both ways.
//
//	go test ./cage/proxy -run '^$' -bench . -benchtime 3x

const downloadSize = 100 << 20

var chunk = make([]byte, 1<<20)

func benchUpstream(b *testing.B) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		b.Skipf("no 127.0.0.2 here: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/big" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(downloadSize))
		for i := 0; i < downloadSize/len(chunk); i++ {
			w.Write(chunk)
		}
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

func benchProxy(b *testing.B, up netip.AddrPort) *Proxy {
	d, _ := ParseDomain(fmt.Sprintf("up.test:%d", up.Port()))
	p, err := Start(Config{
		Domains: []Domain{d},
		Public:  func(a netip.Addr) bool { return a == up.Addr() },
		Resolve: func(context.Context, string) ([]netip.Addr, error) { return []netip.Addr{up.Addr()}, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func client(proxyURL string, tunnel bool) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	if proxyURL != "" {
		pu, _ := url.Parse(proxyURL)
		tr.Proxy = http.ProxyURL(pu)
		if tunnel {
			// Tunnel plain http too, as curl --proxytunnel does: the
			// transport does so for https only, so dial through CONNECT.
			tr.Proxy = nil
			tr.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialTunnel(pu, addr)
			}
		}
	}
	return &http.Client{Transport: tr}
}

func dialTunnel(pu *url.URL, addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", pu.Host)
	if err != nil {
		return nil, err
	}
	pw, _ := pu.User.Password()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", addr, addr, basic(pu.User.Username(), pw))
	// Read the 39-byte "HTTP/1.1 200 Connection established\r\n\r\n".
	buf := make([]byte, len("HTTP/1.1 200 Connection established\r\n\r\n"))
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func download(b *testing.B, c *http.Client, target string) time.Duration {
	start := time.Now()
	resp, err := c.Get(target)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != downloadSize {
		b.Fatalf("got %d bytes", n)
	}
	return time.Since(start)
}

func BenchmarkDownload100MB(b *testing.B) {
	up := benchUpstream(b)
	p := benchProxy(b, up)
	direct := client("", false)
	fwd := client(p.URL(), false)
	tun := client(p.URL(), true)
	var dt, ft, tt time.Duration
	for range b.N {
		dt += download(b, direct, fmt.Sprintf("http://%s/big", up))
		ft += download(b, fwd, fmt.Sprintf("http://up.test:%d/big", up.Port()))
		tt += download(b, tun, fmt.Sprintf("http://up.test:%d/big", up.Port()))
	}
	mbs := func(t time.Duration) float64 { return float64(b.N*downloadSize) / (1 << 20) / t.Seconds() }
	b.ReportMetric(mbs(dt), "direct-MB/s")
	b.ReportMetric(mbs(ft), "forwarded-MB/s")
	b.ReportMetric(mbs(tt), "tunnelled-MB/s")
	b.ReportMetric(mbs(ft)/mbs(dt), "forwarded/direct")
	b.ReportMetric(mbs(tt)/mbs(dt), "tunnelled/direct")
}

func medianOf(c *http.Client, target string, n int) (time.Duration, error) {
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		resp, err := c.Get(target)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		times[i] = time.Since(start)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[n/2], nil
}

// BenchmarkRequest: the median of 2,000 small GETs on kept-alive
// connections, direct and forwarded, and the difference.
func BenchmarkRequest(b *testing.B) {
	up := benchUpstream(b)
	p := benchProxy(b, up)
	for range b.N {
		d, err := medianOf(client("", false), fmt.Sprintf("http://%s/small", up), 2000)
		if err != nil {
			b.Fatal(err)
		}
		f, err := medianOf(client(p.URL(), false), fmt.Sprintf("http://up.test:%d/small", up.Port()), 2000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(d.Microseconds()), "direct-µs/req")
		b.ReportMetric(float64(f.Microseconds()), "forwarded-µs/req")
		b.ReportMetric(float64((f - d).Microseconds()), "added-µs/req")
	}
}
