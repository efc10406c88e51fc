package broker

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Policy is what the broker allows. It is a plain value, compiled with the
// rest of the cage and recorded for `aicage status`.
type Policy struct {
	Unix      []UnixRule   `json:"unix"`
	Hosts     []HostRule   `json:"hosts"`
	Connect   []int        `json:"connect"`   // TCP ports open to public addresses
	Bind      []int        `json:"bind"`      // TCP ports the cage may listen on
	UDP       string       `json:"udp"`       // "deny" | "dns" | "allow"
	Resolvers []netip.Addr `json:"resolvers"` // /etc/resolv.conf's nameservers, for udp = "dns"
	// Egress "proxy" lets TCP out only to Proxy (the supervisor's egress
	// proxy) and [network] hosts, and UDP only to [network] hosts.
	Egress string `json:"egress,omitempty"`
	// Supervisor are the supervisor's own loopback services the cage may
	// reach in any mode: the egress proxy, the credential endpoint.
	Supervisor []netip.AddrPort `json:"supervisor,omitempty"`
}

// Kinds of UnixRule.
const (
	Beneath = "beneath" // the path and everything below it
	Exact   = "exact"
	Glob    = "glob" // filepath.Match syntax
)

// UnixRule allows named unix sockets by their real path.
type UnixRule struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
}

// HostRule allows an address range, on one port or on the allowed ones.
type HostRule struct {
	Prefix netip.Prefix `json:"prefix"`
	Port   int          `json:"port,omitempty"` // 0: the ports [network] connect allows (any port for UDP)
	Source string       `json:"source"`
}

// String is the rule as written in the config.
func (h HostRule) String() string {
	host := h.Prefix.String()
	if h.Prefix.IsSingleIP() {
		host = h.Prefix.Addr().String()
	}
	if h.Port == 0 {
		return host
	}
	if h.Prefix.Addr().Is6() {
		return "[" + host + "]:" + strconv.Itoa(h.Port)
	}
	return host + ":" + strconv.Itoa(h.Port)
}

// Verdict is the broker's decision and the rule behind it, in words a user
// can act on.
type Verdict struct {
	Allow bool
	Rule  string
}

func allow(rule string) Verdict  { return Verdict{true, rule} }
func refuse(rule string) Verdict { return Verdict{false, rule} }

// UnixPath judges a named unix socket by its real path (symlinks resolved).
func (p *Policy) UnixPath(path string) Verdict {
	for _, r := range p.Unix {
		ok := false
		switch r.Kind {
		case Beneath:
			ok = path == r.Path || strings.HasPrefix(path, strings.TrimSuffix(r.Path, "/")+"/")
		case Exact:
			ok = path == r.Path
		case Glob:
			ok, _ = filepath.Match(r.Path, path)
		}
		if ok {
			return allow(fmt.Sprintf("%s %s (%s)", r.Kind, r.Path, r.Source))
		}
	}
	return refuse("unix socket outside the project, the private home and tmp; list it in [network] unix of .aicage.toml")
}

// Inet judges a TCP connect (udp false) or a UDP destination.
func (p *Policy) Inet(udp bool, ap netip.AddrPort) Verdict {
	a, port := ap.Addr().Unmap(), int(ap.Port())
	if !udp && slices.Contains(p.Supervisor, netip.AddrPortFrom(a, uint16(port))) {
		return allow("the supervisor's own service")
	}
	if p.Egress == "proxy" {
		return p.viaProxy(udp, a, port)
	}
	if udp {
		switch p.UDP {
		case "allow":
		case "dns":
			if port == 53 && slices.Contains(p.Resolvers, a) {
				return allow(`udp = "dns": a resolver of /etc/resolv.conf`)
			}
			if h, ok := p.host(a, port, true); ok {
				return allow("[network] hosts " + h.String())
			}
			return refuse(`udp = "dns" allows only port 53 of the resolvers in /etc/resolv.conf; list the host in [network] hosts`)
		default:
			return refuse(`udp = "deny"`)
		}
	}
	if h, ok := p.host(a, port, udp); ok {
		return allow("[network] hosts " + h.String())
	}
	if why := NonPublic(a); why != "" {
		return refuse(why + "; list it in [network] hosts of .aicage.toml")
	}
	if udp {
		return allow(`udp = "allow"`)
	}
	if slices.Contains(p.Connect, port) {
		return allow(fmt.Sprintf("port %d in [network] connect", port))
	}
	return refuse(fmt.Sprintf("port %d is not in [network] connect of .aicage.toml", port))
}

