package hardlinks

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// node is one directory of a walk, as the cache keeps it.
type node struct {
	name   string
	key    dirKey
	unsure bool // read too soon after a change to trust its key next time
	file   bool // the tree is a single file, held in links
	links  []fileRec
	kids   []*node
	// dirs counts the directories of the subtree, itself included, as the
	// cache had them; 0 for a node read in this walk.
	dirs int
}

// dirKey changes whenever a name is added to or removed from a directory.
type dirKey struct {
	dev, ino     uint64
	ctime, mtime int64 // nanoseconds
}

// fileRec is a regular file with more than one link.
type fileRec struct {
	name            string
	dev, ino, nlink uint64
}

// racyWindow: a directory changed this close to the walk may change again
// within the same timestamp and keep its key; it is read again next time.
// (A variable for the tests, whose directories are all new.)
var racyWindow = 2 * time.Second

type walkStats struct{ dirs, read int }

type walker struct {
	root   int // the tree's directory, opened without following symlinks
	start  int64
	sem    chan struct{} // free workers
	dirs   atomic.Int64
	read   atomic.Int64
	mu     sync.Mutex
	err    error
	bufs   sync.Pool
	rooted string
}

// walkTree walks one tree; prev is its node from the cache, or nil. It
// returns nil for a tree that does not exist or is neither a directory nor
// a regular file.
func walkTree(tree string, prev *node, start time.Time) (*node, walkStats, error) {
	var st unix.Stat_t
	if err := unix.Lstat(tree, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EACCES) {
			return nil, walkStats{}, nil
		}
		return nil, walkStats{}, fmt.Errorf("checking %s for hard links: %w", tree, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		n := &node{name: tree, file: true}
		if st.Nlink > 1 {
			n.links = []fileRec{{name: "", dev: st.Dev, ino: st.Ino, nlink: uint64(st.Nlink)}}
		}
		return n, walkStats{}, nil
	case unix.S_IFDIR:
	default:
		return nil, walkStats{}, nil
	}
	fd, err := unix.Open(tree, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, walkStats{}, fmt.Errorf("opening %s to check it for hard links: %w", tree, err)
	}
	defer unix.Close(fd)
	w := &walker{root: fd, start: start.Add(-racyWindow).UnixNano(), rooted: tree}
	w.sem = make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), 4))-1)
	w.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	n := w.visitAt(fd, ".", "", prev)
	n.name = tree
	if w.err != nil {
		return nil, walkStats{}, w.err
	}
	return n, walkStats{dirs: int(w.dirs.Load()), read: int(w.read.Load())}, nil
}

// minRun is the fewest directories, by the cache's count, that a worker
// is handed at once on a repeat walk: one stat each is too little work to
// hand out directory by directory (pnpm's .pnpm holds thousands of small
// packages side by side).
const minRun = 128

// kidsAt visits the subdirectories names of rel, whose O_PATH fd is dir,
// and puts each one's node in out; prev holds what the cache has of each
// (nil: nothing). names is nil when every prev is set: their names are
// the names. They go in runs of at least minRun directories by the
// cache's count (one a run when the cache has not seen it: reading a
// directory is work enough), each run on a free worker or inline. It
// returns once every run is done: dir stays open until then.
func (w *walker) kidsAt(dir int, rel string, names []string, prev, out []*node) {
	var mine sync.WaitGroup
	for i := 0; i < len(prev); {
		j, n := i, 0
		for j < len(prev) && n < minRun {
			if prev[j] == nil {
				n += minRun
			} else {
				n += max(prev[j].dirs, 1)
			}
			j++
		}
		visit := func(i, j int) {
			for k := i; k < j; k++ {
				name := ""
				if names != nil {
					name = names[k]
				} else {
					name = prev[k].name
				}
				out[k] = w.visitAt(dir, name, rel, prev[k])
			}
		}
		if j == len(prev) {
			// the last run is this goroutine's own: handing it out would
			// leave a worker waiting here, with nothing left to do
			visit(i, j)
			break
		}
		select {
		case w.sem <- struct{}{}:
			mine.Add(1)
			go func(i, j int) {
				defer func() { <-w.sem; mine.Done() }()
				visit(i, j)
			}(i, j)
		default:
			visit(i, j)
		}
		i = j
	}
	mine.Wait()
}

