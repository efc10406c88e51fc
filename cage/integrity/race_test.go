//go:build linux

package integrity

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// putConfig writes the git config file rel the way git does: the whole
// file to rel.lock, renamed over rel.
func (p *project) putConfig(rel, content string) {
	p.t.Helper()
	lock := p.path(rel + ".lock")
	if err := os.WriteFile(lock, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(lock, p.path(rel)); err != nil {
		p.t.Fatal(err)
	}
}

// TestAllowedEditRacingRestore is two git config runs in a row, many
// times: the first sets a forbidden key, the second (which read the file
// before the watcher's restore) sets the same plus an allowed one. The
// second file often lands while the restore of the first is being written;
// once the watcher has settled, its allowed key must be there and its
// forbidden one must not. (Before restores were swapped in with
// RENAME_EXCHANGE, most rounds lost the allowed key.)
func TestAllowedEditRacingRestore(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.start()
	const rounds = 200
	var lost []int
	for i := 1; i <= rounds; i++ {
		base := readFile(t, p.path(".git/config"))
		p.putConfig(".git/config", base+"[core]\n\tpager = x\n")
		email := fmt.Sprintf("u%d@example.com", i)
		p.putConfig(".git/config", base+"[core]\n\tpager = x\n[user]\n\temail = "+email+"\n")
		waitFor(t, "core.pager still set", func() bool {
			return !strings.Contains(readFile(t, p.path(".git/config")), "pager")
		})
		p.w.sync()
		cfg := readFile(t, p.path(".git/config"))
		if strings.Contains(cfg, "pager") {
			t.Fatalf("round %d: core.pager survived:\n%s", i, cfg)
		}
		if !strings.Contains(cfg, "\temail = "+email+"\n") {
			lost = append(lost, i)
		}
	}
	if len(lost) > 0 {
		t.Errorf("the allowed edit was lost in %d of %d rounds: %v", len(lost), rounds, lost)
	}
	if got := p.git("config", "--get", "user.email"); got != fmt.Sprintf("u%d@example.com", rounds) {
		t.Errorf("user.email = %q after the last round", got)
	}
}

// raceOnce returns a beforeSwap hook that, the first time it runs, renames
// content over the git config file rel, as a second git run would while
// the watcher writes its restore.
func (p *project) raceOnce(rel, content string) func() {
	done := false
	return func() {
		if done {
			return
		}
		done = true
		tmp := filepath.Join(filepath.Dir(p.path(rel)), "racing")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err == nil {
			_ = os.Rename(tmp, p.path(rel))
		}
	}
}

// TestAllowedEditRenamedInDuringSwap makes the race certain: the allowed
// edit is renamed in after the watcher last looked at .git/config and
// before it swaps its restore in. The newer file goes back and is judged.
func TestAllowedEditRenamedInDuringSwap(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	base := readFile(t, p.path(".git/config"))
	second := base + "[core]\n\tpager = x\n[user]\n\temail = second@example.com\n"
	p.startWith(options{beforeSwap: p.raceOnce(".git/config", second)})
	p.putConfig(".git/config", base+"[core]\n\tpager = x\n")
	events, err := p.w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.git("config", "--get", "user.email"); got != "second@example.com" {
		t.Errorf("the allowed edit was lost: user.email = %q", got)
	}
	if out, err := gitTry(p.root, "config", "--get", "core.pager"); err == nil {
		t.Errorf("core.pager survived: %s", out)
	}
	if len(events) != 1 || events[0].What != "forbidden key core.pager" {
		t.Errorf("events = %v, want one restore of core.pager", events)
	}
	p.noLeftovers(".git")
}

// TestAllowedEditRenamedInDuringRemoval: the same where the restore is a
// removal (config.worktree did not exist; the cage made one with only a
// forbidden key), and the file renamed in has an allowed key besides.
func TestAllowedEditRenamedInDuringRemoval(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	second := "[core]\n\tpager = x\n[user]\n\tname = Second\n"
	p.startWith(options{beforeSwap: p.raceOnce(".git/config.worktree", second)})
	p.putConfig(".git/config.worktree", "[core]\n\tpager = x\n")
	events, err := p.w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p.path(".git/config.worktree")); got != "[user]\n\tname = Second\n" {
		t.Errorf("config.worktree = %q", got)
	}
	if len(events) != 1 || events[0].What != "forbidden key core.pager" {
		t.Errorf("events = %v, want one restore of core.pager", events)
	}
	p.noLeftovers(".git")
}

// TestForbiddenEditRenamedInDuringSwap: what is renamed in during the
// swap is judged too, not taken as it is.
func TestForbiddenEditRenamedInDuringSwap(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	before := readFile(t, p.path(".git/config"))
	second := before + "[core]\n\tfsmonitor = " + p.evil + "\n"
	p.startWith(options{beforeSwap: p.raceOnce(".git/config", second)})
	p.putConfig(".git/config", before+"[core]\n\tpager = x\n")
	if _, err := p.w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p.path(".git/config")); got != before {
		t.Errorf("config = %q, want the snapshot %q", got, before)
	}
	p.runEverything()
	p.noMarker()
	p.noLeftovers(".git")
}

// noLeftovers fails when a temporary file of a restore is left in rel.
func (p *project) noLeftovers(rel string) {
	p.t.Helper()
	entries, err := os.ReadDir(p.path(rel))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) || e.Name() == "racing" {
			p.t.Errorf("left in %s: %s", rel, e.Name())
		}
	}
}

// TestStaleLockDoesNotStopRestores: a config.lock that nobody renames
// (left by a git that died, or kept by the cage) delays a restore by at
// most lockWait.
func TestStaleLockDoesNotStopRestores(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	before := readFile(t, p.path(".git/config"))
	writeFile(t, p.path(".git/config.lock"), "stale\n", 0o644)
	p.start()
	plantFile(t, filepath.Join(p.base, "c"), before+"[core]\n\tfsmonitor = "+p.evil+"\n", 0o644)
	if err := os.Rename(filepath.Join(p.base, "c"), p.path(".git/config")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/config", "forbidden key core.fsmonitor")
	p.w.sync()
	if got := readFile(t, p.path(".git/config")); got != before {
		t.Errorf("config = %q, want %q", got, before)
	}
	if got := readFile(t, p.path(".git/config.lock")); got != "stale\n" {
		t.Errorf("the lock was touched: %q", got)
	}
}

// TestCageKeepsRacingRestore: a cage that renames a new file in at every
// swap does not keep its forbidden key: after maxSwaps the verdict goes in
// regardless.
func TestCageKeepsRacingRestore(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	before := readFile(t, p.path(".git/config"))
	n := 0
	racing := func() {
		n++
		tmp := p.path(".git/racing")
		content := fmt.Sprintf("%s[core]\n\tpager = x%d\n", before, n)
		if err := os.WriteFile(tmp, []byte(content), 0o644); err == nil {
			_ = os.Rename(tmp, p.path(".git/config"))
		}
	}
	p.startWith(options{beforeSwap: racing})
	p.putConfig(".git/config", before+"[core]\n\tpager = x\n")
	events, err := p.w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p.path(".git/config")); got != before {
		t.Errorf("config = %q, want the snapshot %q", got, before)
	}
	if n < maxSwaps {
		t.Errorf("the cage raced %d times, want at least %d", n, maxSwaps)
	}
	if len(events) == 0 || events[len(events)-1].What != "forbidden key core.pager" {
		t.Errorf("events = %v", events)
	}
	p.noLeftovers(".git")
}
