package integrity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

type discovery struct {
	root      string
	home      string
	items     map[string]Item
	gitDirs   map[string]bool
	mainGit   string // the common git directory of the project's repository
	removable bool   // what add adds now may disappear
}

// add puts p in the set. An exact item wins over a git config one; an item
// found both removable and not is not removable.
func (d *discovery) add(p string, k Kind, source string) {
	p = filepath.Clean(p)
	if real, err := realParent(p); err == nil {
		p = real
	}
	if old, ok := d.items[p]; ok {
		old.Removable = old.Removable && d.removable
		if old.Kind == Exact || k == GitConfig {
			d.items[p] = old
			return
		}
	}
	d.items[p] = Item{Path: p, Kind: k, Source: source, Removable: d.removable}
}

// addRemovable is add for an item that may disappear.
func (d *discovery) addRemovable(p string, k Kind, source string) {
	d.removable = true
	d.add(p, k, source)
	d.removable = false
}

// findGitEntry finds the directory holding the .git that git would use
// for dir, the way git searches: dir, then its parents.
func findGitEntry(dir string) (string, bool) {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// repoAt protects the repository whose worktree is top.
func (d *discovery) repoAt(top string, depth int) {
	entry := filepath.Join(top, ".git")
	fi, err := os.Lstat(entry)
	if err != nil {
		return
	}
	inside := within(entry, d.root)
	gitDir := entry
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if inside {
			d.add(entry, Exact, "git dir entry")
		}
		if t, err := filepath.EvalSymlinks(entry); err == nil {
			if tfi, err := os.Stat(t); err == nil && !tfi.IsDir() {
				gitDir, _ = readGitFile(t)
			} else {
				gitDir = t
			}
		}
	case fi.Mode().IsRegular():
		if inside && depth > 0 {
			d.addRemovable(entry, Exact, "gitdir file") // a submodule's checkout
		} else if inside {
			d.add(entry, Exact, "gitdir file")
		}
		gitDir, err = readGitFile(entry)
		if err != nil {
			return
		}
	}
	d.gitDir(gitDir, top, depth)
}

// readGitFile reads a "gitdir: <path>" file; a relative path is relative
// to the file's directory.
func readGitFile(p string) (string, error) {
	data, err := readLimited(p, maxGitFile)
	if err != nil {
		return "", err
	}
	rest, ok := bytes.CutPrefix(data, []byte("gitdir: "))
	if !ok {
		return "", fmt.Errorf("%s: not a gitdir file", p)
	}
	dir := strings.TrimRight(string(rest), "\r\n")
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(p), dir)
	}
	return filepath.Clean(dir), nil
}

// gitDir protects a git directory g of the worktree top, and follows it to
// its common directory, worktrees and submodules.
func (d *discovery) gitDir(g, top string, depth int) {
	g, err := filepath.EvalSymlinks(g)
	if err != nil || d.gitDirs[g] || depth > maxModuleDepth || len(d.items) > maxItems {
		return
	}
	d.gitDirs[g] = true
	d.gitDirFiles(g, top)
	common := g
	if c, err := readLimited(filepath.Join(g, "commondir"), maxGitFile); err == nil {
		common = strings.TrimRight(string(c), "\r\n")
		if !filepath.IsAbs(common) {
			common = filepath.Join(g, common)
		}
		d.gitDir(common, top, depth)
	}
	if depth == 0 && d.mainGit == "" {
		if real, err := filepath.EvalSymlinks(common); err == nil {
			d.mainGit = real
		}
	}
	d.worktrees(filepath.Join(g, "worktrees"))
	d.modules(filepath.Join(g, "modules"), depth+1)
	d.gitmodules(top, depth+1)
}

func (d *discovery) gitDirFiles(g, top string) {
	d.add(filepath.Join(g, "hooks"), Exact, "git hooks")
	d.add(filepath.Join(g, "info"), Exact, "git info")
	d.add(filepath.Join(g, "commondir"), Exact, "git commondir")
	for _, name := range []string{"config", "config.worktree"} {
		p := filepath.Join(g, name)
		d.add(p, GitConfig, "git "+name)
		d.configRefs(p, top, 0)
	}
}

