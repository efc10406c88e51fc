package cage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// WriteHomeFile leaves a file that already says the same alone (no write
// per entry), and replaces one that does not.
func TestWriteHomeFileUnchanged(t *testing.T) {
	root := t.TempDir()
	p := &Policy{Root: root, StateDir: filepath.Join(root, ".aicage", "state")}
	p.Home = filepath.Join(p.StateDir, "home")
	if err := os.MkdirAll(p.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(p.Home, "a", "policy.json")
	if err := WriteHomeFile(p, "a/policy.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(file, old, old)
	if err := WriteHomeFile(p, "a/policy.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged file was written again (mtime %v)", fi.ModTime())
	}
	for _, next := range []string{"two", "twoo", "t"} {
		if err := WriteHomeFile(p, "a/policy.json", []byte(next)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(file); string(b) != next {
			t.Errorf("after writing %q the file says %q", next, b)
		}
	}
}
