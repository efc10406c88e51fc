package integrity

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// realDir resolves every symlink in dir, which must exist.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// realParent resolves the symlinks in p's existing ancestors, leaving its
// last component (which may itself be a symlink) as it is.
func realParent(p string) (string, error) { return realParentIn(p, nil) }

// realParentIn is realParent remembering, in cache when it is not nil,
// the directories it resolved: the items of a set share their parents.
func realParentIn(p string, cache map[string]string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", errors.New("not an absolute path")
	}
	p = filepath.Clean(p)
	dir, base := filepath.Dir(p), filepath.Base(p)
	if dir == p {
		return "", errors.New("the filesystem root cannot be protected")
	}
	var missing []string
	for {
		real, ok := cache[dir]
		var err error
		if !ok {
			real, err = filepath.EvalSymlinks(dir)
		}
		if err == nil {
			if cache != nil {
				cache[dir] = real
			}
			parts := append([]string{real}, missing...)
			return filepath.Join(append(parts, base)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) || filepath.Dir(dir) == dir {
			return "", err
		}
		missing = append([]string{filepath.Base(dir)}, missing...)
		dir = filepath.Dir(dir)
	}
}
