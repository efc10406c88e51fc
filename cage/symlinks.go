package cage

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// SymlinkCache resolves symlinks as filepath.EvalSymlinks does, but
// remembers every directory it symlinkResult on the way, so that resolving the
// hundreds of paths one entry grants or refuses (most of them siblings in
// /etc, /usr/lib or the home) costs one lstat each instead of one per
// component. It answers for one moment: build a new one for each entry.
type SymlinkCache struct {
	fs   FS
	memo map[string]symlinkResult
}

type symlinkResult struct {
	path string
	err  error
}

// NewSymlinkCache reads through fsys.
func NewSymlinkCache(fsys FS) *SymlinkCache {
	return &SymlinkCache{fs: fsys, memo: map[string]symlinkResult{}}
}

// EvalSymlinks returns p with every symlink symlinkResult; p must exist.
func (c *SymlinkCache) EvalSymlinks(p string) (string, error) {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.Contains(p, "/../") {
		// Relative or unclean paths: ".." after a symlink is taken after
		// resolving it, which a cleaned path would get wrong.
		return c.fs.EvalSymlinks(p)
	}
	return c.eval(p)
}

func (c *SymlinkCache) eval(p string) (string, error) {
	if p == "/" {
		return "/", nil
	}
	if r, ok := c.memo[p]; ok {
		return r.path, r.err
	}
	var r symlinkResult
	dir, base := filepath.Split(p)
	parent, err := c.eval(filepath.Clean(dir))
	if err != nil {
		r.err = err
	} else {
		full := filepath.Join(parent, base)
		fi, err := c.fs.Lstat(full)
		switch {
		case err != nil:
			r.err = err
		case fi.Mode()&fs.ModeSymlink != 0:
			// Rare: let the standard resolver follow the link (and links
			// in its target) from the already symlinkResult parent.
			r.path, r.err = c.fs.EvalSymlinks(full)
		default:
			r.path = full
		}
	}
	c.memo[p] = r
	return r.path, r.err
}

// Loose resolves p as far as it exists: the longest existing prefix has
// its symlinks symlinkResult and the rest is appended as written.
func (c *SymlinkCache) Loose(p string) string {
	rest := ""
	for d := p; ; d = filepath.Dir(d) {
		if r, err := c.EvalSymlinks(d); err == nil {
			return filepath.Join(r, rest)
		}
		if d == "/" || d == "." {
			return p
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

// cachedFS is an FS whose EvalSymlinks goes through a SymlinkCache.
type cachedFS struct {
	FS
	cache *SymlinkCache
}

func (c cachedFS) EvalSymlinks(p string) (string, error) { return c.cache.EvalSymlinks(p) }
