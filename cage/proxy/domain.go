package proxy

import (
	"fmt"
	"strconv"
	"strings"
)

// Domain allows a host name, or every name below one ("*.github.com"), on
// one port or on 443 and 80.
type Domain struct {
	Pattern string `json:"pattern"`        // "api.anthropic.com" or "*.github.com", lower case
	Port    int    `json:"port,omitempty"` // 0: 443 and 80
	Source  string `json:"source"`
}

// String is the entry as written in the config.
func (d Domain) String() string {
	if d.Port == 0 {
		return d.Pattern
	}
	return d.Pattern + ":" + strconv.Itoa(d.Port)
}

// Match tells whether d allows host:port. A wildcard matches the names
// below its base, not the base itself (list both for both).
func (d Domain) Match(host string, port int) bool {
	if d.Port == 0 && port != 443 && port != 80 || d.Port != 0 && port != d.Port {
		return false
	}
	host = canonical(host)
	if base, ok := strings.CutPrefix(d.Pattern, "*."); ok {
		return strings.HasSuffix(host, "."+base)
	}
	return host == d.Pattern
}

func canonical(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// ParseDomain reads one [network] domains entry: a host name or "*." and a
// name, optionally with ":PORT".
func ParseDomain(s string) (Domain, error) {
	if strings.Contains(s, "/") {
		return Domain{}, fmt.Errorf("%q is not a host name: write the name alone, without a scheme or path", s)
	}
	host, port, hasPort := strings.Cut(s, ":")
	d := Domain{Pattern: canonical(host)}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Domain{}, fmt.Errorf("port %q is out of range, expected 1–65535", port)
		}
		d.Port = n
	}
	name := strings.TrimPrefix(d.Pattern, "*.")
	if name == "" || strings.Contains(name, "*") {
		return Domain{}, fmt.Errorf("%q: a wildcard may only start a name, as in *.github.com", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return Domain{}, fmt.Errorf("%q is not a host name", s)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return Domain{}, fmt.Errorf("%q is not a host name", s)
			}
		}
	}
	return d, nil
}
