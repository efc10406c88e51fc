package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testHost makes a fake home with XDG defaults under it and a project
// directory inside it; env holds the outside environment.
func testHost(t *testing.T, env ...string) (Host, string) {
	t.Helper()
	base := t.TempDir()
	home := filepath.Join(base, "home")
	proj := filepath.Join(home, "src", "app")
	mkdir(t, proj)
	return NewHost(home, proj, env), proj
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// load writes a config into proj, parses and resolves it.
func load(t *testing.T, h Host, proj, content string, opts Options) (*Project, error) {
	t.Helper()
	path := filepath.Join(proj, ConfigName)
	writeFile(t, path, content)
	cfg, err := Parse(path, []byte(content))
	if err != nil {
		return nil, err
	}
	return Resolve(cfg, h, opts)
}

// wantError checks that err is an *Error whose text contains every want.
func wantError(t *testing.T, err error, wants ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wants)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *project.Error", err, err)
	}
	for _, w := range wants {
		if !strings.Contains(e.Error(), w) {
			t.Errorf("error %q does not contain %q (hint %q)", e.Error(), w, e.Hint)
		}
	}
	return e
}

func symlink(target, link string) error { return os.Symlink(target, link) }
