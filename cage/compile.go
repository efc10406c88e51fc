package cage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MaxABI is the highest Landlock ABI aicage knows how to use.
const MaxABI = 11

// Compile turns a project's merged configuration and the host's facts into a
// Policy. It is pure: it reads the filesystem only through host.FS, starts
// nothing and changes nothing.
func Compile(spec Spec, host Host) (*Policy, error) {
	if host.FS == nil {
		host.FS = OSFS{}
	}
	host.FS = cachedFS{FS: host.FS, cache: NewSymlinkCache(host.FS)}
	c := &compiler{spec: spec, host: &host, index: map[string]int{}}
	if err := c.root(); err != nil {
		return nil, err
	}
	c.baseline()
	if err := c.userPaths(); err != nil {
		return nil, err
	}
	if err := c.homeOps(); err != nil {
		return nil, err
	}
	c.network()
	if err := c.packages(); err != nil { // [exec] packages: see nix_compile.go
		return nil, err
	}
	if err := c.program(); err != nil {
		return nil, err
	}
	c.protect()
	c.env()
	c.strict() // [exec] system = false with packages: only the closures execute
	return c.p, nil
}

type compiler struct {
	spec    Spec
	host    *Host
	p       *Policy
	index   map[string]int // path → index in p.Rules
	allowed map[string]bool
}

// root checks the project root and lays out the state directories.
func (c *compiler) root() error {
	s, h := c.spec, c.host
	if !filepath.IsAbs(s.Root) || !filepath.IsAbs(s.StateDir) {
		return fmt.Errorf("bug: project root %q and state dir %q must be absolute", s.Root, s.StateDir)
	}
	root, err := h.FS.EvalSymlinks(s.Root)
	if err != nil {
		return fmt.Errorf("project root: %w", err)
	}
	c.allowed = map[string]bool{}
	for _, a := range s.DangerouslyAllow {
		p := expand(a, h.Home, root)
		c.allowed[p] = true
		if r, err := h.FS.EvalSymlinks(p); err == nil {
			c.allowed[r] = true
		}
	}
	if err := h.refusal(root, "project root", nil); err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			re.Liftable = false
			re.Source = "the project root"
			return &RootError{Path: root, Err: re}
		}
		return err
	}
	abi := min(h.ABI, MaxABI)
	state := s.StateDir
	if within(state, s.Root) {
		// Expressed under the resolved root, so that the ruleset can reach it
		// from there without following a single symlink.
		state = filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(state, s.Root), "/"))
	}
	c.p = &Policy{
		ABI:        abi,
		BestEffort: s.BestEffort,
		Root:       root,
		StateDir:   state,
		Home:       filepath.Join(state, "home"),
		TmpDir:     filepath.Join(state, "tmp"),
		RealHome:   h.Home,
		Profile:    s.Profile,
		UDP:        s.UDP,
		Hardlinks:  s.Hardlinks,
		Dir:        root,
	}
	if s.UDP == "" {
		c.p.UDP = "deny"
	}
	if s.Cwd != "" {
		if cwd, err := h.FS.EvalSymlinks(s.Cwd); err == nil && within(cwd, root) {
			c.p.Dir = cwd
		}
	}
	return nil
}

// RootError is a project root that cannot be caged meaningfully.
type RootError struct {
	Path string
	Err  *RefusedError
}

func (e *RootError) Error() string {
	return fmt.Sprintf("cannot use %s as the project root: it %s", tilde(e.Path, ""), e.Err.Why)
}

// Hint says what to do instead.
func (e *RootError) Hint() string {
	return "run aicage from a project directory, or create one with 'aicage init' there"
}

// add records a rule, joining the rights of a path granted twice.
func (c *compiler) add(r Rule) {
	if i, ok := c.index[r.Path]; ok {
		old := &c.p.Rules[i]
		old.Access = union(old.Access, r.Access)
		old.Dev = old.Dev || r.Dev
		if !strings.Contains(old.Source, r.Source) {
			old.Source += ", " + r.Source
		}
		return
	}
	c.index[r.Path] = len(c.p.Rules)
	c.p.Rules = append(c.p.Rules, r)
}

// addDir grants a directory that aicage itself makes (state dirs); one
// inside the project is marked to be reached without symlinks.
func (c *compiler) addDir(p string, a Access, src string) {
	r := Rule{Path: p, Access: a, Dir: true, Source: src}
	if p != c.p.Root && within(p, c.p.Root) {
		r.Beneath = c.p.Root
	}
	c.add(r)
}

// addExisting resolves p and grants it if it exists; it reports whether it did.
func (c *compiler) addExisting(p string, a Access, src string) bool {
	r, fi, err := c.resolve(p)
	if err != nil {
		return false
	}
	c.add(Rule{Path: r, Access: a, Dir: fi.IsDir(), Source: src})
	return true
}

