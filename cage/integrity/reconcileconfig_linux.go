package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A git config file is judged while the cage may be writing it: git writes
// the whole file to config.lock and renames it over config, and two git
// runs in a row can rename a second file in while the restore of the first
// is being written. A plain rename of the restore over the name would
// destroy that second file unjudged, and with it the allowed edits it
// carries (git config user.email right after a forbidden edit). So:
//
//   - just before writing, while git holds "<name>.lock" (a newer file
//     is about to be renamed in), the restore waits for it, at most
//     lockWait; then the name is looked at again (one lstat) and, when it
//     changed since it was read, read and judged anew;
//   - the restore is swapped in with renameat2(RENAME_EXCHANGE), which
//     hands back whatever was at the name at that instant;
//   - when that is not the file that was judged, a newer one came in
//     between the look and the swap: it is swapped straight back (our
//     restore was at the name for two system calls) and judged in turn,
//     against the snapshot as it was, so its allowed edits stay and its
//     forbidden ones are undone like any other.
//
// Forbidden keys never stay: every file that was at the name is judged or
// replaced by one we wrote from a verdict. A cage that keeps renaming files
// in gets, after maxSwaps of them, a plain rename as before (see force).
//
// Left out, as no rename-based restore can keep it and git never writes
// config so: a write through a descriptor opened before the swap lands in
// the file that came out, after it was looked at.

// lockWait is how long one look at a config file waits, in all, while
// "<name>.lock" exists, and lockPoll how often it looks again.
const (
	lockWait = 20 * time.Millisecond
	lockPoll = 100 * time.Microsecond
)

// maxSwaps bounds the swaps of one look at a config file: each further one
// needs the cage to rename yet another file in within microseconds.
const maxSwaps = 8

// configCheck is one look at a GitConfig item.
type configCheck struct {
	dirfd int
	it    *itemState
	out   []finding
	// lockedUntil is when this look stops waiting for a git writer's
	// lock; zero until it first waits.
	lockedUntil time.Time
}

func (c *configCheck) note(what string, err error) {
	if err != nil {
		what = fmt.Sprintf("%s: %v", what, err)
	}
	c.out = append(c.out, finding{path: c.it.Path, what: what, err: err})
}

// version is one state of the config file: the one at its name, or one a
// swap took out.
type version struct {
	exists bool
	st     unix.Stat_t
	data   []byte // for a regular file
	err    error  // reading it failed
}

// step is what a version calls for.
type step struct {
	done bool  // nothing to write
	put  *node // the file to put at the name; nil (and !done): remove it
	what string
	// want and cfg, when want is set, become the snapshot once the step
	// is done.
	want *node
	cfg  *gitConfig
}

// reconcileConfig judges a git config file by meaning: changes to allowed
// keys are kept and become the snapshot; any other change is undone. The
// file left in place is always one that reads back through our parser to
// what was judged, so what git reads is what was judged.
func reconcileConfig(dirfd int, it *itemState) []finding {
	c := &configCheck{dirfd: dirfd, it: it}
	if v, ok := c.look(); ok {
		c.settle(v)
	}
	return c.out
}

// look reads what is at the name, first putting back its permission bits.
func (c *configCheck) look() (version, bool) {
	name, want := c.it.name(), c.it.want
	st, err := lstatAt(c.dirfd, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		return version{}, true
	case err != nil:
		c.note("cannot inspect", err)
		return version{}, false
	case typeOf(&st) == regular && want.typ == regular && perm(&st) != want.mode:
		if err := chmodAt(c.dirfd, name, want.mode); err != nil {
			c.note("mode changed", err)
			return version{}, false
		}
		c.note("mode changed", nil)
	}
	return readVersion(c.dirfd, name, st), true
}

// readVersion reads name, which lstat found to be st.
func readVersion(dirfd int, name string, st unix.Stat_t) version {
	v := version{exists: true, st: st}
	if typeOf(&st) != regular {
		return v
	}
	data, fst, err := readAt(dirfd, name, maxConfigSize)
	v.data, v.err = data, err
	if err == nil || fst.Ino != 0 {
		v.st = fst
	}
	return v
}

