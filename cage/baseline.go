package cage

import (
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// systemDirs are executable when [exec] system is true, readable otherwise.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcSecrets are the entries of /etc that hold secrets; the rest of /etc is
// readable. Landlock can only grant, so /etc is granted entry by entry,
// skipping these (patterns as in path.Match, relative to /etc).
var etcSecrets = []string{
	"shadow", "shadow-", "gshadow", "gshadow-",
	"sudoers", "sudoers.d", "security/opasswd",
	"ssh/ssh_host_*_key", "ssl/private", "pki/tls/private", "pki/CA/private",
	"krb5.keytab", "ipsec.secrets", "ipsec.d/private",
	"NetworkManager/system-connections", "wpa_supplicant", "wireguard",
	"openvpn", "letsencrypt", "ppp/chap-secrets", "ppp/pap-secrets",
	"libvirt/secrets", "cups/ssl", "containers/auth.json", "docker/key.json",
}

// devFiles are the device nodes every program expects; terminals also get
// device ioctls (the seccomp filter still refuses TIOCSTI and TIOCLINUX).
var devFiles = []struct {
	path string
	dev  bool
}{
	{"/dev/null", false}, {"/dev/zero", false}, {"/dev/full", false},
	{"/dev/random", false}, {"/dev/urandom", false},
	{"/dev/tty", true}, {"/dev/ptmx", true},
}

// baseline returns the always-granted rules.
func (c *compiler) baseline() {
	const src = "baseline"
	c.addDir(c.p.Root, RWX, src)
	c.addDir(c.p.Home, RWX, src)
	c.addDir(c.p.TmpDir, RWX, src)
	if c.addExisting("/tmp", RW, src) {
		// The shared /tmp holds other programs' sockets (tmux, ssh-agent,
		// editors). Without refer nothing can be renamed or linked out of
		// it into the project, where the connect broker would take such a
		// socket for the cage's own.
		if r, err := c.host.FS.EvalSymlinks("/tmp"); err == nil {
			c.p.Rules[c.index[r]].NoRefer = true
		}
	}
	sys := ROX
	if !c.spec.ExecSystem {
		sys = RO
	}
	for _, d := range systemDirs {
		c.addExisting(d, sys, src)
	}
	// /etc can be listed (globs such as /etc/*-release work) though not
	// every file in it can be read; names are not secrets.
	c.addExisting("/etc", LS, src)
	c.grantExcept("/etc", RO, etcSecrets, src)
	c.addExisting("/proc", RO, src)
	c.addExisting("/sys", RO, src)
	for _, d := range devFiles {
		c.addDevice(d.path, d.dev, src)
	}
	c.addDevice("/dev/pts", true, src)
	if c.host.Self != "" {
		c.addExisting(c.host.Self, ROX, "baseline (aicage itself)")
	}
}

// grantExcept grants dir entry by entry, leaving out the entries matching
// secrets and descending into directories that hold one.
func (c *compiler) grantExcept(dir string, a Access, secrets []string, src string) {
	c.grantExceptRel(dir, "", a, newSecretSet(secrets), src)
}

func (c *compiler) grantExceptRel(root, rel string, a Access, secrets *secretSet, src string) {
	dir, err := c.host.FS.EvalSymlinks(filepath.Join(root, rel))
	if err != nil {
		return
	}
	entries, err := c.host.FS.ReadDir(dir)
	if err != nil {
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		r := e.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		if secrets.matches(r) {
			continue
		}
		if e.IsDir() && secrets.holds(r) {
			c.grantExceptRel(root, r, a, secrets, src)
			continue
		}
		if e.Type()&fs.ModeSymlink == 0 {
			// Not a link, in a resolved directory: already resolved, and
			// its type is known without another stat (most of /etc).
			c.add(Rule{Path: strings.TrimSuffix(dir, "/") + "/" + e.Name(), Access: a, Dir: e.IsDir(), Source: src})
			continue
		}
		c.addExisting(filepath.Join(dir, e.Name()), a, src)
	}
}

// secretSet is a list of path.Match patterns (slash-separated, relative),
// split once so that each of the hundreds of names of /etc costs a map
// lookup or two instead of a match against every pattern.
type secretSet struct {
	exact    map[string]bool // patterns without meta characters
	globs    []string        // the others
	under    map[string]bool // literal leading parts of deeper patterns
	globDirs []string        // leading parts with meta characters
}

func newSecretSet(patterns []string) *secretSet {
	s := &secretSet{exact: map[string]bool{}, under: map[string]bool{}}
	for _, p := range patterns {
		if hasMeta(p) {
			s.globs = append(s.globs, p)
		} else {
			s.exact[p] = true
		}
		parts := strings.Split(p, "/")
		for d := 1; d < len(parts); d++ {
			lead := strings.Join(parts[:d], "/")
			if hasMeta(lead) {
				s.globDirs = append(s.globDirs, lead)
			} else {
				s.under[lead] = true
			}
		}
	}
	return s
}

// matches reports whether rel is one of the patterns' paths.
func (s *secretSet) matches(rel string) bool {
	return s.exact[rel] || matchesAny(rel, s.globs)
}

// holds reports whether a pattern lies below the directory rel.
func (s *secretSet) holds(rel string) bool {
	return s.under[rel] || matchesAny(rel, s.globDirs)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func matchesAny(rel string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// holdsSecret reports whether a pattern lies below the directory rel.
func holdsSecret(rel string, patterns []string) bool {
	depth := strings.Count(rel, "/") + 1
	for _, p := range patterns {
		parts := strings.Split(p, "/")
		if len(parts) <= depth {
			continue
		}
		if ok, _ := path.Match(strings.Join(parts[:depth], "/"), rel); ok {
			return true
		}
	}
	return false
}
