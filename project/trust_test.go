package project

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func state(t *testing.T, s *TrustStore, path, content string) TrustState {
	t.Helper()
	st, err := s.State(path, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTrustStates(t *testing.T) {
	h, proj := testHost(t)
	s := NewTrustStore(h.TrustDir())
	path := filepath.Join(proj, ConfigName)
	const v1 = "profile = \"offline\"\n"
	steps := []struct {
		do      func() error
		content string
		want    TrustState
	}{
		{nil, v1, Untrusted},
		{func() error { return s.Allow(path, []byte(v1)) }, v1, Trusted},
		{nil, v1 + " ", Changed}, // a one-byte edit blocks again
		{nil, "profile = \"offlinf\"\n", Changed},
		{func() error { return s.Deny(path) }, v1, Denied},
		{nil, v1 + "#", Denied},
		{func() error { return s.Allow(path, []byte(v1)) }, v1, Trusted},
		{func() error { return s.Allow(path, []byte(v1+"#\n")) }, v1 + "#\n", Trusted},
		{nil, v1, Changed}, // the older allowed content is not trusted any more
	}
	for i, st := range steps {
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		if got := state(t, s, path, st.content); got != st.want {
			t.Errorf("step %d: state %v, want %v", i, got, st.want)
		}
	}
	prev, ok, err := s.Previous(path)
	if err != nil || !ok || string(prev) != v1+"#\n" {
		t.Errorf("previous = %q %v %v", prev, ok, err)
	}
}

// TestTrustIsPerPath: a copy of the project elsewhere needs its own trust.
func TestTrustIsPerPath(t *testing.T) {
	h, proj := testHost(t)
	s := NewTrustStore(h.TrustDir())
	const c = "profile = \"devNet\"\n"
	a := filepath.Join(proj, ConfigName)
	b := filepath.Join(h.Home, "copy", ConfigName)
	if err := s.Allow(a, []byte(c)); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, b, c); got != Untrusted {
		t.Errorf("copy: %v", got)
	}
	if err := s.Deny(b); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, a, c); got != Trusted {
		t.Errorf("original after denying the copy: %v", got)
	}
}