// settle makes the file at the name what the newest version calls for; v
// is what is there now.
func (c *configCheck) settle(v version) {
	name := c.it.name()
	for try := 0; try < maxSwaps; try++ {
		s := c.decide(v)
		if s.done {
			c.commit(s)
			return
		}
		what := s.what
		if what == "" {
			what = "cannot rewrite"
		}
		tmp, ino, err := prepare(c.dirfd, s.put)
		if err != nil {
			c.note(what, err)
			return
		}
		var ok bool
		c.waitUnlocked()
		if !stillThere(c.dirfd, name, v) {
			// Changed while we judged: judge the new one instead.
			_ = removeAt(c.dirfd, tmp)
			if v, ok = c.look(); !ok {
				return
			}
			continue
		}
		if c.it.beforeSwap != nil {
			c.it.beforeSwap()
		}
		moved, err := swapAt(c.dirfd, tmp, name, s.put != nil)
		if err != nil {
			_ = removeAt(c.dirfd, tmp)
			c.note(what, err)
			return
		}
		if moved && !tookOut(c.dirfd, tmp, v) {
			// A newer file came in between the look and the swap.
			putBack(c.dirfd, tmp, name, s.put != nil, ino)
		} else {
			_ = removeAt(c.dirfd, tmp)
			c.commit(s)
			if ours(c.dirfd, name, s.put, ino) {
				return
			}
			// Replaced again right after the swap.
		}
		if v, ok = c.look(); !ok {
			return
		}
	}
	c.force(v)
}

// force is settle's last word when the cage kept renaming files in (more
// than maxSwaps times): the verdict on v goes in with a plain rename, as
// every restore did before, dropping whatever came in meanwhile unjudged,
// so that no pass ends with a file at the name that was not judged.
func (c *configCheck) force(v version) {
	name := c.it.name()
	s := c.decide(v)
	if s.done {
		c.commit(s)
		return
	}
	var err error
	if s.put == nil {
		err = removeAt(c.dirfd, name)
	} else {
		err = replaceAt(c.dirfd, name, s.put)
	}
	if err != nil {
		what := s.what
		if what == "" {
			what = "cannot rewrite"
		}
		c.note(what+" (the file kept changing)", err)
		return
	}
	c.commit(s)
}

// decide judges v against the snapshot.
func (c *configCheck) decide(v version) step {
	want := c.it.want
	switch {
	case !v.exists:
		if want.typ == absent {
			return step{done: true}
		}
		return step{put: want, what: "deleted"}
	case typeOf(&v.st) != regular:
		if want.typ == absent {
			return step{what: "created inside the cage"}
		}
		return step{put: want, what: "replaced by " + describe(&v.st)}
	}
	if v.err == nil && want.typ == regular && bytes.Equal(v.data, want.data) {
		if uint64(v.st.Nlink) > 1 && uint64(v.st.Nlink) > want.nlink {
			return step{put: want, what: "hard-linked from elsewhere"}
		}
		return step{done: true}
	}
	var cur *gitConfig
	err := v.err
	if err == nil {
		cur, err = parseGitConfig(v.data)
	}
	switch {
	case err != nil && want.typ == absent:
		return step{what: "created inside the cage (not valid git config)"}
	case err != nil:
		return step{put: want, what: "modified (not valid git config)"}
	}
	mode := want.mode
	if want.typ == absent {
		mode = perm(&v.st) & 0o666
	}
	fixed, reasons := judge(c.it.cfg, cur)
	if fixed == nil {
		// Allowed: keep it, in the form git's own writer uses.
		canon := &node{typ: regular, mode: mode, nlink: 1, data: cur.format()}
		return step{
			done: bytes.Equal(canon.data, v.data) && v.st.Nlink <= 1,
			put:  canon, want: canon, cfg: cur,
		}
	}
	what := strings.Join(reasons, "; ")
	if !hasEntries(fixed) && want.typ == absent {
		return step{what: what}
	}
	next := &node{typ: regular, mode: mode, nlink: 1, data: fixed.format()}
	if want.typ == regular && bytes.Equal(next.data, c.it.cfg.format()) {
		next.data = want.data // back to the snapshot exactly, comments and all
	}
	return step{put: next, what: what, want: next, cfg: fixed}
}

// commit notes s and makes its snapshot the item's.
func (c *configCheck) commit(s step) {
	if s.what != "" {
		c.note(s.what, nil)
	}
	if s.want != nil {
		c.it.want, c.it.cfg = s.want, s.cfg
	}
}

// ours reports whether the name holds what the swap put there: the file
// n (inode ino), or nothing when n is nil.
func ours(dirfd int, name string, n *node, ino uint64) bool {
	st, err := lstatAt(dirfd, name)
	if n == nil {
		return errors.Is(err, unix.ENOENT)
	}
	return err == nil && st.Ino == ino
}

// tookOut reports whether the file a swap left at tmp is v, the one that
// was judged: the same inode, with the same content. It looks at the
// inode first, so that a newer file goes back at once.
func tookOut(dirfd int, tmp string, v version) bool {
	st, err := lstatAt(dirfd, tmp)
	if err != nil || !v.exists || st.Dev != v.st.Dev || st.Ino != v.st.Ino {
		return false
	}
	if typeOf(&v.st) != regular {
		return true
	}
	out := readVersion(dirfd, tmp, st)
	if v.err == nil && out.err == nil {
		return bytes.Equal(out.data, v.data)
	}
	// Unreadable (too large, say) when judged: as unchanged as we can tell.
	return out.st.Size == v.st.Size && out.st.Mtim == v.st.Mtim
}

