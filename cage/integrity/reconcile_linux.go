package integrity

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// anchor is an open directory the cage cannot move: the project root (its
// parent is outside every grant) or the parent of a protected path outside
// the project. Every path in the set is reached from one.
type anchor struct {
	path string
	fd   int
	mode uint32
	ino  uint64
}

// itemState is one protected path during a session.
type itemState struct {
	Item
	anchor *anchor
	// comps are the path components below the anchor; the last one is the
	// item's own name.
	comps []string
	// ancModes are the permission bits of the directories comps[:i] that
	// existed at Start; a directory deeper than len(ancModes) did not.
	ancModes []uint32
	want     *node
	// cfg is the snapshot as git config, for a GitConfig item judged by
	// meaning; nil for every item judged byte for byte.
	cfg *gitConfig
	// beforeSwap, set by tests, runs between the last look at a git
	// config file and the swap of its restore: where a file the cage
	// renames in is hardest to handle.
	beforeSwap func()
}

func (it *itemState) name() string { return it.comps[len(it.comps)-1] }

// finding is one difference found (and, unless err is set, undone).
type finding struct {
	path string
	what string
	err  error
}

// reconcile makes the item match its snapshot and returns what differed.
func reconcile(it *itemState) []finding {
	var out []finding
	parent, ok := openParent(it, &out)
	if !ok {
		return out
	}
	defer func() {
		if parent != it.anchor.fd {
			unix.Close(parent)
		}
	}()
	if it.Removable {
		if _, err := lstatAt(parent, it.name()); errors.Is(err, unix.ENOENT) {
			return out
		}
	}
	switch {
	case it.Kind == GitConfig && it.cfg != nil:
		return append(out, reconcileConfig(parent, it)...)
	case it.Kind == NewGitHooks:
		reconcileNewHooks(parent, it.name(), it.Path, &out)
		return out
	}
	reconcileNode(parent, it.name(), it.Path, it.want, &out)
	return out
}

// openParent walks from the anchor to the item's parent directory, one
// component at a time without following symlinks, and returns it open.
// ok is false when the item cannot exist there (and need not).
func openParent(it *itemState, out *[]finding) (fd int, ok bool) {
	w := &parentWalk{it: it, out: out, fd: it.anchor.fd, path: it.anchor.path,
		need: it.want.typ != absent && !it.Removable}
	for i, c := range it.comps[:len(it.comps)-1] {
		if !w.step(i, c) {
			w.close()
			return -1, false
		}
	}
	return w.fd, true
}

// parentWalk is openParent's progress: fd is open on path.
type parentWalk struct {
	it   *itemState
	out  *[]finding
	fd   int
	path string
	need bool // the item exists in the snapshot: its parents must too
}

// step enters component c, the i-th below the anchor. A directory that
// existed at Start and is now something else (a symlink to elsewhere, a
// "gitdir: …" file) is removed and made again; a symlink or a .git file
// where no directory was is removed.
func (w *parentWalk) step(i int, c string) bool {
	w.path = filepath.Join(w.path, c)
	existed := i < len(w.it.ancModes)
	mode := uint32(0o755)
	if existed {
		mode = w.it.ancModes[i]
	}
	st, err := lstatAt(w.fd, c)
	switch {
	case errors.Is(err, unix.ENOENT):
		if !w.need {
			return false
		}
		if err := replaceAt(w.fd, c, &node{typ: directory, mode: mode}); err != nil {
			return w.fail(err)
		}
	case err != nil:
		return w.fail(err)
	case typeOf(&st) == directory:
		if existed && perm(&st) != mode {
			if err := chmodAt(w.fd, c, mode); err != nil {
				return w.fail(err)
			}
			*w.out = append(*w.out, finding{path: w.path, what: "mode changed"})
		}
	case existed || typeOf(&st) == symlink || c == ".git":
		if !w.replace(c, &st, existed, mode) {
			return false
		}
	default: // a file where no directory was: the item cannot exist
		return false
	}
	next, err := openDirPath(w.fd, c)
	if err != nil {
		return w.fail(err)
	}
	w.close()
	w.fd = next
	return true
}

// replace removes what is at c and, if a directory must be there, makes it.
func (w *parentWalk) replace(c string, st *unix.Stat_t, existed bool, mode uint32) bool {
	what := "replaced by " + describe(st)
	switch {
	case existed:
	case typeOf(st) == symlink:
		what = "symlink created inside the cage"
	default:
		// A "gitdir: …" file where no git directory was: git would take
		// its hooks and config from wherever it points.
		what = "gitdir file created inside the cage"
	}
	if err := removeAt(w.fd, c); err != nil {
		return w.fail(err)
	}
	*w.out = append(*w.out, finding{path: w.path, what: what})
	if !existed && !w.need {
		return false
	}
	if err := replaceAt(w.fd, c, &node{typ: directory, mode: mode}); err != nil {
		return w.fail(err)
	}
	return true
}

func (w *parentWalk) fail(err error) bool {
	*w.out = append(*w.out, finding{path: w.path, what: err.Error(), err: err})
	return false
}