func join(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

func keyOf(st *unix.Stat_t) dirKey {
	return dirKey{dev: st.Dev, ino: st.Ino, ctime: st.Ctim.Nano(), mtime: st.Mtim.Nano()}
}

// visitAt returns the node of the directory name in parent (an O_PATH
// fd), whose path from the tree's top is parentRel: prev itself when its key is the
// same (its subdirectories are visited in turn), else a new node read
// from the directory. A repeat walk goes from fd to fd: each directory
// the cache knows is checked by one stat relative to its parent, and one
// with subdirectories is opened for them, so that no path is resolved
// from the top again (on two cores, workers that each resolve long paths
// through the same first directories gained nothing over one).
func (w *walker) visitAt(parent int, name, parentRel string, prev *node) *node {
	w.dirs.Add(1)
	relOf := func() string {
		if name == "." {
			return "."
		}
		return join(parentRel, name)
	}
	if prev != nil && !prev.unsure {
		var st unix.Stat_t
		if len(prev.kids) == 0 {
			err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW)
			if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && keyOf(&st) == prev.key {
				return prev
			}
		} else if fd, err := openPath(parent, name); err == nil {
			same := unix.Fstat(fd, &st) == nil && keyOf(&st) == prev.key
			if same {
				w.kidsAt(fd, relOf(), nil, prev.kids, prev.kids)
			}
			unix.Close(fd)
			if same {
				return prev
			}
		}
	}
	w.read.Add(1)
	n := &node{name: name}
	rel := relOf()
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if !skippable(err) {
			w.fail(fmt.Errorf("reading %s/%s: %w", w.rooted, rel, err))
		}
		n.unsure = true // vanished or unreadable: tried again next time
		return n
	}
	defer unix.Close(fd)
	subdirs, err := w.readDir(fd, rel, n)
	if err != nil {
		w.fail(err)
		return n
	}
	if len(subdirs) == 0 {
		return n
	}
	var byName map[string]*node
	if prev != nil && len(prev.kids) > 0 {
		byName = make(map[string]*node, len(prev.kids))
		for _, k := range prev.kids {
			byName[k.name] = k
		}
	}
	kidPrev := make([]*node, len(subdirs))
	for i, sub := range subdirs {
		kidPrev[i] = byName[sub]
	}
	n.kids = make([]*node, len(subdirs))
	w.kidsAt(fd, rel, subdirs, kidPrev, n.kids)
	return n
}

// openPath opens the directory name in dir as an O_PATH fd, following no
// symlink at its end.
func openPath(dir int, name string) (int, error) {
	return unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// readDir reads the directory fd (rel from the tree's top) into n (key
// and links) and returns the names of its subdirectories. One that cannot
// be read to the end is marked unsure, so that it is tried again next
// time.
func (w *walker) readDir(fd int, rel string, n *node) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", w.rooted, rel, err)
	}
	n.key = keyOf(&st)
	n.unsure = n.key.ctime >= w.start || n.key.mtime >= w.start
	bp := w.bufs.Get().(*[]byte)
	defer w.bufs.Put(bp)
	buf := *bp
	var subdirs []string
	for {
		nb, err := unix.Getdents(fd, buf)
		if err != nil {
			if skippable(err) {
				n.unsure = true
				return subdirs, nil
			}
			return nil, fmt.Errorf("reading %s/%s: %w", w.rooted, rel, err)
		}
		if nb <= 0 {
			return subdirs, nil
		}
		for off := 0; off < nb; {
			d := (*unix.Dirent)(unsafe.Pointer(&buf[off]))
			off += int(d.Reclen)
			name := direntBytes(d)
			if string(name) == "." || string(name) == ".." {
				continue
			}
			switch d.Type {
			case unix.DT_DIR:
				subdirs = append(subdirs, string(name))
			case unix.DT_REG, unix.DT_UNKNOWN:
				if err := w.statEntry(fd, d, name, n, &subdirs); err != nil {
					return nil, err
				}
			}
		}
	}
}

// statEntry stats a regular file (or an entry of unknown type) and keeps
// it when it has more than one link. The name is passed to the kernel from
// the dirent itself, NUL-terminated there: most files have one link, and
// their names are never made strings (200,000 of them in a node_modules).
func (w *walker) statEntry(dirfd int, d *unix.Dirent, name []byte, n *node, subdirs *[]string) error {
	var st unix.Stat_t
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&d.Name[0])),
		uintptr(unsafe.Pointer(&st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if e != 0 {
		if skippable(e) {
			n.unsure = true
			return nil
		}
		return fmt.Errorf("checking %s: %w", name, e)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		*subdirs = append(*subdirs, string(name))
	case unix.S_IFREG:
		if st.Nlink > 1 {
			n.links = append(n.links, fileRec{name: string(name), dev: st.Dev, ino: st.Ino, nlink: uint64(st.Nlink)})
		}
	}
	return nil
}

// skippable errors come from a tree that changes under the walk or holds
// what this user cannot read; neither can the cage, which runs as this user.
func skippable(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) ||
		errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ELOOP)
}

// direntBytes is the entry's name, in the buffer getdents filled.
func direntBytes(d *unix.Dirent) []byte {
	b := (*[len(unix.Dirent{}.Name)]byte)(unsafe.Pointer(&d.Name[0]))
	n := min(int(d.Reclen)-int(unsafe.Offsetof(d.Name)), len(b))
	for i := 0; i < n; i++ {
		if b[i] == 0 {
			return b[:i]
		}
	}
	return b[:n]
}

// Verify stats each link's names again and keeps the links that still
// have a name outside the trees: a link count read from the cache may be
// stale when a name elsewhere was removed (a store's garbage collection)
// without a change to any directory of the trees.
func Verify(links []Link) []Link {
	var out []Link
	for _, l := range links {
		var names []string
		var nlink uint64
		for _, p := range l.Names {
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || st.Dev != l.Dev || st.Ino != l.Ino {
				continue
			}
			names = append(names, p)
			nlink = uint64(st.Nlink)
		}
		if len(names) > 0 && nlink > uint64(l.Seen) {
			l.Path, l.Names, l.Nlink = names[0], names, nlink
			out = append(out, l)
		}
	}
	return out
}
