package integrity

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// snapshot takes the set's snapshot, or shares the running session's.
func (w *Watcher) snapshot() error {
	first, err := w.store.lockFirst()
	if err != nil {
		return fmt.Errorf("integrity: locking store: %w", err)
	}
	if !first {
		if err := w.store.lockShared(); err != nil {
			return fmt.Errorf("integrity: locking store: %w", err)
		}
		old, _ := w.store.loadSnapshot() // unreadable: take our own
		return w.capture(old)
	}
	if w.store.running() {
		// The last session did not end: its cage may have changed the set
		// after its last verification.
		if old, err := w.store.loadSnapshot(); err == nil {
			if err := w.capture(old); err != nil {
				return err
			}
			w.suffix = ", found after the last session ended uncleanly"
			w.pass()
			w.suffix = ""
		}
	}
	if err := w.capture(nil); err != nil {
		return err
	}
	trees := make([]manifestTree, len(w.items))
	for i, it := range w.items {
		trees[i] = manifestTree{path: it.Path, kind: it.Kind, root: it.want}
	}
	if err := w.store.saveSnapshot(trees); err != nil {
		return err
	}
	if err := w.store.setRunning(true); err != nil {
		return fmt.Errorf("integrity: %w", err)
	}
	w.marked = true
	return w.store.lockShared()
}

// capture fills in each item's snapshot: from old when it has the item,
// else from the filesystem.
func (w *Watcher) capture(old map[string]manifestTree) error {
	budget := maxNodes
	for _, it := range w.items {
		if t, ok := old[it.Path]; ok && t.kind == it.Kind {
			it.want = t.root
		} else if err := w.captureItem(it, &budget); err != nil {
			return fmt.Errorf("integrity: snapshot of %s: %w", it.Path, err)
		}
		it.cfg = nil
		if it.Kind == GitConfig {
			switch it.want.typ {
			case absent:
				it.cfg = &gitConfig{}
			case regular:
				it.cfg, _ = parseGitConfig(it.want.data) // unparsable: byte for byte
			}
		}
	}
	return nil
}

func (w *Watcher) captureItem(it *itemState, budget *int) error {
	parent, ok := w.openParentForCapture(it)
	if !ok {
		it.want = absentNode
		return nil
	}
	defer func() {
		if parent != it.anchor.fd {
			unix.Close(parent)
		}
	}()
	n, err := captureAt(parent, it.name(), budget, 0)
	it.want = n
	return err
}

// openParentForCapture opens the item's parent when it exists as real
// directories all the way down.
func (w *Watcher) openParentForCapture(it *itemState) (int, bool) {
	if len(it.ancModes) < len(it.comps)-1 {
		return -1, false
	}
	fd := it.anchor.fd
	for _, c := range it.comps[:len(it.comps)-1] {
		next, err := openDirPath(fd, c)
		if fd != it.anchor.fd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, false
		}
		fd = next
	}
	return fd, true
}

// addItem resolves the item's anchor and records the directories leading to
// it as they are now.
func (w *Watcher) addItem(item Item) error {
	p, err := realParentIn(item.Path, w.realDirs)
	if err != nil {
		return fmt.Errorf("integrity: %s: %w", item.Path, err)
	}
	if within(w.root, p) {
		return fmt.Errorf("integrity: %s: would protect the whole project", item.Path)
	}
	a, err := w.openAnchor(w.anchorPath(p))
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(a.path, p)
	if err != nil {
		return err
	}
	item.Path = p
	it := &itemState{Item: item, anchor: a, comps: strings.Split(rel, string(filepath.Separator))}
	it.ancModes = ancestorModes(a.fd, it.comps[:len(it.comps)-1])
	w.items = append(w.items, it)
	w.interesting[a.path] = true
	q := a.path
	for _, c := range it.comps {
		q = filepath.Join(q, c)
		w.interesting[q] = true
	}
	w.prefixes = append(w.prefixes, p+string(filepath.Separator))
	return nil
}

// anchorPath is the project root for a path inside it; for any other path,
// its nearest existing parent.
func (w *Watcher) anchorPath(p string) string {
	if within(p, w.root) {
		return w.root
	}
	dir := filepath.Dir(p)
	for {
		if _, err := os.Lstat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// ancestorModes returns the permission bits of the directories comps lead
// through from dirfd, as far as they are real directories.
func ancestorModes(dirfd int, comps []string) []uint32 {
	var modes []uint32
	fd := dirfd
	defer func() {
		if fd != dirfd {
			unix.Close(fd)
		}
	}()
	for _, c := range comps {
		st, err := lstatAt(fd, c)
		if err != nil || typeOf(&st) != directory {
			break
		}
		next, err := openDirPath(fd, c)
		if err != nil {
			break
		}
		modes = append(modes, perm(&st))
		if fd != dirfd {
			unix.Close(fd)
		}
		fd = next
	}
	return modes
}

func (w *Watcher) openAnchor(path string) (*anchor, error) {
	for _, a := range w.anchors {
		if a.path == path {
			return a, nil
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("integrity: opening %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("integrity: %s: %w", path, err)
	}
	a := &anchor{path: path, fd: fd, mode: perm(&st), ino: st.Ino}
	w.anchors = append(w.anchors, a)
	return a, nil
}