// close closes fd unless it is the anchor's.
func (w *parentWalk) close() {
	if w.fd != w.it.anchor.fd {
		unix.Close(w.fd)
	}
}

// reconcileNode makes name in dirfd match want, recursively.
func reconcileNode(dirfd int, name, path string, want *node, out *[]finding) {
	note := func(what string, err error) {
		if err != nil {
			what = fmt.Sprintf("%s: %v", what, err)
		}
		*out = append(*out, finding{path: path, what: what, err: err})
	}
	st, err := lstatAt(dirfd, name)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		note("cannot inspect", err)
		return
	}
	exists := err == nil
	switch {
	case want.typ == absent:
		if exists {
			note("created inside the cage", removeAt(dirfd, name))
		}
		return
	case !exists:
		note("deleted", createAt(dirfd, name, want))
		return
	case typeOf(&st) != want.typ:
		what := "replaced by " + describe(&st)
		if err := removeAt(dirfd, name); err != nil {
			note(what, err)
			return
		}
		note(what, createAt(dirfd, name, want))
		return
	}
	switch want.typ {
	case regular:
		reconcileFile(dirfd, name, &st, want, note)
	case symlink:
		if target, err := readlinkAt(dirfd, name); err != nil || target != want.target {
			note("modified", replaceAt(dirfd, name, want))
		}
	case directory:
		reconcileDir(dirfd, name, path, &st, want, note, out)
	}
}

func reconcileFile(dirfd int, name string, st *unix.Stat_t, want *node, note func(string, error)) {
	modeChanged := perm(st) != want.mode
	if modeChanged {
		// First, so that a file made unreadable can be read below.
		if err := chmodAt(dirfd, name, want.mode); err != nil {
			note("mode changed", err)
			return
		}
	}
	same, err := sameFileAt(dirfd, name, st, want)
	switch {
	case err != nil || !same:
		note("modified", replaceAt(dirfd, name, want))
	case uint64(st.Nlink) > 1 && uint64(st.Nlink) > want.nlink:
		// A hard link made elsewhere would let the cage write the file
		// without an event here; a fresh copy breaks the link.
		note("hard-linked from elsewhere", replaceAt(dirfd, name, want))
	case modeChanged:
		note("mode changed", nil)
	}
}

func reconcileDir(dirfd int, name, path string, st *unix.Stat_t, want *node, note func(string, error), out *[]finding) {
	if perm(st) != want.mode {
		if err := chmodAt(dirfd, name, want.mode); err != nil {
			note("mode changed", err)
			return
		}
		note("mode changed", nil)
	}
	names, err := listAt(dirfd, name)
	if err != nil {
		note("cannot list", err)
		return
	}
	fd, err := openDirPath(dirfd, name)
	if err != nil {
		note("cannot open", err)
		return
	}
	defer unix.Close(fd)
	for _, k := range names {
		if want.kids[k] == nil && !freshTemp(fd, k) {
			reconcileNode(fd, k, filepath.Join(path, k), absentNode, out)
		}
	}
	for _, k := range want.sortedKids() {
		reconcileNode(fd, k, filepath.Join(path, k), want.kids[k], out)
	}
}

// reconcileNewHooks keeps only "*.sample" files in the hooks directory of
// a repository made during the session.
func reconcileNewHooks(dirfd int, name, path string, out *[]finding) {
	st, err := lstatAt(dirfd, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		return
	case err != nil:
		*out = append(*out, finding{path: path, what: "cannot inspect: " + err.Error(), err: err})
		return
	case typeOf(&st) != directory:
		err := removeAt(dirfd, name)
		*out = append(*out, finding{path: path, what: "created inside the cage", err: err})
		return
	}
	names, err := listAt(dirfd, name)
	if err != nil {
		*out = append(*out, finding{path: path, what: "cannot list: " + err.Error(), err: err})
		return
	}
	fd, err := openDirPath(dirfd, name)
	if err != nil {
		*out = append(*out, finding{path: path, what: "cannot open: " + err.Error(), err: err})
		return
	}
	defer unix.Close(fd)
	for _, k := range names {
		if kst, err := lstatAt(fd, k); err == nil && typeOf(&kst) == regular && strings.HasSuffix(k, ".sample") {
			continue
		}
		err := removeAt(fd, k)
		*out = append(*out, finding{path: filepath.Join(path, k), what: "created inside the cage", err: err})
	}
}

// tempGrace is how long a file named like our temporary files is left
// alone: another session restoring the same directory may be about to
// rename it.
const tempGrace = 10 * time.Second

// freshTemp reports whether name in dirfd is a young temporary file of a
// restore. Code in the cage could name a file so, but a hook or config
// must have its exact name to be read, and the periodic pass removes it
// once it is older.
func freshTemp(dirfd int, name string) bool {
	if !strings.HasPrefix(name, tmpPrefix) {
		return false
	}
	st, err := lstatAt(dirfd, name)
	return err == nil && time.Since(time.Unix(st.Ctim.Unix())) < tempGrace
}