func (c *compiler) addDevice(p string, dev bool, src string) {
	r, fi, err := c.resolve(p)
	if err != nil {
		return
	}
	c.add(Rule{Path: r, Access: RW, Dir: fi.IsDir(), Dev: dev, Source: src})
}

func (c *compiler) resolve(p string) (string, fs.FileInfo, error) {
	r, err := c.host.FS.EvalSymlinks(p)
	if err != nil {
		return "", nil, err
	}
	r = procSelf(r)
	fi, err := c.host.FS.Stat(r)
	if err != nil {
		return "", nil, err
	}
	return r, fi, nil
}

// procSelf writes a path below aicage's own /proc entry, which a link
// through /proc/self resolves to (/etc/mtab → /proc/self/mounts), as
// /proc/self again: the cage's processes reach their own entries through
// the /proc grant, and the rule stays the same from one entry to the next
// (so policy.json is not rewritten at every entry).
func procSelf(r string) string {
	own := "/proc/" + strconv.Itoa(os.Getpid())
	if r == own || strings.HasPrefix(r, own+"/") {
		return "/proc/self" + r[len(own):]
	}
	return r
}

// userPaths adds [filesystem] grants, refusing those that defeat the cage.
func (c *compiler) userPaths() error {
	for _, e := range c.spec.Paths {
		p := expand(e.Path, c.host.Home, c.p.Root)
		if err := c.host.refusal(p, e.Source, c.allowed); err != nil {
			return err
		}
		r, fi, err := c.resolve(p)
		if err != nil {
			c.skip(e.Path, "does not exist", e.Source)
			continue
		}
		if err := c.host.refusal(r, e.Source, c.allowed); err != nil {
			return err
		}
		c.add(Rule{Path: r, Access: e.Access, Dir: fi.IsDir(), Source: e.Source})
	}
	return nil
}

func (c *compiler) skip(path, reason, src string) {
	c.p.Skipped = append(c.p.Skipped, Skipped{Path: path, Reason: reason, Source: src})
}

// homeOps plans [home] copy and link: the private home mirrors the real
// home's layout, so "~/.claude" becomes <private home>/.claude.
func (c *compiler) homeOps() error {
	for _, e := range c.spec.HomeCopy {
		from := expand(e.Path, c.host.Home, c.p.Root)
		r, _, err := c.resolve(from)
		if err != nil {
			c.skip(e.Path, "does not exist", e.Source)
			continue
		}
		if err := c.host.refusal(r, e.Source, c.allowed); err != nil {
			return err
		}
		c.p.HomeCopy = append(c.p.HomeCopy, CopyOp{From: r, To: c.inHome(from), Source: e.Source})
	}
	for _, e := range c.spec.HomeLink {
		target := expand(e.Path, c.host.Home, c.p.Root)
		r, fi, err := c.resolve(target)
		if err != nil {
			c.skip(e.Path, "does not exist", e.Source)
			continue
		}
		if err := c.host.refusal(r, e.Source, c.allowed); err != nil {
			return err
		}
		c.p.HomeLink = append(c.p.HomeLink, LinkOp{Target: r, Link: c.inHome(target), Source: e.Source})
		c.add(Rule{Path: r, Access: RW, Dir: fi.IsDir(), Source: e.Source})
	}
	return nil
}

func (c *compiler) inHome(real string) string {
	if within(real, c.host.Home) && real != c.host.Home {
		return filepath.Join(c.p.Home, strings.TrimPrefix(real, c.host.Home+"/"))
	}
	return filepath.Join(c.p.Home, filepath.Base(real))
}

// mergePorts keeps each port once, with every source that asked for it.
func mergePorts(in []Port) []Port {
	seen := map[int]int{}
	var out []Port
	for _, p := range in {
		if i, ok := seen[p.Port]; ok {
			if !strings.Contains(out[i].Source, p.Source) {
				out[i].Source += ", " + p.Source
			}
			continue
		}
		seen[p.Port] = len(out)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

func (c *compiler) protect() {
	for _, e := range c.spec.Protect {
		c.p.Protect = append(c.p.Protect, expand(e.Path, c.host.Home, c.p.Root))
	}
}

// union joins two access sets.
func union(a, b Access) Access {
	if a == LS {
		return b
	}
	if b == LS {
		return a
	}
	r := strings.Contains(string(a), "r") || strings.Contains(string(b), "r")
	w := strings.Contains(string(a), "w") || strings.Contains(string(b), "w")
	x := strings.Contains(string(a), "x") || strings.Contains(string(b), "x")
	s := ""
	if r {
		s += "r"
	}
	if w {
		s += "w"
	} else if r {
		s += "o"
	}
	if x {
		s += "x"
	}
	return Access(s)
}
