package integrity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Kind says how an item of the protected set is judged.
type Kind int

const (
	// Exact items are kept byte for byte: content, permission bits and
	// type, recursively for a directory. One that did not exist must not
	// appear.
	Exact Kind = iota
	// GitConfig items are git config files judged by meaning: changes to
	// keys on the allowlist are kept, every other change is undone.
	GitConfig
	// NewGitHooks is the hooks directory of a repository that did not
	// exist at Start: it may hold git init's samples ("*.sample" files,
	// which git never runs) and nothing else.
	NewGitHooks
)

func (k Kind) String() string {
	switch k {
	case GitConfig:
		return "git config"
	case NewGitHooks:
		return "new git hooks"
	}
	return "exact"
}

// Item is one protected path.
type Item struct {
	Path   string // absolute; its parent directories contain no symlinks
	Kind   Kind
	Source string // why it is protected: "git hooks", "[protect] paths", …
	// Removable items may disappear, with their directory: "git worktree
	// remove" deletes a linked worktree's git directory and its gitdir
	// file, "git rm" a submodule's checkout. Any other change is undone.
	Removable bool
}

// Set is what a session protects.
type Set struct {
	Root  string // the project root; restores never create anything above it
	Items []Item
}

// Limits of discovery.
const (
	maxGitFile     = 4 << 10 // a "gitdir: …" file
	maxModuleDepth = 8       // submodules of submodules …
	maxItems       = 4096
	gitTimeout     = 5 * time.Second
)

// gitBinary is the git that ProtectedSet asks for the effective hooks
// directory; tests may replace it.
var gitBinary = "git"

// ProtectedSet finds the protected set of the project at root:
//
//   - in the repository's git directory: hooks/ and info/ (exact),
//     config and config.worktree (judged by meaning), and commondir, which
//     must not appear in a main git directory (it would move hooks and
//     config elsewhere);
//   - the same in the git directory of every linked worktree and of every
//     submodule (.git/modules/…, and submodules whose .git is still a
//     directory), and every "gitdir: …" file inside the project;
//   - the hooks directory git would really use (core.hooksPath, also from
//     the user's global config), files that protected configs include,
//     and the targets of symlinks found in the set;
//   - root/.git itself when it is a "gitdir: …" file or a symlink; when
//     it is missing, the hooks (samples only), config and commondir of a
//     repository the cage may create there;
//   - extra: the [protect] paths, relative to root or absolute, exact.
//
// It runs "git rev-parse" in root once, with the caller's environment.
func ProtectedSet(root string, extra []string) (Set, error) {
	real, err := realDir(root)
	if err != nil {
		return Set{}, fmt.Errorf("integrity: project root: %w", err)
	}
	d := &discovery{root: real, items: map[string]Item{}, gitDirs: map[string]bool{}}
	d.home, _ = os.UserHomeDir()
	if _, err := os.Lstat(filepath.Join(real, ".git")); errors.Is(err, fs.ErrNotExist) {
		// A repository the cage makes here may keep what git init
		// writes; its config is judged, hooks other than samples and a
		// commondir are refused, and so is a "gitdir: …" file.
		g := filepath.Join(real, ".git")
		d.add(filepath.Join(g, "hooks"), NewGitHooks, "hooks of a new repository")
		d.add(filepath.Join(g, "commondir"), Exact, "git commondir")
		d.add(filepath.Join(g, "config"), GitConfig, "git config")
		d.add(filepath.Join(g, "config.worktree"), GitConfig, "git config.worktree")
	}
	if top, ok := findGitEntry(real); ok {
		d.repoAt(top, 0)
		d.effectiveHooks(real)
	}
	for _, p := range extra {
		if err := d.extra(p); err != nil {
			return Set{}, err
		}
	}
	d.followSymlinks()
	if len(d.items) > maxItems {
		return Set{}, fmt.Errorf("integrity: more than %d protected paths", maxItems)
	}
	return d.set(), nil
}