// worktrees protects the per-worktree git directories under dir and the
// "gitdir: …" files of worktrees inside the project.
func (d *discovery) worktrees(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		wt := filepath.Join(dir, e.Name())
		if !e.IsDir() || d.gitDirs[wt] {
			continue
		}
		d.gitDirs[wt] = true
		top := ""
		if gitFile, err := readLimited(filepath.Join(wt, "gitdir"), maxGitFile); err == nil {
			f := filepath.Clean(strings.TrimRight(string(gitFile), "\r\n"))
			top = filepath.Dir(f)
			if within(f, d.root) {
				d.addRemovable(f, Exact, "gitdir file")
			}
		}
		d.removable = true
		d.gitDirFiles(wt, top)
		d.removable = false
	}
}

// modules protects every submodule git directory under dir; a module's
// name may contain slashes, so a directory without HEAD is searched.
func (d *discovery) modules(dir string, depth int) {
	if depth > maxModuleDepth {
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		m := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(m, "HEAD")); err != nil {
			d.modules(m, depth+1)
			continue
		}
		top := ""
		if cfg := parseFile(filepath.Join(m, "config")); cfg != nil {
			if wt := cfg.all("core.worktree"); len(wt) > 0 {
				top = filepath.Clean(joinRel(m, wt[len(wt)-1]))
				if f := filepath.Join(top, ".git"); within(f, d.root) {
					if fi, err := os.Lstat(f); err == nil && !fi.IsDir() {
						d.addRemovable(f, Exact, "gitdir file")
					}
				}
			}
		}
		d.gitDir(m, top, depth)
	}
}

// gitmodules follows .gitmodules in top to submodules whose .git is inside
// their worktree.
func (d *discovery) gitmodules(top string, depth int) {
	if top == "" || depth > maxModuleDepth {
		return
	}
	cfg := parseFile(filepath.Join(top, ".gitmodules"))
	if cfg == nil {
		return
	}
	for _, l := range cfg.lines {
		if l.header || !strings.HasPrefix(l.base, "submodule.") || l.key != "path" {
			continue
		}
		sub := filepath.Join(top, l.value)
		if within(sub, top) && sub != top {
			d.repoAt(sub, depth)
		}
	}
}

// configRefs protects what the config file p makes git read or run from
// the project: included files (as git config) and core.hooksPath.
func (d *discovery) configRefs(p, top string, depth int) {
	cfg := parseFile(p)
	if cfg == nil || depth > 10 {
		return
	}
	for _, l := range cfg.lines {
		switch {
		case l.header || l.noValue:
		case l.key == "path" && (l.base == "include" || strings.HasPrefix(l.base, "includeif.")):
			inc := d.expand(l.value, filepath.Dir(p))
			if inc != "" && within(inc, d.root) {
				if _, seen := d.items[inc]; !seen {
					d.add(inc, GitConfig, "included by "+d.rel(p))
					d.configRefs(inc, top, depth+1)
				}
			}
		case l.base == "core" && l.key == "hookspath" && top != "":
			if h := d.expand(l.value, top); h != "" {
				d.add(h, Exact, "core.hooksPath")
			}
		}
	}
}

// expand resolves a path from a config value the way git does: "~/" is the
// home directory, a relative path is relative to dir.
func (d *discovery) expand(v, dir string) string {
	switch {
	case v == "":
		return ""
	case strings.HasPrefix(v, "~/"):
		if d.home == "" {
			return ""
		}
		v = filepath.Join(d.home, v[2:])
	case strings.HasPrefix(v, "~"):
		return "" // another user's home: not ours to protect
	case !filepath.IsAbs(v):
		v = filepath.Join(dir, v)
	}
	return filepath.Clean(v)
}

// effectiveHooks asks git which hooks directory it really uses in dir, so
// that a core.hooksPath from the user's global or system config (".githooks",
// relative to the worktree) is protected too.
func (d *discovery) effectiveHooks(dir string) {
	if !d.outsideConfigMayMoveHooks() {
		return // the git dirs' own hooks and core.hooksPath stand; no git to start
	}
	ctx, cancel := context.WithTimeout(context.Background(), gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gitBinary, "-C", dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	out, err := cmd.Output()
	if err != nil {
		return // no git, or too old for --path-format: the git dirs' hooks stand
	}
	if h := strings.TrimSpace(string(out)); filepath.IsAbs(h) {
		if real, err := realParent(h); err == nil {
			d.add(real, Exact, "hooks directory git uses")
		}
	}
}

// extra adds a [protect] path.
func (d *discovery) extra(p string) error {
	if p == "" {
		return errors.New("integrity: empty [protect] path")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.root, p)
	}
	p = filepath.Clean(p)
	real, err := realParent(p)
	if err != nil {
		return fmt.Errorf("integrity: [protect] path %q: %w", p, err)
	}
	if within(d.root, real) {
		return fmt.Errorf("integrity: [protect] path %q would protect the whole project", p)
	}
	if d.mainGit != "" && within(d.mainGit, real) {
		return fmt.Errorf("integrity: [protect] path %q holds the git directory, which git must write; protect files in it instead", p)
	}
	// A symlink on the way inside the project is protected too, or the
	// cage could point it elsewhere.
	if within(p, d.root) {
		q := d.root
		rel, _ := filepath.Rel(d.root, filepath.Dir(p))
		for _, c := range strings.Split(rel, string(filepath.Separator)) {
			if c == "." {
				break
			}
			q = filepath.Join(q, c)
			if fi, err := os.Lstat(q); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				d.add(q, Exact, "symlink on the way to a [protect] path")
			}
		}
	}
	d.add(real, Exact, "[protect] paths")
	return nil
}

