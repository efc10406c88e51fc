package hardlinks

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixture is a project with a pnpm-style store beside it, outside.
type fixture struct {
	t                 *testing.T
	work, proj, store string
	cache             string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	old := racyWindow
	racyWindow = 0 // every directory here is new: trust keys at once
	t.Cleanup(func() { racyWindow = old })
	work := t.TempDir()
	f := &fixture{t: t, work: work, proj: filepath.Join(work, "proj"), store: filepath.Join(work, "store"),
		cache: filepath.Join(work, "state", "hardlinks")}
	f.write("store/files/ab/c0ffee", "ORIGINAL\n")
	f.write("proj/README", "plain\n")
	f.write("proj/src/a.go", "package a\n")
	f.link("store/files/ab/c0ffee", "proj/node_modules/.pnpm/left-pad@1.0.0/node_modules/left-pad/index.js")
	f.write("proj/own/one", "twice inside\n")
	f.link("proj/own/one", "proj/own/two")
	return f
}

func (f *fixture) abs(rel string) string { return filepath.Join(f.work, rel) }

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	p := f.abs(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) link(from, to string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(f.abs(to)), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Link(f.abs(from), f.abs(to)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) find(full bool) *Report {
	f.t.Helper()
	rep, err := Find([]string{f.proj}, Options{Cache: f.cache, Full: full})
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

func paths(links []Link) []string {
	var out []string
	for _, l := range links {
		out = append(out, l.Path)
	}
	return out
}

func TestFindTellsOutsideFromInside(t *testing.T) {
	f := newFixture(t)
	rep := f.find(false)
	want := []string{f.abs("proj/node_modules/.pnpm/left-pad@1.0.0/node_modules/left-pad/index.js")}
	if got := paths(rep.Outside); !slices.Equal(got, want) {
		t.Errorf("outside: got «%v», want «%v»", got, want)
	}
	if l := rep.Outside[0]; l.Nlink != 2 || l.Seen != 1 || l.Elsewhere() != 1 || len(l.Names) != 1 {
		t.Errorf("link %+v: want 2 names, 1 seen", l)
	}
	if rep.Inside != 1 {
		t.Errorf("inside: got %d, want 1 (own/one and own/two)", rep.Inside)
	}
	if !rep.Full || rep.Read != rep.Dirs || rep.Dirs != 8 {
		t.Errorf("first walk: full %v, read %d of %d dirs, want full, 8 of 8", rep.Full, rep.Read, rep.Dirs)
	}
	// The store, walked as a second writable tree, makes the link harmless.
	rep, err := Find([]string{f.proj, f.store, f.proj + "/src"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Outside) != 0 || rep.Inside != 2 {
		t.Errorf("with the store walked too: outside %v, inside %d; want none, 2", paths(rep.Outside), rep.Inside)
	}
}

func TestFindCacheReadsOnlyChangedDirectories(t *testing.T) {
	f := newFixture(t)
	f.find(false)
	rep := f.find(false)
	if rep.Full || rep.Read != 0 || len(rep.Outside) != 1 {
		t.Fatalf("repeat: full %v, read %d, outside %v; want the cache, 0 read, 1 outside", rep.Full, rep.Read, paths(rep.Outside))
	}
	// A link made inside the project changes its directory's key ...
	f.write("store/files/cd/1", "one\n")
	f.write("store/files/cd/2", "two\n")
	f.link("store/files/cd/1", "proj/src/vendored.js")
	rep = f.find(false)
	if rep.Read != 1 || len(rep.Outside) != 2 {
		t.Errorf("after a new link: read %d dirs, outside %v; want 1 read, 2 outside", rep.Read, paths(rep.Outside))
	}
	// ... even when its mtime is set back: ctime cannot be.
	fi, err := os.Stat(f.abs("proj/src"))
	if err != nil {
		t.Fatal(err)
	}
	f.link("store/files/cd/2", "proj/src/again.js")
	if err := os.Chtimes(f.abs("proj/src"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	rep = f.find(false)
	if rep.Read != 1 || len(rep.Outside) != 3 {
		t.Errorf("after a link with the mtime set back: read %d, outside %v; want 1 read, 3 outside", rep.Read, paths(rep.Outside))
	}
}

// TestFindCacheMissesLinkFromOutside documents the limitation: a name
// added outside to a file the cache saw alone changes no directory in the
// tree. A full walk finds it; so does the first walk after MaxCacheAge.
func TestFindCacheMissesLinkFromOutside(t *testing.T) {
	f := newFixture(t)
	f.find(false)
	f.link("proj/README", "store/readme-twin")
	if rep := f.find(false); len(rep.Outside) != 1 {
		t.Errorf("cached walk: outside %v; the cache was expected to miss the new link", paths(rep.Outside))
	}
	if rep := f.find(true); len(rep.Outside) != 2 {
		t.Errorf("full walk: outside %v, want README too", paths(rep.Outside))
	}
}

func TestFindCacheExpiresAndSurvivesDamage(t *testing.T) {
	f := newFixture(t)
	f.find(false)
	cd := loadCache(f.cache, time.Now())
	if cd == nil {
		t.Fatal("no cache after a walk")
	}
	if loadCache(f.cache, time.Now().Add(MaxCacheAge+time.Minute)) != nil {
		t.Errorf("a cache older than MaxCacheAge was used")
	}
	b := encodeCache(cd)
	if again, err := decodeCache(string(b)); err != nil || !bytes.Equal(encodeCache(again), b) {
		t.Fatalf("the cache does not survive a round trip: %v", err)
	}
	for _, cut := range []int{0, 5, len(cacheMagic) + 3, len(b) / 2, len(b) - 1} {
		if _, err := decodeCache(string(b[:cut])); err == nil {
			t.Errorf("a cache cut at %d of %d bytes decoded", cut, len(b))
		}
	}
	if err := os.WriteFile(f.cache, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := f.find(false); !rep.Full || len(rep.Outside) != 1 {
		t.Errorf("with a damaged cache: full %v, outside %v; want a full walk", rep.Full, paths(rep.Outside))
	}
}

func TestFindSingleFileTreeAndMissingTree(t *testing.T) {
	f := newFixture(t)
	file := f.abs("proj/node_modules/.pnpm/left-pad@1.0.0/node_modules/left-pad/index.js")
	rep, err := Find([]string{file, f.abs("nowhere")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(rep.Outside); !slices.Equal(got, []string{file}) {
		t.Errorf("outside: got %v, want the file itself", got)
	}
}

func TestBreak(t *testing.T) {
	f := newFixture(t)
	store := f.abs("store/files/ab/c0ffee")
	old := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := os.Chmod(store, 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(store, old, old); err != nil {
		t.Fatal(err)
	}
	rep := f.find(false)
	l := rep.Outside[0]
	if err := Break(l); err != nil {
		t.Fatal(err)
	}
	var st, sst unix.Stat_t
	if err := unix.Lstat(l.Path, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(store, &sst); err != nil {
		t.Fatal(err)
	}
	if st.Ino == sst.Ino || st.Nlink != 1 || sst.Nlink != 1 {
		t.Errorf("after Break: inodes %d and %d, links %d and %d; want two inodes of one link", st.Ino, sst.Ino, st.Nlink, sst.Nlink)
	}
	if st.Mode != sst.Mode || st.Mtim != sst.Mtim || st.Uid != sst.Uid {
		t.Errorf("the copy has mode %o mtime %v uid %d, the original %o %v %d", st.Mode, st.Mtim, st.Uid, sst.Mode, sst.Mtim, sst.Uid)
	}
	if err := os.WriteFile(l.Path, []byte("TAMPERED\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(store); string(b) != "ORIGINAL\n" {
		t.Errorf("the store file says %q after a write to the broken link", b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(l.Path), ".aicage-unlink-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if rep := f.find(false); len(rep.Outside) != 0 {
		t.Errorf("after Break: outside %v", paths(rep.Outside))
	}
}

func TestBreakRefusesAChangedFile(t *testing.T) {
	f := newFixture(t)
	l := f.find(false).Outside[0]
	// The name now holds another file, also linked: it is not the one judged.
	if err := os.Remove(l.Path); err != nil {
		t.Fatal(err)
	}
	f.write("store/other", "OTHER\n")
	if err := os.Link(f.abs("store/other"), l.Path); err != nil {
		t.Fatal(err)
	}
	if err := Break(l); err == nil {
		t.Fatal("Break replaced a file it had not judged")
	}
	var st, ost unix.Stat_t
	unix.Lstat(l.Path, &st)
	unix.Lstat(f.abs("store/other"), &ost)
	if st.Ino != ost.Ino {
		t.Errorf("the name no longer holds the file put there")
	}
}

func TestLikelyTools(t *testing.T) {
	got := LikelyTools([]Link{
		{Path: "/p/.venv/lib/python3.12/site-packages/x.py"},
		{Path: "/p/node_modules/.pnpm/a@1/node_modules/a/i.js"},
		{Path: "/p/node_modules/.pnpm/b@1/node_modules/b/i.js"},
		{Path: "/p/other"},
	})
	if len(got) != 2 || got[0].Name != "pnpm" || got[0].Count != 2 || got[1].Name != "uv" {
		t.Errorf("got %+v, want pnpm (2) then uv (1)", got)
	}
}

// TestBreakEveryName: two names in the project of one store file are both
// given copies of their own.
func TestBreakEveryName(t *testing.T) {
	f := newFixture(t)
	f.link("store/files/ab/c0ffee", "proj/src/again.js")
	rep := f.find(false)
	if len(rep.Outside) != 1 || len(rep.Outside[0].Names) != 2 || rep.Outside[0].Nlink != 3 {
		t.Fatalf("outside %+v, want one file with two names here and three in all", rep.Outside)
	}
	l := rep.Outside[0]
	for _, name := range l.Names {
		l.Path = name
		if err := Break(l); err != nil {
			t.Fatal(err)
		}
	}
	if rep := f.find(false); len(rep.Outside) != 0 {
		t.Errorf("after breaking both names: outside %v", paths(rep.Outside))
	}
}

// TestFindSummary: with nothing changed, a summary stands in for the walk's
// judgement; a change brings the full list back.
func TestFindSummary(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < SummaryLinks+2; i++ {
		name := "store/many/" + string(rune('a'+i))
		f.write(name, "x\n")
		f.link(name, "proj/many/"+string(rune('a'+i)))
	}
	first := f.find(false)
	rep, err := Find([]string{f.proj}, Options{Cache: f.cache, Summary: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != 0 || rep.Files != first.Files || rep.Files != SummaryLinks+3 || len(rep.Outside) != SummaryLinks ||
		rep.Outside[0].Path != first.Outside[0].Path || rep.Inside != first.Inside {
		t.Errorf("summary: read %d, files %d of %d, %d links, inside %d; want 0 read, %d files, %d links, inside %d",
			rep.Read, rep.Files, first.Files, len(rep.Outside), rep.Inside, SummaryLinks+3, SummaryLinks, first.Inside)
	}
	if rep := f.find(false); len(rep.Outside) != SummaryLinks+3 {
		t.Errorf("without Summary: %d links, want all %d", len(rep.Outside), SummaryLinks+3)
	}
}

// TestFindProgress: a walk that outlasts progressAfter says so once; one
// that ends sooner says nothing.
func TestFindProgress(t *testing.T) {
	f := newFixture(t)
	// Enough directories that the walk outlasts a timer of 1ns by far.
	for i := 0; i < 300; i++ {
		if err := os.MkdirAll(filepath.Join(f.proj, "many", strconv.Itoa(i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := progressAfter
	t.Cleanup(func() { progressAfter = old })
	for _, tc := range []struct {
		after time.Duration
		want  int32
	}{{time.Hour, 0}, {time.Nanosecond, 1}} {
		progressAfter = tc.after
		var n atomic.Int32
		done := make(chan struct{})
		progress := func() { n.Add(1); close(done) }
		if _, err := Find([]string{f.proj}, Options{Full: true, Progress: progress}); err != nil {
			t.Fatal(err)
		}
		if tc.want > 0 {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
		}
		if got := n.Load(); got != tc.want {
			t.Errorf("progress after %v: called %d times, want %d", tc.after, got, tc.want)
		}
	}
}

// TestVerify: a link whose other name went away since the cache was
// written is dropped; one still linked stays.
func TestVerify(t *testing.T) {
	f := newFixture(t)
	f.write("store/two", "2\n")
	f.link("store/two", "proj/src/two.js")
	rep := f.find(false)
	if len(rep.Outside) != 2 {
		t.Fatalf("outside %v, want 2", paths(rep.Outside))
	}
	if err := os.Remove(f.abs("store/two")); err != nil {
		t.Fatal(err)
	}
	got := Verify(rep.Outside)
	if len(got) != 1 || got[0].Path != rep.Outside[0].Path && got[0].Path != rep.Outside[1].Path || filepath.Base(got[0].Path) == "two.js" {
		t.Errorf("after the store's name went away: %v, want index.js alone", paths(got))
	}
}
