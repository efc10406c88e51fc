package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// anchor is an open directory the cage cannot move: the project root (its
// parent is outside every grant) or the parent of a protected path outside
// the project. Every path in the set is reached from one.
type anchor struct {
	path string
	fd   int
	mode uint32
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
	if it.Kind == GitConfig && it.cfg != nil {
		return append(out, reconcileConfig(parent, it)...)
	}
	reconcileNode(parent, it.name(), it.Path, it.want, &out)
	return out
}

// openParent walks from the anchor to the item's parent directory, one
// component at a time without following symlinks. A directory that existed
// at Start and is now something else (a symlink to elsewhere, a "gitdir:"
// file) is removed and made again; a symlink where none existed is removed.
// ok is false when the item cannot exist (and need not).
func openParent(it *itemState, out *[]finding) (fd int, ok bool) {
	fd = it.anchor.fd
	fail := func(path string, err error) (int, bool) {
		*out = append(*out, finding{path: path, what: err.Error(), err: err})
		if fd != it.anchor.fd {
			unix.Close(fd)
		}
		return -1, false
	}
	path := it.anchor.path
	need := it.want.typ != absent
	for i, c := range it.comps[:len(it.comps)-1] {
		path = filepath.Join(path, c)
		existed := i < len(it.ancModes)
		st, err := lstatAt(fd, c)
		switch {
		case errors.Is(err, unix.ENOENT):
			if !need {
				return fail2(fd, it)
			}
			mode := uint32(0o755)
			if existed {
				mode = it.ancModes[i]
			}
			if err := replaceAt(fd, c, &node{typ: directory, mode: mode}); err != nil {
				return fail(path, err)
			}
		case err != nil:
			return fail(path, err)
		case typeOf(&st) == directory:
			if existed && perm(&st) != it.ancModes[i] {
				if err := chmodAt(fd, c, it.ancModes[i]); err != nil {
					return fail(path, err)
				}
				*out = append(*out, finding{path: path, what: "mode changed"})
			}
		case existed || typeOf(&st) == symlink:
			what := "replaced by " + describe(&st)
			if !existed {
				what = "symlink created inside the cage"
			}
			if err := removeAt(fd, c); err != nil {
				return fail(path, err)
			}
			*out = append(*out, finding{path: path, what: what})
			if !existed && !need {
				return fail2(fd, it)
			}
			mode := uint32(0o755)
			if existed {
				mode = it.ancModes[i]
			}
			if err := replaceAt(fd, c, &node{typ: directory, mode: mode}); err != nil {
				return fail(path, err)
			}
		case c == ".git":
			// A "gitdir: …" file where no git directory was: git would
			// take its hooks and config from wherever it points.
			if err := removeAt(fd, c); err != nil {
				return fail(path, err)
			}
			*out = append(*out, finding{path: path, what: "gitdir file created inside the cage"})
			return fail2(fd, it)
		default: // a file where no directory was: the item cannot exist
			return fail2(fd, it)
		}
		next, err := openDirPath(fd, c)
		if err != nil {
			return fail(path, err)
		}
		if fd != it.anchor.fd {
			unix.Close(fd)
		}
		fd = next
	}
	return fd, true
}

// fail2 closes fd and reports that the item's parent does not exist.
func fail2(fd int, it *itemState) (int, bool) {
	if fd != it.anchor.fd {
		unix.Close(fd)
	}
	return -1, false
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
	seen := make(map[string]bool, len(names))
	for _, k := range names {
		seen[k] = true
		if want.kids[k] == nil {
			reconcileNode(fd, k, filepath.Join(path, k), absentNode, out)
		}
	}
	for _, k := range want.sortedKids() {
		reconcileNode(fd, k, filepath.Join(path, k), want.kids[k], out)
	}
}

// reconcileConfig judges a git config file by meaning: changes to allowed
// keys are kept and become the snapshot; any other change is undone. The
// kept file is always one this package wrote or one that reads back the
// same through our parser, so what git reads is what was judged.
func reconcileConfig(dirfd int, it *itemState) []finding {
	name, path, want := it.name(), it.Path, it.want
	var out []finding
	note := func(what string, err error) {
		if err != nil {
			what = fmt.Sprintf("%s: %v", what, err)
		}
		out = append(out, finding{path: path, what: what, err: err})
	}
	st, err := lstatAt(dirfd, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		if want.typ != absent {
			note("deleted", replaceAt(dirfd, name, want))
		}
		return out
	case err != nil:
		note("cannot inspect", err)
		return out
	case typeOf(&st) != regular:
		what := "replaced by " + describe(&st)
		if want.typ == absent {
			what = "created inside the cage"
		}
		if err := removeAt(dirfd, name); err != nil || want.typ == absent {
			note(what, err)
			return out
		}
		note(what, replaceAt(dirfd, name, want))
		return out
	}
	if want.typ == regular && perm(&st) != want.mode {
		if err := chmodAt(dirfd, name, want.mode); err != nil {
			note("mode changed", err)
			return out
		}
		note("mode changed", nil)
	}
	data, rst, err := readAt(dirfd, name, maxConfigSize)
	if err == nil && want.typ == regular && bytes.Equal(data, want.data) {
		if uint64(rst.Nlink) > 1 && uint64(rst.Nlink) > want.nlink {
			note("hard-linked from elsewhere", replaceAt(dirfd, name, want))
		}
		return out
	}
	var cur *gitConfig
	if err == nil {
		cur, err = parseGitConfig(data)
	}
	if err != nil {
		what := "modified (not valid git config)"
		if want.typ == absent {
			note("created inside the cage (not valid git config)", removeAt(dirfd, name))
			return out
		}
		note(what, replaceAt(dirfd, name, want))
		return out
	}
	mode := want.mode
	if want.typ == absent {
		mode = perm(&rst) & 0o666
	}
	fixed, reasons := judge(it.cfg, cur)
	if fixed == nil {
		// Allowed: keep it, in the form git's writer uses.
		canon := cur.format()
		if !bytes.Equal(canon, data) || uint64(rst.Nlink) > 1 {
			if err := replaceAt(dirfd, name, &node{typ: regular, mode: mode, data: canon}); err != nil {
				note("cannot rewrite", err)
				return out
			}
		}
		it.want = &node{typ: regular, mode: mode, nlink: 1, data: canon}
		it.cfg = cur
		return out
	}
	what := joinReasons(reasons)
	if !hasEntries(fixed) && want.typ == absent {
		note(what, removeAt(dirfd, name))
		return out
	}
	next := &node{typ: regular, mode: mode, nlink: 1, data: fixed.format()}
	if want.typ == regular && bytes.Equal(next.data, it.cfg.format()) {
		next.data = want.data // back to the snapshot exactly, comments and all
	}
	if err := replaceAt(dirfd, name, next); err != nil {
		note(what, err)
		return out
	}
	note(what, nil)
	it.want, it.cfg = next, fixed
	return out
}

func hasEntries(cfg *gitConfig) bool {
	for _, l := range cfg.lines {
		if !l.header {
			return true
		}
	}
	return false
}

func joinReasons(r []string) string {
	var b bytes.Buffer
	for i, s := range r {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}