// followSymlinks protects what symlinks in the set point to: a hook that is
// a symlink into the project runs whatever the target says.
func (d *discovery) followSymlinks() {
	queue := make([]Item, 0, len(d.items))
	for _, it := range d.items {
		queue = append(queue, it)
	}
	budget := maxNodes
	for len(queue) > 0 && budget > 0 {
		it := queue[0]
		queue = queue[1:]
		_ = filepath.WalkDir(it.Path, func(p string, e fs.DirEntry, err error) error {
			if budget--; err != nil || budget < 0 {
				return filepath.SkipDir
			}
			if e.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			t, err := filepath.EvalSymlinks(p)
			if err != nil || within(d.root, t) {
				return nil // dangling, or the whole project (or more)
			}
			if _, seen := d.items[t]; !seen {
				k := Exact
				if it.Kind == GitConfig && p == it.Path {
					k = GitConfig
				}
				d.add(t, k, "target of symlink "+d.rel(p))
				queue = append(queue, d.items[t])
			}
			return nil
		})
	}
}

// set returns the items sorted, without those inside an exact item.
func (d *discovery) set() Set {
	paths := make([]string, 0, len(d.items))
	for p := range d.items {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	s := Set{Root: d.root}
	for _, p := range paths {
		inside := false
		for _, q := range paths {
			if q != p && within(p, q) && d.items[q].Kind == Exact {
				inside = true
				break
			}
		}
		if !inside {
			s.Items = append(s.Items, d.items[p])
		}
	}
	return s
}

func (d *discovery) rel(p string) string {
	if r, err := filepath.Rel(d.root, p); err == nil && within(p, d.root) {
		return r
	}
	return p
}

// parseFile parses a git config file, or returns nil.
func parseFile(p string) *gitConfig {
	data, err := readLimited(p, maxConfigSize)
	if err != nil {
		return nil
	}
	cfg, err := parseGitConfig(data)
	if err != nil {
		return nil
	}
	return cfg
}

func joinRel(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// outsideConfigMayMoveHooks reports whether a config file outside the
// project (global or system) could set core.hooksPath: it names hooksPath
// or includes another file, or cannot be read. Starting git to ask costs
// more than every other part of an entry, so it is asked only then.
func (d *discovery) outsideConfigMayMoveHooks() bool {
	files := []string{"/etc/gitconfig"}
	if v := os.Getenv("GIT_CONFIG_GLOBAL"); v != "" {
		files = append(files, v)
	}
	if v := os.Getenv("GIT_CONFIG_SYSTEM"); v != "" {
		files = append(files, v)
	}
	if v := os.Getenv("XDG_CONFIG_HOME"); v != "" {
		files = append(files, filepath.Join(v, "git", "config"))
	}
	if d.home != "" {
		files = append(files, filepath.Join(d.home, ".gitconfig"), filepath.Join(d.home, ".config", "git", "config"))
	}
	if os.Getenv("GIT_CONFIG_COUNT") != "" || os.Getenv("GIT_CONFIG_PARAMETERS") != "" {
		return true
	}
	for _, f := range files {
		data, err := readLimited(f, maxConfigScan)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return true
		}
		low := bytes.ToLower(data)
		if bytes.Contains(low, []byte("hookspath")) || bytes.Contains(low, []byte("include")) {
			return true
		}
	}
	return false
}

// maxConfigScan bounds what is read of an outside git config.
const maxConfigScan = 4 << 20 // 4 MiB
