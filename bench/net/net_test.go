// Package net measures what the connect broker costs: each workload of
// netload runs uncaged and in a cage, and the benchmark reports the median
// time of one call both ways, the time the broker adds, and the ratio.
//
//	go test ./bench/net -run '^$' -bench . -benchtime 1x
//
// The cage's config lists the loopback listeners in [network] hosts and
// allows UDP, so that every call is allowed and performed by the broker.
package net

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// calls is how many calls each run makes.
const calls = 5000

type bench struct {
	dir, aicage, netload, proj string
	env                        []string
	tcp, udp                   string
}

var (
	once   sync.Once
	shared *bench
	setErr error
)

func setup(b *testing.B) *bench {
	once.Do(func() { shared, setErr = newBench() })
	if setErr != nil {
		b.Fatal(setErr)
	}
	return shared
}

func newBench() (*bench, error) {
	dir, err := os.MkdirTemp("/var/tmp", "aicage-bench-net-") // not /tmp: the cage grants it
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	w := &bench{dir: dir, proj: filepath.Join(dir, "proj")}
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(w.proj, ".bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	w.aicage = filepath.Join(dir, "aicage")
	w.netload = filepath.Join(w.proj, ".bin", "netload")
	for out, pkg := range map[string]string{w.aicage: "../../cmd/aicage", w.netload: "./netload"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %v\n%s", pkg, err, b)
		}
	}
	w.env = append(os.Environ(), "HOME="+home,
		"XDG_CONFIG_HOME="+home+"/.config", "XDG_DATA_HOME="+home+"/.local/share",
		"XDG_STATE_HOME="+home+"/.local/state", "XDG_CACHE_HOME="+home+"/.cache")
	if w.tcp, err = tcpSink(); err != nil {
		return nil, err
	}
	if w.udp, err = udpSink(); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(w.tcp)
	cfg := fmt.Sprintf("[network]\nudp = \"allow\"\nconnect = [%s]\nhosts = [\"127.0.0.1\"]\n", port)
	if err := os.WriteFile(filepath.Join(w.proj, ".aicage.toml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := w.cmd(w.aicage, "allow").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("aicage allow: %v\n%s", err, out)
	}
	return w, nil
}

func (w *bench) cmd(argv ...string) *exec.Cmd {
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Env = w.proj, w.env
	return c
}

// tcpSink accepts and closes connections.
func tcpSink() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String(), nil
}

// udpSink reads and drops datagrams.
func udpSink() (string, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().String(), nil
}

// median runs argv and returns its median-ns.
func (w *bench) median(b *testing.B, argv ...string) float64 {
	out, err := w.cmd(argv...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "median-ns" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	b.Fatalf("%s printed no median:\n%s", strings.Join(argv, " "), out)
	return 0
}

// compare runs one workload uncaged and caged, alternating three times,
// and reports the medians of the medians.
func compare(b *testing.B, args ...string) {
	w := setup(b)
	load := append([]string{w.netload}, append(args, strconv.Itoa(calls))...)
	caged := append([]string{w.aicage, "run", "--"}, load...)
	var out, in []float64
	for range 3 {
		out = append(out, w.median(b, load...))
		in = append(in, w.median(b, caged...))
	}
	u, c := mid(out), mid(in)
	b.ReportMetric(u/1000, "uncaged-µs/call")
	b.ReportMetric(c/1000, "caged-µs/call")
	b.ReportMetric((c-u)/1000, "added-µs/call")
	b.ReportMetric(c/u, "ratio")
}

func mid(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// BenchmarkProxyDownload: curl downloads 100 MB from a loopback server,
// uncaged and direct, and in a cage with egress = "proxy" through the
// supervisor's proxy (forwarded and tunnelled), as curl's own
// speed_download; and the supervisor's resident memory meanwhile.
func BenchmarkProxyDownload(b *testing.B) {
	w := setup(b)
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("curl is not installed")
	}
	big, err := bigSink()
	if err != nil {
		b.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(big)
	proj := filepath.Join(w.dir, "proxyproj")
	os.MkdirAll(proj, 0o755)
	cfg := fmt.Sprintf("[network]\negress = \"proxy\"\ndomains = [\"big.test:%s\"]\n", port)
	os.WriteFile(filepath.Join(proj, ".aicage.toml"), []byte(cfg), 0o644)
	hosts := filepath.Join(w.dir, "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 big.test\n"), 0o644)
	env := append(append([]string(nil), w.env...), "AICAGE_TESTONLY_HOSTS="+hosts, "AICAGE_TESTONLY_PUBLIC=127.0.0.1")
	run := func(argv ...string) float64 {
		c := exec.Command(argv[0], argv[1:]...)
		c.Dir, c.Env = proj, env
		out, err := c.Output()
		if err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		return v / (1 << 20)
	}
	allow := exec.Command(w.aicage, "allow")
	allow.Dir, allow.Env = proj, env
	if out, err := allow.CombinedOutput(); err != nil {
		b.Fatalf("allow: %v\n%s", err, out)
	}
	curl := []string{"curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{speed_download}"}
	var direct, fwd, tun []float64
	var rss float64
	for range 3 {
		direct = append(direct, run(append(curl, "--noproxy", "*", "http://"+big+"/big")...))
		fwd = append(fwd, run(append([]string{w.aicage, "run", "--"}, append(curl, "http://big.test:"+port+"/big")...)...))
		tun = append(tun, run(append([]string{w.aicage, "run", "--"}, append(curl, "--proxytunnel", "http://big.test:"+port+"/big")...)...))
	}
	// The supervisor's memory with the proxy serving a download.
	c := exec.Command(w.aicage, "run", "--", "sh", "-c", "curl -sS -o /dev/null --limit-rate 50M http://big.test:"+port+"/big")
	c.Dir, c.Env = proj, env
	if err := c.Start(); err == nil {
		time.Sleep(time.Second)
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid)); err == nil {
			for _, line := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
					rss = kb / 1024
				}
			}
		}
		c.Wait()
	}
	d, f, t := mid(direct), mid(fwd), mid(tun)
	b.ReportMetric(d, "direct-MB/s")
	b.ReportMetric(f, "forwarded-MB/s")
	b.ReportMetric(t, "tunnelled-MB/s")
	b.ReportMetric(f/d, "forwarded/direct")
	b.ReportMetric(t/d, "tunnelled/direct")
	b.ReportMetric(rss, "supervisor-MB")
}

// bigSink serves 100 MB at /big.
func bigSink() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	chunk := make([]byte, 1<<20)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(100<<20))
		for range 100 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	return l.Addr().String(), nil
}

func BenchmarkConnectTCP(b *testing.B)  { compare(b, "connect", setup(b).tcp) }
func BenchmarkUDPSend(b *testing.B)     { compare(b, "udp-send", setup(b).udp) }
func BenchmarkUDPSendto(b *testing.B)   { compare(b, "udp-sendto", setup(b).udp) }
func BenchmarkUDPSendmsg(b *testing.B)  { compare(b, "udp-sendmsg", setup(b).udp) }
func BenchmarkUnixSend(b *testing.B)    { compare(b, "unix-send") }
func BenchmarkUnixSendmsg(b *testing.B) { compare(b, "unix-sendmsg") }
func BenchmarkUnixDgramSendto(b *testing.B) {
	compare(b, "unix-sendto", filepath.Join(setup(b).proj, "bench.sock"))
}