// putBack undoes a swap that took out a file newer than the one judged:
// that file goes back to the name, and what comes out (our restore, or a
// file even newer, which goes back in turn) is deleted. ino is our
// restore's inode; for a removal (!put), the file is renamed back unless
// something newer is at the name already.
func putBack(dirfd int, tmp, name string, put bool, ino uint64) {
	defer func() { _ = removeAt(dirfd, tmp) }()
	if !put {
		err := unix.Renameat2(dirfd, tmp, dirfd, name, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			_ = unix.Renameat(dirfd, tmp, dirfd, name)
		}
		return
	}
	expect := ino // what the next exchange should take out
	for try := 0; try < maxSwaps; try++ {
		err := unix.Renameat2(dirfd, tmp, dirfd, name, unix.RENAME_EXCHANGE)
		if errors.Is(err, unix.ENOENT) {
			// Nothing at the name any more: the newer file goes there.
			_ = unix.Renameat2(dirfd, tmp, dirfd, name, unix.RENAME_NOREPLACE)
			return
		}
		out, serr := lstatAt(dirfd, tmp)
		if err != nil || serr != nil || out.Ino == expect {
			return
		}
		// What came out arrived after our restore, so it is the newest:
		// it goes back, and the one it replaced comes out.
		if at, err := lstatAt(dirfd, name); err == nil {
			expect = at.Ino
		}
	}
}

// waitUnlocked waits, at most lockWait in all, while a git writer holds
// the file's lock: git writes "<name>.lock" first and renames it over the
// name, so a file that is about to be renamed in is newer than the one we
// judged, and swapping our restore in now would only have to be undone.
// A lock held longer (left behind by a git that died, or by a cage that
// wants restores to wait) is ignored.
func (c *configCheck) waitUnlocked() {
	lock := c.it.name() + ".lock"
	for {
		if _, err := lstatAt(c.dirfd, lock); err != nil {
			return
		}
		now := time.Now()
		if c.lockedUntil.IsZero() {
			c.lockedUntil = now.Add(lockWait)
		}
		if now.After(c.lockedUntil) {
			return
		}
		time.Sleep(lockPoll)
	}
}

// stillThere reports whether name is still the file e, unchanged: a cheap
// look just before the swap, so that a file renamed in while we judged is
// read rather than swapped out.
func stillThere(dirfd int, name string, e version) bool {
	st, err := lstatAt(dirfd, name)
	if !e.exists {
		return errors.Is(err, unix.ENOENT)
	}
	return err == nil && st.Dev == e.st.Dev && st.Ino == e.st.Ino && st.Mode == e.st.Mode &&
		st.Size == e.st.Size && st.Mtim == e.st.Mtim && st.Ctim == e.st.Ctim
}

// prepare writes n under a fresh temporary name and returns the name and
// the new file's inode; for a nil n (a removal) it only picks the name.
func prepare(dirfd int, n *node) (string, uint64, error) {
	tmp := tmpName()
	if n == nil {
		return tmp, 0, nil
	}
	ino, err := createFileIno(dirfd, tmp, n.data, n.mode)
	if err != nil {
		_ = removeAt(dirfd, tmp)
		return "", 0, err
	}
	return tmp, ino, nil
}

// swapAt puts tmp at name and leaves what was there at tmp (moved), or,
// for a removal (!put), moves name to tmp. Where the filesystem cannot
// exchange, it renames over name as before, and moved is false.
func swapAt(dirfd int, tmp, name string, put bool) (moved bool, err error) {
	if !put {
		err := unix.Renameat2(dirfd, name, dirfd, tmp, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			err = unix.Renameat(dirfd, name, dirfd, tmp) // tmp is a fresh name
		}
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return err == nil, err
	}
	for try := 0; try < 3; try++ {
		err = unix.Renameat2(dirfd, tmp, dirfd, name, unix.RENAME_EXCHANGE)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
			return false, unix.Renameat(dirfd, tmp, dirfd, name)
		case !errors.Is(err, unix.ENOENT):
			return false, err
		}
		// Nothing at name: put it there unless something arrives first.
		err = unix.Renameat2(dirfd, tmp, dirfd, name, unix.RENAME_NOREPLACE)
		if !errors.Is(err, unix.EEXIST) {
			return false, err
		}
	}
	return false, err
}

func hasEntries(cfg *gitConfig) bool {
	for _, l := range cfg.lines {
		if !l.header {
			return true
		}
	}
	return false
}
