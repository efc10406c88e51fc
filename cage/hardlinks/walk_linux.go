package hardlinks

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
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
	wg     sync.WaitGroup
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
	n := w.visit(".", prev)
	w.wg.Wait()
	n.name = tree
	if w.err != nil {
		return nil, walkStats{}, w.err
	}
	return n, walkStats{dirs: int(w.dirs.Load()), read: int(w.read.Load())}, nil
}

// child visits a subdirectory on a free worker, or inline, and puts its
// node in *slot.
func (w *walker) child(rel string, prev *node, slot **node) {
	select {
	case w.sem <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer func() { <-w.sem; w.wg.Done() }()
			*slot = w.visit(rel, prev)
		}()
	default:
		*slot = w.visit(rel, prev)
	}
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

// visit returns the node of the directory rel: prev itself when its key
// is the same (its subdirectories are visited in turn), else a new node
// read from the directory.
func (w *walker) visit(rel string, prev *node) *node {
	w.dirs.Add(1)
	name := rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		name = rel[i+1:]
	}
	if prev != nil && !prev.unsure {
		var st unix.Stat_t
		err := unix.Fstatat(w.root, rel, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && keyOf(&st) == prev.key {
			for i, k := range prev.kids {
				w.child(join(rel, k.name), k, &prev.kids[i])
			}
			return prev
		}
	}
	w.read.Add(1)
	n := &node{name: name}
	subdirs, err := w.readDir(rel, n)
	if err != nil {
		w.fail(err)
		return n
	}
	var byName map[string]*node
	if prev != nil && len(prev.kids) > 0 {
		byName = make(map[string]*node, len(prev.kids))
		for _, k := range prev.kids {
			byName[k.name] = k
		}
	}
	n.kids = make([]*node, len(subdirs))
	for i, sub := range subdirs {
		w.child(join(rel, sub), byName[sub], &n.kids[i])
	}
	return n
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// readDir reads the directory rel into n (key and links) and returns the
// names of its subdirectories. A directory that vanished or cannot be read
// is left empty and marked unsure, so that it is tried again next time.
func (w *walker) readDir(rel string, n *node) ([]string, error) {
	fd, err := unix.Openat(w.root, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if skippable(err) {
			n.unsure = true
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s/%s: %w", w.rooted, rel, err)
	}
	defer unix.Close(fd)
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