func TestTrustFileModes(t *testing.T) {
	h, proj := testHost(t)
	dir := h.TrustDir()
	s := NewTrustStore(dir)
	path := filepath.Join(proj, ConfigName)
	if err := s.Allow(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(filepath.Join(proj, "other")); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
		if strings.HasPrefix(fi.Name(), ".tmp-") {
			t.Errorf("left a temporary file: %s", p)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 { // trust, allow, index, deny, one file in each, the stamp
		t.Errorf("walked %d entries", n)
	}
	// The record holds exactly the hashed bytes.
	rec, err := os.ReadFile(filepath.Join(dir, "allow", hashHex([]byte(path+"\nx"))))
	if err != nil || string(rec) != path+"\nx" {
		t.Errorf("record %q %v", rec, err)
	}
}

func TestTrustStoreRefusesSymlinks(t *testing.T) {
	h, proj := testHost(t)
	path := filepath.Join(proj, ConfigName)
	elsewhere := filepath.Join(h.Home, "elsewhere")
	mkdir(t, elsewhere)
	mkdir(t, filepath.Dir(h.TrustDir()))
	if err := symlink(elsewhere, h.TrustDir()); err != nil {
		t.Fatal(err)
	}
	s := NewTrustStore(h.TrustDir())
	if err := s.Allow(path, []byte("x")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("allow through a symlinked store: %v", err)
	}
	os.Remove(h.TrustDir())

	// A record that is a symlink is not read.
	if err := s.Allow(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	deny := filepath.Join(h.TrustDir(), "deny", hashHex([]byte(path)))
	mkdir(t, filepath.Dir(deny))
	if err := symlink(filepath.Join(proj, "whatever"), deny); err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(path, []byte("x")); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("state with a symlinked record: %v", err)
	}
}

func TestTrustRejectsRelativePaths(t *testing.T) {
	s := NewTrustStore(t.TempDir())
	if err := s.Allow("p/.aicage.toml", nil); err == nil {
		t.Error("relative path allowed")
	}
	if _, err := s.State("/a/../b", nil); err == nil {
		t.Error("unclean path accepted")
	}
}

// TestGrantsAndDiff: what the prompt shows, and what it shows after an edit.
func TestGrantsAndDiff(t *testing.T) {
	h, proj := testHost(t)
	path := filepath.Join(proj, ConfigName)
	const old = `[filesystem]
rw = ["~/.cache/go-build"]
[home]
link = ["~/.claude"]
[env]
pass = ["ANTHROPIC_API_KEY"]
[lifecycle]
on_create = "npm ci"
[commands.claude]
argv = ["claude", "--model", "opus 4"]
[commands.claude.network]
udp = "allow"
`
	cfg, err := Parse(path, []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Grants(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range g {
		got = append(got, x.String())
	}
	want := []string{
		"profile aiAgent",
		"rw ~/.cache/go-build",
		"link ~/.claude",
		"connect 443 (profile aiAgent)",
		"connect 22 (profile aiAgent)",
		"udp dns (profile aiAgent)",
		"ssh agent (profile aiAgent)",
		"exec system (default)",
		"pass ANTHROPIC_API_KEY",
		"on_create: npm ci",
		"command claude: claude --model 'opus 4'",
		"command claude: udp allow",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants:\n got %q\nwant %q", got, want)
	}

	const edited = `profile = "devNet"
[filesystem]
rw = ["~/.cache/go-build", "~/.cache/foo"]
[env]
pass = ["ANTHROPIC_API_KEY"]
[lifecycle]
on_create = "npm ci"
[commands.claude]
argv = ["claude", "--model", "opus 4"]
[commands.claude.network]
udp = "allow"
`
	cfg2, err := Parse(path, []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Grants(cfg2, h)
	if err != nil {
		t.Fatal(err)
	}
	added, removed := DiffGrants(g, g2)
	texts := func(gs []Grant) string {
		var s []string
		for _, g := range gs {
			s = append(s, g.Text)
		}
		return strings.Join(s, ", ")
	}
	if got := texts(added); got != "profile devNet, rw ~/.cache/foo, connect 80, connect 3000, connect 5000, connect 8080, bind 3000, bind 5000, bind 8000, bind 8080, host 127.0.0.1, host ::1" {
		t.Errorf("now asks for: %s", got)
	}
	if got := texts(removed); got != "profile aiAgent, link ~/.claude" {
		t.Errorf("no longer asks for: %s", got)
	}
}

func TestGrantsRefuse(t *testing.T) {
	h, proj := testHost(t)
	cfg, err := Parse(filepath.Join(proj, ConfigName), []byte("[commands.x]\nargv = [\"x\"]\n[commands.x.filesystem]\nrw = [\"~\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Grants(cfg, h)
	wantError(t, err, "commands.x.filesystem.rw[0]:", "refusing")
}

// TestTrustStamp: every allow and deny gives the stamp a new token, after
// the records; reading the store does not. A path's generation changes
// with its own allows and denies only.
func TestTrustStamp(t *testing.T) {
	h, proj := testHost(t)
	s := NewTrustStore(h.TrustDir())
	a := filepath.Join(proj, ConfigName)
	b := filepath.Join(h.Home, "other", ConfigName)
	const c = "profile = \"offline\"\n"
	stamp := func() string {
		data, err := os.ReadFile(s.StampPath())
		if os.IsNotExist(err) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := stamp(); got != "" {
		t.Fatalf("a stamp before any change: %q", got)
	}
	genA := s.Generation(a)
	last := ""
	steps := []struct {
		name    string
		do      func() error
		changeA bool
	}{
		{"allow a", func() error { return s.Allow(a, []byte(c)) }, true},
		{"allow a again", func() error { return s.Allow(a, []byte(c)) }, true},
		{"allow b", func() error { return s.Allow(b, []byte(c)) }, false},
		{"deny b", func() error { return s.Deny(b) }, false},
		{"deny a", func() error { return s.Deny(a) }, true},
		{"allow a after deny", func() error { return s.Allow(a, []byte(c)) }, true},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := stamp()
		if len(got) != 33 || strings.Trim(got[:32], "0123456789abcdef") != "" || got == last {
			t.Errorf("%s: stamp %q after %q: want a new token of 32 hex digits and a newline", st.name, got, last)
		}
		last = got
		if g := s.Generation(a); (g != genA) != st.changeA {
			t.Errorf("%s: a's generation changed: %v, want %v", st.name, g != genA, st.changeA)
		} else {
			genA = g
		}
	}
	if _, err := s.State(a, []byte(c)); err != nil {
		t.Fatal(err)
	}
	if got := stamp(); got != last {
		t.Errorf("reading the store changed the stamp")
	}
	fi, err := os.Lstat(s.StampPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("stamp mode: %v %v, want 0600", fi.Mode(), err)
	}
}
