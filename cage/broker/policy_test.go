package broker

import (
	"net/netip"
	"strings"
	"testing"
)

func testPolicy(udp string) *Policy {
	hosts := []HostRule{}
	for _, h := range []string{"127.0.0.1:5432", "10.0.0.0/8:22", "[::1]:8080", "192.168.1.5"} {
		r, err := ParseHost(h)
		if err != nil {
			panic(err)
		}
		r.Source = "config"
		hosts = append(hosts, r)
	}
	return &Policy{
		Unix: []UnixRule{
			{Path: "/p", Kind: Beneath, Source: "project"},
			{Path: "/run/user/1000/ssh-agent.sock", Kind: Exact, Source: "[ssh] agent"},
			{Path: "/tmp/dev-*.sock", Kind: Glob, Source: "config"},
		},
		Hosts:     hosts,
		Connect:   []int{443, 22},
		UDP:       udp,
		Resolvers: []netip.Addr{netip.MustParseAddr("127.0.0.53"), netip.MustParseAddr("9.9.9.9")},
	}
}

func TestUnixPath(t *testing.T) {
	p := testPolicy("dns")
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/p/s.sock", true},
		{"/p", true},
		{"/p/a/b/c.sock", true},
		{"/pp/s.sock", false},
		{"/tmp/tmux-1000/default", false},
		{"/run/user/1000/bus", false},
		{"/var/run/docker.sock", false},
		{"/run/user/1000/ssh-agent.sock", true},
		{"/run/user/1000/ssh-agent.sock2", false},
		{"/tmp/dev-1.sock", true},
		{"/tmp/dev-1.sock/x", false},
		{"/tmp/x/dev-1.sock", false},
	} {
		if got := p.UnixPath(tc.path); got.Allow != tc.want {
			t.Errorf("UnixPath(%q) = %+v, want allow %v", tc.path, got, tc.want)
		}
	}
}

func TestInet(t *testing.T) {
	for _, tc := range []struct {
		udp  string // "" for TCP
		dest string
		want bool
		rule string // part of the rule
	}{
		{"", "1.2.3.4:443", true, "connect"},
		{"", "1.2.3.4:80", false, "port 80"},
		{"", "[2606:4700::1]:443", true, "connect"},
		{"", "127.0.0.1:443", false, "loopback"},
		{"", "127.0.0.2:5432", false, "loopback"},
		{"", "127.0.0.1:5432", true, "hosts 127.0.0.1:5432"},
		{"", "[::ffff:127.0.0.1]:5432", true, "hosts"},
		{"", "[::ffff:127.0.0.1]:443", false, "loopback"},
		{"", "0.0.0.0:443", false, "unspecified"},
		{"", "[::]:443", false, "unspecified"},
		{"", "[::1]:443", false, "loopback"},
		{"", "[::1]:8080", true, "hosts"},
		{"", "169.254.169.254:80", false, "metadata"},
		{"", "169.254.169.254:443", false, "link-local"},
		{"", "[fe80::1]:443", false, "link-local"},
		{"", "10.1.2.3:22", true, "hosts 10.0.0.0/8:22"},
		{"", "10.1.2.3:443", false, "private"},
		{"", "172.16.0.1:443", false, "private"},
		{"", "192.168.1.5:443", true, "hosts 192.168.1.5"},
		{"", "192.168.1.5:80", false, "private"},
		{"", "192.168.1.6:443", false, "private"},
		{"", "100.64.0.1:443", false, "private"},
		{"", "[fd00::1]:443", false, "private"},
		{"", "[64:ff9b::a9fe:a9fe]:443", false, "link-local"},
		{"", "[64:ff9b::102:304]:443", true, "connect"},
		{"", "[2002:a9fe:a9fe::1]:443", false, "link-local"},
		{"", "[::a9fe:a9fe]:443", false, "link-local"},
		{"", "224.0.0.251:443", false, "multicast"},
		{"", "255.255.255.255:443", false, "reserved"},
		{"dns", "127.0.0.53:53", true, "resolver"},
		{"dns", "9.9.9.9:53", true, "resolver"},
		{"dns", "8.8.8.8:53", false, "resolvers"},
		{"dns", "127.0.0.53:54", false, "resolvers"},
		{"dns", "9.9.9.9:443", false, "resolvers"},
		{"dns", "192.168.1.5:5353", true, "hosts"},
		{"deny", "9.9.9.9:53", false, "deny"},
		{"allow", "8.8.8.8:1234", true, "allow"},
		{"allow", "127.0.0.1:1234", false, "loopback"},
		{"allow", "169.254.169.254:53", false, "link-local"},
	} {
		p := testPolicy(tc.udp)
		got := p.Inet(tc.udp != "", netip.MustParseAddrPort(tc.dest))
		if got.Allow != tc.want || !strings.Contains(got.Rule, tc.rule) {
			t.Errorf("udp=%q %s: got %+v, want allow %v with a rule naming %q", tc.udp, tc.dest, got, tc.want, tc.rule)
		}
	}
}

func TestListen(t *testing.T) {
	p := testPolicy("dns")
	if v := p.Listen(0); v.Allow {
		t.Errorf("Listen(0) = %+v, want refused", v)
	}
	if v := p.Listen(3000); !v.Allow {
		t.Errorf("Listen(3000) = %+v, want allowed", v)
	}
}

func TestParseHost(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "127.0.0.1", want: "127.0.0.1"},
		{in: "127.0.0.1:5432", want: "127.0.0.1:5432"},
		{in: "10.0.0.0/8:22", want: "10.0.0.0/8:22"},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "::1", want: "::1"},
		{in: "[::1]:8080", want: "[::1]:8080"},
		{in: "[fd00::/8]:22", want: "[fd00::/8]:22"},
		{in: "::ffff:127.0.0.1", want: "127.0.0.1"},
		{in: "10.0.0.1/8", err: "did you mean 10.0.0.0/8"},
		{in: "example.com:443", err: "not an IP address"},
		{in: "127.0.0.1:0", err: "out of range"},
		{in: "127.0.0.1:70000", err: "out of range"},
		{in: "[::1", err: "closing ]"},
		{in: "[::1]8080", err: "expected :PORT"},
		{in: "10.0.0.0/33", err: "not an address range"},
	} {
		h, err := ParseHost(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseHost(%q) = %v, %v; want an error with %q", tc.in, h, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseHost(%q): %v", tc.in, err)
		case h.String() != tc.want:
			t.Errorf("ParseHost(%q) = %s, want %s", tc.in, h, tc.want)
		}
	}
}

func TestInetViaProxy(t *testing.T) {
	p := testPolicy("dns")
	p.Egress = "proxy"
	p.Supervisor = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:40000")}
	for _, tc := range []struct {
		udp  bool
		dest string
		want bool
	}{
		{false, "127.0.0.1:40000", true},
		{false, "127.0.0.1:40001", false},
		{false, "1.2.3.4:443", false},
		{false, "127.0.0.1:5432", true},
		{true, "127.0.0.1:40000", false},
		{true, "127.0.0.53:53", false},
		{true, "9.9.9.9:53", false},
		{true, "192.168.1.5:5353", true},
	} {
		if got := p.Inet(tc.udp, netip.MustParseAddrPort(tc.dest)); got.Allow != tc.want {
			t.Errorf("udp=%v %s: %+v, want allow %v", tc.udp, tc.dest, got, tc.want)
		}
	}
}