// viaProxy judges a destination when the egress proxy is the way out.
func (p *Policy) viaProxy(udp bool, a netip.Addr, port int) Verdict {
	if h, ok := p.host(a, port, udp); ok {
		return allow("[network] hosts " + h.String())
	}
	if udp {
		return refuse(`egress = "proxy": UDP goes nowhere but [network] hosts (the proxy resolves names)`)
	}
	return refuse(`egress = "proxy": connections go through the proxy (HTTPS_PROXY); list loopback or LAN services in [network] hosts of .aicage.toml`)
}

// Listed tells whether [network] hosts lists a destination.
func (p *Policy) Listed(udp bool, ap netip.AddrPort) bool {
	_, ok := p.host(ap.Addr().Unmap(), int(ap.Port()), udp)
	return ok
}

func (p *Policy) host(a netip.Addr, port int, udp bool) (HostRule, bool) {
	for _, h := range p.Hosts {
		if !h.Prefix.Contains(a) {
			continue
		}
		if h.Port == port || h.Port == 0 && (udp || slices.Contains(p.Connect, port)) {
			return h, true
		}
	}
	return HostRule{}, false
}

// Listen judges listen(2) on an inet socket bound to port (0: not bound,
// the kernel would pick one).
func (p *Policy) Listen(port int) Verdict {
	if port == 0 {
		return refuse("listen() on a socket with no bound port: the kernel would pick one past Landlock's bind rules; bind a port listed in [network] bind first")
	}
	return allow(fmt.Sprintf("bound to port %d", port))
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	ietf      = netip.MustParsePrefix("192.0.0.0/24")
	benchmark = netip.MustParsePrefix("198.18.0.0/15")
	reserved  = netip.MustParsePrefix("240.0.0.0/4") // and 255.255.255.255
	siteLocal = netip.MustParsePrefix("fec0::/10")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4compat  = netip.MustParsePrefix("::/96")
)

// NonPublic says why a is not a public internet address ("" when it is):
// this machine, the LAN, link-local (the cloud metadata service at
// 169.254.169.254) and the IPv6 forms that embed such an IPv4 address.
func NonPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified() || a.Is4() && thisNet.Contains(a):
		return "the unspecified address, which reaches this machine"
	case a.IsLoopback():
		return "loopback address (a service on this machine)"
	case a.IsLinkLocalUnicast():
		return "link-local address (the cloud metadata service lives at 169.254.169.254)"
	case a.IsPrivate() || a.Is4() && cgnat.Contains(a) || siteLocal.Contains(a):
		return "private network address"
	case a.IsMulticast():
		return "multicast address"
	case a.Is4() && (ietf.Contains(a) || benchmark.Contains(a) || reserved.Contains(a)):
		return "reserved address"
	case nat64.Contains(a) || v4compat.Contains(a):
		b := a.As16()
		return NonPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case nat64Loc.Contains(a):
		return "local-use NAT64 address"
	case sixToFour.Contains(a):
		b := a.As16()
		return NonPublic(netip.AddrFrom4([4]byte(b[2:6])))
	case !a.IsGlobalUnicast():
		return "not a public address"
	}
	return ""
}

// ParseHost reads one [network] hosts entry: an address or CIDR range,
// optionally with a port ("127.0.0.1:5432", "10.0.0.0/8:22", "::1",
// "[fd00::/8]:22").
func ParseHost(s string) (HostRule, error) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return HostRule{}, fmt.Errorf("%q has no closing ]", s)
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return HostRule{}, fmt.Errorf("%q: expected :PORT after ]", s)
			}
			port = port[1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	var h HostRule
	if strings.Contains(host, "/") {
		pf, err := netip.ParsePrefix(host)
		if err != nil {
			return HostRule{}, fmt.Errorf("%q is not an address range like 10.0.0.0/8", host)
		}
		if pf.Masked() != pf {
			return HostRule{}, fmt.Errorf("%q has bits set beyond its /%d; did you mean %s?", host, pf.Bits(), pf.Masked())
		}
		h.Prefix = pf
	} else {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return HostRule{}, fmt.Errorf("%q is not an IP address (write an IP address or a range like 10.0.0.0/8; host names are not resolved here)", host)
		}
		a = a.Unmap()
		h.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if h.Prefix.Addr().Is4In6() && h.Prefix.Bits() >= 96 {
		h.Prefix = netip.PrefixFrom(h.Prefix.Addr().Unmap(), h.Prefix.Bits()-96)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return HostRule{}, fmt.Errorf("port %q is out of range, expected 1–65535", port)
		}
		h.Port = n
	}
	return h, nil
}
