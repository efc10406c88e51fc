//go:build linux

package integrity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// items lists a set as "kind rel" lines, paths relative to base.
func items(t *testing.T, s Set, base string) map[string]Kind {
	t.Helper()
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Kind{}
	for _, it := range s.Items {
		rel, err := filepath.Rel(realBase, it.Path)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = it.Kind
	}
	return out
}

func wantItems(t *testing.T, got map[string]Kind, want map[string]Kind) {
	t.Helper()
	for p, k := range want {
		if gk, ok := got[p]; !ok || gk != k {
			t.Errorf("set lacks %s (%v); has %v", p, k, got)
		}
	}
}

// withWorktreeAndSubmodule adds a linked worktree outside the project and a
// submodule, both committed, to p.
func withWorktreeAndSubmodule(p *project) (wt, sub string) {
	t := p.t
	src := filepath.Join(p.base, "subsrc")
	git(t, p.base, "init", "-q", src)
	writeFile(t, filepath.Join(src, "f"), "sub\n", 0o644)
	git(t, src, "add", "f")
	git(t, src, "commit", "-q", "-m", "sub")
	p.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", src, "sub")
	p.git("commit", "-q", "-m", "add sub")
	wt = filepath.Join(p.base, "wt")
	p.git("worktree", "add", "-q", wt)
	return wt, p.path("sub")
}

func TestProtectedSetRepository(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".envrc"), "x\n", 0o644)
	s, err := ProtectedSet(p.root, []string{".envrc", "missing/file"})
	if err != nil {
		t.Fatal(err)
	}
	got := items(t, s, p.root)
	wantItems(t, got, map[string]Kind{
		".git/hooks": Exact, ".git/info": Exact, ".git/commondir": Exact,
		".git/config": GitConfig, ".git/config.worktree": GitConfig,
		".envrc": Exact, "missing/file": Exact,
	})
	if len(got) != 7 {
		t.Errorf("unexpected items: %v", got)
	}
}

func TestProtectedSetWorktreeAndSubmodule(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	wt, _ := withWorktreeAndSubmodule(p)
	s, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, items(t, s, p.root), map[string]Kind{
		".git/hooks": Exact, ".git/config": GitConfig,
		".git/worktrees/wt/config.worktree": GitConfig, ".git/worktrees/wt/commondir": Exact,
		".git/modules/sub/hooks": Exact, ".git/modules/sub/config": GitConfig,
		".git/modules/sub/info": Exact, "sub/.git": Exact,
	})

	// From inside the linked worktree: its gitdir file, its own git dir and
	// the common one.
	s, err = ProtectedSet(wt, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, items(t, s, p.base), map[string]Kind{
		"wt/.git": Exact, "proj/.git/worktrees/wt/config.worktree": GitConfig,
		"proj/.git/worktrees/wt/commondir": Exact,
		"proj/.git/hooks":                  Exact, "proj/.git/config": GitConfig, "proj/.git/modules/sub/hooks": Exact,
	})
}

func TestProtectedSetFollowsConfig(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	writeFile(t, p.path(".husky/pre-commit"), benignHook, 0o755)
	writeFile(t, p.path("shared.gitconfig"), "[alias]\n\tst = status\n", 0o644)
	writeFile(t, p.path("scripts/hook.sh"), benignHook, 0o755)
	if err := os.Symlink("../../scripts/hook.sh", p.path(".git/hooks/pre-push")); err != nil {
		t.Fatal(err)
	}
	p.git("config", "core.hooksPath", ".husky")
	p.git("config", "include.path", "../shared.gitconfig")
	s, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, items(t, s, p.root), map[string]Kind{
		".husky": Exact, "shared.gitconfig": GitConfig, "scripts/hook.sh": Exact,
	})
}

// TestProtectedSetGlobalHooksPath: a relative core.hooksPath in the user's
// global config points into every project; git says where.
func TestProtectedSetGlobalHooksPath(t *testing.T) {
	p := newProject(t)
	global := filepath.Join(p.base, "global")
	writeFile(t, global, readFile(t, os.Getenv("GIT_CONFIG_GLOBAL"))+"[core]\n\thooksPath = .githooks\n", 0o644)
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	s, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, items(t, s, p.root), map[string]Kind{".githooks": Exact})
}

func TestProtectedSetRefuses(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	for _, extra := range []string{".", "..", p.root, ".git", "/"} {
		if _, err := ProtectedSet(p.root, []string{extra}); err == nil {
			t.Errorf("[protect] %q accepted", extra)
		} else if !strings.HasPrefix(err.Error(), "integrity: ") {
			t.Errorf("error %q", err)
		}
	}
}

