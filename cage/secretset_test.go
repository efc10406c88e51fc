package cage

import "testing"

// secretSet answers as matching every pattern one by one does.
func TestSecretSetAgreesWithPatterns(t *testing.T) {
	patterns := append([]string{"a*/b", "x?/y/z", `q\*`}, etcSecrets...)
	set := newSecretSet(patterns)
	names := []string{
		"shadow", "shadow-", "shadowx", "passwd", "ssh", "ssh/ssh_host_rsa_key", "ssh/ssh_host_rsa_key.pub",
		"ssh/ssh_config", "security", "security/opasswd", "security/limits.conf", "ssl", "ssl/private",
		"ssl/certs", "pki", "pki/tls", "pki/tls/private", "pki/CA", "ppp", "ppp/chap-secrets",
		"abc", "abc/b", "abc/c", "xy", "xy/y", "xy/y/z", "xyz/y", "q*", "qa", "containers", "containers/auth.json",
	}
	for _, n := range names {
		if got, want := set.matches(n), matchesAny(n, patterns); got != want {
			t.Errorf("matches(%q) = %v, want %v", n, got, want)
		}
		if got, want := set.holds(n), holdsSecret(n, patterns); got != want {
			t.Errorf("holds(%q) = %v, want %v", n, got, want)
		}
	}
}
