package cage

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSymlinkCacheMatchesEvalSymlinks resolves a tree of links, chains,
// dangling links and files used as directories, each path twice (the
// second from the cache), and compares with filepath.EvalSymlinks.
func TestSymlinkCacheMatchesEvalSymlinks(t *testing.T) {
	d := t.TempDir()
	for _, dir := range []string{"a/b/c", "x/y"} {
		if err := os.MkdirAll(filepath.Join(d, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "a/b/file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel":      "a/b",
		"abs":      filepath.Join(d, "x"),
		"chain":    "rel",
		"up":       "a/b/c/../../..",
		"dangling": "missing",
		"a/b/c/to": "../../../x/y",
		"loop1":    "loop2",
		"loop2":    "loop1",
		"x/y/back": "../../a",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{
		"", "a", "a/b/c", "rel", "rel/c", "abs/y", "chain/c/to", "chain/c/to/back/b/file",
		"up", "up/x", "dangling", "dangling/z", "a/b/file", "a/b/file/z", "loop1", "loop1/z",
		"x/y/back/b", "missing", "missing/z", "a/b/c/to/back/b/c/to",
	}
	c := NewSymlinkCache(OSFS{})
	for round := 0; round < 2; round++ {
		for _, p := range paths {
			full := filepath.Join(d, p)
			want, werr := filepath.EvalSymlinks(full)
			got, gerr := c.EvalSymlinks(full)
			if got != want || (werr == nil) != (gerr == nil) {
				t.Errorf("round %d: %s: got %q, %v; want %q, %v", round, p, got, gerr, want, werr)
			}
		}
	}
	if got, want := c.Loose(filepath.Join(d, "rel/new/deeper")), filepath.Join(d, "a/b/new/deeper"); got != want {
		t.Errorf("Loose = %q, want %q", got, want)
	}
}
