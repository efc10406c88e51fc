package cage

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// closureEntry is one store path of a closure with its NAR size.
type closureEntry struct {
	Path string
	Size int64
}

// cachedClosure is a cache file: a store path's closure, which never
// changes while the store path exists.
type cachedClosure struct {
	Path    string
	Closure []closureEntry
}

// maxCacheSize bounds a cache file read.
const maxCacheSize = 16 << 20 // 16 MiB

// closure returns a store path's closure, from the cache or from nix-store.
func (r *resolver) closure(top string) ([]closureEntry, error) {
	if c := r.cached(top); c != nil {
		return c, nil
	}
	out, err := r.nix.Run(r.root, "nix-store", "--query", "--requisites", top)
	if err != nil {
		return nil, err
	}
	paths := fields(out)
	out, err = r.nix.Run(r.root, "nix-store", append([]string{"--query", "--size"}, paths...)...)
	if err != nil {
		return nil, err
	}
	sizes := fields(out)
	if len(sizes) != len(paths) {
		return nil, fmt.Errorf("nix-store gave %d sizes for %d paths", len(sizes), len(paths))
	}
	c := make([]closureEntry, len(paths))
	for i, p := range paths {
		n, err := strconv.ParseInt(sizes[i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("nix-store --query --size: %q is not a size", sizes[i])
		}
		c[i] = closureEntry{p, n}
	}
	if !r.valid(top, c) {
		return nil, fmt.Errorf("nix-store --query --requisites %s: unexpected answer %q", top, paths)
	}
	r.save(top, c)
	return c, nil
}

// valid checks a closure: store paths only, top among them.
func (r *resolver) valid(top string, c []closureEntry) bool {
	found := false
	for _, e := range c {
		if r.top(e.Path) != e.Path {
			return false
		}
		found = found || e.Path == top
	}
	return found
}

func (r *resolver) cacheFile(top string) string {
	return filepath.Join(r.cache, filepath.Base(top)+".json")
}

func (r *resolver) cached(top string) []closureEntry {
	if r.cache == "" {
		return nil
	}
	f, err := os.Open(r.cacheFile(top))
	if err != nil {
		return nil
	}
	defer f.Close()
	var c cachedClosure
	if json.NewDecoder(io.LimitReader(f, maxCacheSize)).Decode(&c) != nil || c.Path != top || !r.valid(top, c.Closure) {
		return nil
	}
	return c.Closure
}

// save writes the cache file; a cache that cannot be written only costs
// the next entry a call to nix.
func (r *resolver) save(top string, c []closureEntry) {
	if r.cache == "" || os.MkdirAll(r.cache, 0o700) != nil {
		return
	}
	data, err := json.Marshal(cachedClosure{Path: top, Closure: c})
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(r.cache, ".closure-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), r.cacheFile(top)) != nil {
		os.Remove(tmp.Name())
	}
}
