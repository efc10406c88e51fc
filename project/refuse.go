package project

import (
	"path/filepath"
	"strings"

	"github.com/aicage/aicage/cage"
)

// Refused grants. Landlock can only grant, so a grant that contains a
// secret or a file that runs code outside the cage cannot be narrowed
// afterwards: it has to be refused before Compile sees it. cage.Compile
// checks again against the same places (defence in depth); this check runs
// first, with the config's file:line:col.

// protected is one place no grant may be, lie in or contain.
type protected struct {
	path      string
	why       string
	never     bool // even dangerously_allow cannot lift it
	writeOnly bool // reading it is fine, writing it runs code outside later
	exact     bool // only the path itself and its ancestors, not what lies below
}

// rcFiles run when a shell or session starts, outside the cage.
var rcFiles = []string{
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout",
	".kshrc", ".mkshrc", ".cshrc", ".tcshrc", ".login", ".logout",
	".inputrc", ".xprofile", ".xinitrc", ".xsession", ".xsessionrc", ".pam_environment",
	".config/fish", ".config/nushell", ".config/environment.d",
	".config/autostart", ".config/systemd",
}

// secretDirs hold keys that no agent should read.
var secretDirs = []string{".ssh", ".gnupg", ".password-store", ".local/share/keyrings"}

func protectedPaths(h Host) []protected {
	home := h.Home
	config, data, state := h.AicageDirs()
	// Those that can never be lifted come first, so that they are named.
	ps := []protected{
		{path: "/", why: "is the whole filesystem", never: true, exact: true},
		{path: data, why: "holds aicage's trust store", never: true},
		{path: state, why: "holds aicage's state and integrity snapshots", never: true},
		{path: home, why: "is or contains your whole home directory", exact: true},
	}
	for _, d := range secretDirs {
		ps = append(ps, protected{path: filepath.Join(home, d), why: "holds your keys"})
	}
	for _, f := range rcFiles {
		ps = append(ps, protected{path: filepath.Join(home, f), why: "runs at shell or session start, outside the cage, and often exports tokens"})
	}
	if zd := lookupEnv(h.Env, "ZDOTDIR"); filepath.IsAbs(zd) {
		for _, f := range []string{".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout"} {
			ps = append(ps, protected{path: filepath.Join(zd, f), why: "runs at shell start, outside the cage, and often exports tokens"})
		}
	}
	for _, f := range []string{".gitconfig", ".config/git"} {
		ps = append(ps, protected{path: filepath.Join(home, f), why: "can make git run programs outside the cage", writeOnly: true})
	}
	ps = append(ps,
		protected{path: config, why: "is aicage's own configuration"},
		protected{path: filepath.Join(h.DataHome, "direnv"), why: "holds direnv's trust decisions", writeOnly: true},
	)
	if h.Self != "" {
		ps = append(ps, protected{path: h.Self, why: "is the aicage binary itself", writeOnly: true})
	}
	return ps
}

// guard checks grants against the protected places.
type guard struct {
	h         Host
	root      string
	protected []protected
	forms     [][]string      // forms[i]: protected[i] as written and resolved
	allowed   map[string]bool // dangerously_allow, expanded and resolved
	links     *cage.SymlinkCache
}

func newGuard(h Host, root string, dangerous []written) *guard {
	g := &guard{h: h, root: root, protected: protectedPaths(h), allowed: map[string]bool{},
		links: cage.NewSymlinkCache(cage.OSFS{})}
	for _, p := range g.protected {
		g.forms = append(g.forms, g.formsOf(p.path))
	}
	for _, d := range dangerous {
		for _, f := range g.formsOf(expand(d.value, h.Home, root)) {
			g.allowed[f] = true
		}
	}
	return g
}

// formsOf returns p and, when it differs, p with symlinks resolved as far
// as the path exists: a grant of ~/link-to-ssh is a grant of ~/.ssh, and on
// Fedora Atomic /home/u is /var/home/u.
func (g *guard) formsOf(p string) []string {
	r := g.links.Loose(p)
	if r == p {
		return []string{p}
	}
	return []string{p, r}
}

// refusal says why the absolute path p may not be granted ("" when it
// may), and whether dangerously_allow could lift that. lift says whether
// dangerously_allow is consulted at all.
func (g *guard) refusal(p string, write, lift bool) (why string, never bool) {
	pf := g.formsOf(p)
	lifted := false
	for _, f := range pf {
		lifted = lifted || lift && g.allowed[f]
	}
	// What the grant is comes before what it contains or lies in: "rw ~"
	// is refused as the home, not as the trust store inside it; but it is
	// "never" if anything it hits can never be lifted.
	for _, equal := range []bool{true, false} {
		for i, pr := range g.protected {
			if pr.writeOnly && !write || !pr.never && lifted {
				continue
			}
			if w := g.hits(pf, g.forms[i], pr, equal); w != "" {
				if why == "" {
					why = w
				}
				never = never || pr.never
			}
		}
	}
	return why, never
}

// hits compares every form of a grant with every form of a protected path:
// the grant may not be it, contain it, or (unless exact) lie inside it.
func (g *guard) hits(grant, prot []string, pr protected, equal bool) string {
	name := tilde(pr.path, g.h.Home)
	for i, p := range grant {
		for _, q := range prot {
			switch {
			case equal && p == q && i == 0:
				return "it " + pr.why
			case equal && p == q:
				return "it leads to " + name + ", which " + pr.why
			case !equal && within(q, p):
				return "it contains " + name + ", which " + pr.why
			case !equal && !pr.exact && within(p, q):
				return "it lies in " + name + ", which " + pr.why
			}
		}
	}
	return ""
}

// refuse returns the error for a refused grant written at w.
func (g *guard) refuse(w written, p string, write bool, what string) error {
	why, never := g.refusal(p, write, true)
	if why == "" {
		return nil
	}
	hint := "remove it, or also list it under [filesystem] dangerously_allow if you really mean it"
	if never {
		hint = "remove it: aicage never grants this path"
	}
	return w.at.errorf(hint, "refusing to %s %s (%s): %s", what, w.value, w.source, why)
}

// neverWhy says why p can never be granted, whatever dangerously_allow
// says ("" when it could be).
func (g *guard) neverWhy(p string) string {
	only := &guard{h: g.h, allowed: map[string]bool{}, links: g.links}
	for i, pr := range g.protected {
		if pr.never {
			only.protected = append(only.protected, pr)
			only.forms = append(only.forms, g.forms[i])
		}
	}
	why, _ := only.refusal(p, true, false)
	return why
}

// checkRoot refuses a project root that would take the cage's meaning
// away: the root is granted read, write and execute, and dangerously_allow
// cannot lift that (the root is not a grant the config can review).
func (g *guard) checkRoot(root string) string {
	why, _ := g.refusal(root, true, false)
	return why
}

// lexicallyInside reports whether p lies inside dir without following links.
func lexicallyInside(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