// TestLinkedWorktreePlantings: the real git dir of a linked worktree lives
// in the project's .git; a planted config.worktree or commondir there is
// undone.
func TestLinkedWorktreePlantings(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	wt, _ := withWorktreeAndSubmodule(p)
	p.start()
	// worktreeConfig is allowed; the config.worktree it makes git read is
	// judged like config.
	p.git("config", "extensions.worktreeConfig", "true")
	plantFile(t, p.path(".git/worktrees/wt/config.worktree"), "[core]\n\tfsmonitor = "+p.evil+"\n", 0o644)
	p.waitEvent(".git/worktrees/wt/config.worktree", "forbidden key core.fsmonitor")
	evil := filepath.Join(p.base, "evilgit")
	git(t, p.base, "init", "-q", "--bare", evil)
	writeFile(t, filepath.Join(evil, "hooks/pre-commit"), p.evilHook(), 0o755)
	plantFile(t, p.path(".git/worktrees/wt/commondir.new"), evil+"\n", 0o644)
	if err := os.Rename(p.path(".git/worktrees/wt/commondir.new"), p.path(".git/worktrees/wt/commondir")); err != nil {
		t.Fatal(err)
	}
	p.waitEvent(".git/worktrees/wt/commondir", "modified")
	p.w.sync()
	if got := git(t, wt, "config", "--get", "extensions.worktreeConfig"); got != "true" {
		t.Errorf("extensions.worktreeConfig = %q", got)
	}
	_, _ = gitTry(wt, "status")
	_, _ = gitTry(wt, "commit", "-q", "--allow-empty", "-m", "in wt")
	p.runEverything()
	p.noMarker()
}

// TestProjectIsLinkedWorktree: the project is a linked worktree whose
// common git dir is elsewhere; plantings there and in its gitdir file are
// undone.
func TestProjectIsLinkedWorktree(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	wt, _ := withWorktreeAndSubmodule(p)
	main := p.root
	p.root = wt
	gitFile := readFile(t, p.path(".git"))
	p.start()
	plantFile(t, filepath.Join(main, ".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.waitEvent(filepath.Join(main, ".git/hooks/pre-commit"), "created inside the cage")
	evil := filepath.Join(p.base, "evilgit")
	git(t, p.base, "init", "-q", evil)
	writeFile(t, filepath.Join(evil, ".git/hooks/pre-commit"), p.evilHook(), 0o755)
	writeFile(t, p.path(".git"), "gitdir: "+filepath.Join(evil, ".git")+"\n", 0o644)
	p.waitEvent(".git", "modified")
	p.w.sync()
	if got := readFile(t, p.path(".git")); got != gitFile {
		t.Errorf(".git = %q, want %q", got, gitFile)
	}
	p.runEverything()
	p.noMarker()
}

// TestSubmodulePlantings: a submodule's git dir is .git/modules/<name>;
// hooks and config planted there are undone, and so is a rewritten gitdir
// file in its checkout.
func TestSubmodulePlantings(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	_, sub := withWorktreeAndSubmodule(p)
	gitFile := readFile(t, filepath.Join(sub, ".git"))
	p.start()
	plantFile(t, p.path(".git/modules/sub/hooks/pre-commit"), p.evilHook(), 0o755)
	p.waitEvent(".git/modules/sub/hooks/pre-commit", "created inside the cage")
	git(t, sub, "config", "core.fsmonitor", p.evil)
	p.waitEvent(".git/modules/sub/config", "forbidden key core.fsmonitor")
	writeFile(t, filepath.Join(sub, ".git"), "gitdir: /tmp/elsewhere\n", 0o644)
	p.waitEvent("sub/.git", "modified")
	p.w.sync()
	if got := readFile(t, filepath.Join(sub, ".git")); got != gitFile {
		t.Errorf("sub/.git = %q, want %q", got, gitFile)
	}
	_, _ = gitTry(sub, "status")
	_, _ = gitTry(sub, "commit", "-q", "--allow-empty", "-m", "in sub")
	p.runEverything()
	p.noMarker()
}

// TestWorktreeAndSubmoduleMayBeRemoved: "git worktree remove" and
// removing a submodule are ordinary work; what they delete is not brought
// back, but a gitdir file changed in place still is.
func TestWorktreeAndSubmoduleMayBeRemoved(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	inside := p.path("wt-inside")
	p.git("worktree", "add", "-q", inside)
	_, sub := withWorktreeAndSubmodule(p)
	p.start()
	writeFile(t, filepath.Join(inside, ".git"), "gitdir: /tmp/elsewhere\n", 0o644)
	p.waitEvent("wt-inside/.git", "modified")
	p.git("worktree", "remove", "--force", inside)
	p.git("rm", "-q", "sub")
	p.w.sync()
	for _, gone := range []string{inside, p.path(".git/worktrees/wt-inside"), sub} {
		if exists(gone) {
			t.Errorf("%s brought back", gone)
		}
	}
	for _, e := range p.reported() {
		if e.What != "modified" {
			t.Errorf("unexpected restore: %v", e)
		}
	}
}

func TestStoreInsideProjectRefused(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	set, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := Start(p.path(".aicage/integrity"), set, nil); err == nil {
		w.Close()
		t.Fatal("a store inside the project was accepted")
	}
}
