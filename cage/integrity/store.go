package integrity

// The store is a directory outside every grant of the cage, one per project:
//
//	lock               flock: shared while a session runs, exclusive to start the first one
//	running            exists while sessions run; left behind when one did not end cleanly
//	                   (a hard link to lock)
//	snapshot.json      the protected set as the first running session found it
//	blobs/<sha256>     file contents of the snapshot
//	last-session.json  the restores of the last session that ended
//
// Directories are 0700, files 0600.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

const (
	storeVersion   = 1
	maxManifest    = 64 << 20 // 64 MiB: snapshot.json of a pathological set
	maxSessionLog  = 16 << 20 // 16 MiB
	manifestName   = "snapshot.json"
	sessionLogName = "last-session.json"
	runningName    = "running"
	lockName       = "lock"
	blobDir        = "blobs"
)

type store struct {
	dir  string
	fd   int // dir, open: every file in it is reached from here
	lock int // lockName, open
}

// openStore creates dir (0700) and opens its lock file.
func openStore(dir string) (*store, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("integrity store %q: not an absolute path", dir)
	}
	const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := unix.Open(dir, dirFlags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			fd, err = unix.Open(dir, dirFlags, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating integrity store: %w", err)
	}
	s := &store{dir: dir, fd: fd, lock: -1}
	if err := s.private(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("creating integrity store: %w", err)
	}
	s.lock, err = unix.Openat(fd, lockName, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("opening integrity store lock: %w", err)
	}
	return s, nil
}

// private makes the store and its blob directory 0700 (creating the
// latter), whatever they were.
func (s *store) private() error {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return err
	}
	if st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(s.fd, 0o700); err != nil {
			return err
		}
	}
	if err := unix.Mkdirat(s.fd, blobDir, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := unix.Fstatat(s.fd, blobDir, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s: not a directory", s.path(blobDir))
	}
	if st.Mode&0o7777 != 0o700 {
		return unix.Fchmodat(s.fd, blobDir, 0o700, 0)
	}
	return nil
}

func (s *store) path(name string) string { return filepath.Join(s.dir, name) }

// lockFirst takes the lock exclusively when no other session holds it.
func (s *store) lockFirst() (bool, error) {
	err := unix.Flock(s.lock, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// lockShared holds the lock shared for the rest of the session.
func (s *store) lockShared() error {
	return unix.Flock(s.lock, unix.LOCK_SH)
}

// lockLast turns the shared lock into an exclusive one when this is the last
// session; conversion drops the shared lock first, so of two sessions ending
// together the second always wins.
func (s *store) lockLast() bool {
	return unix.Flock(s.lock, unix.LOCK_EX|unix.LOCK_NB) == nil
}

func (s *store) close() error {
	unix.Close(s.lock)
	return unix.Close(s.fd)
}

func (s *store) running() bool {
	var st unix.Stat_t
	return unix.Fstatat(s.fd, runningName, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// setRunning marks the store running, or clears the mark, and makes that
// durable (fsync of the store directory) before it returns:
//
//   - The mark must be on disk before the cage runs: after a crash of the
//     machine during the session, the next Start must see it and restore
//     what the cage may have planted, which a journal may well have kept.
//   - Clearing it must be on disk before the user can edit outside: a
//     mark that comes back after a crash would make the next Start restore
//     the session's snapshot, undoing every edit the user made since
//     (issue 6, point 7: edits made outside while no session runs stand).
//
// Only the mark's existence counts. It is a second name (a hard link) of
// the lock file: making it costs a directory entry, not a new file, and
// only the directory needs the fsync. (Marks that older versions left are
// files of their own; they count the same.)
func (s *store) setRunning(on bool) error {
	if !on {
		err := unix.Unlinkat(s.fd, runningName, 0)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		return unix.Fsync(s.fd)
	}
	err := unix.Linkat(s.fd, lockName, s.fd, runningName, 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		// A filesystem without hard links: a file of its own.
		fd, cerr := unix.Openat(s.fd, runningName, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if cerr != nil {
			return err
		}
		unix.Close(fd)
	}
	return unix.Fsync(s.fd)
}

// manifest is snapshot.json.
type manifest struct {
	Version int             `json:"version"`
	Taken   time.Time       `json:"taken"`
	Items   []manifestEntry `json:"items"`
}

type manifestEntry struct {
	Path  string         `json:"path"`
	Kind  Kind           `json:"kind"`
	Nodes []manifestNode `json:"nodes"`
}

// manifestNode is one node of an item's tree; Rel is "" for the item itself
// and slash-separated below it. Parents come before their children.
type manifestNode struct {
	Rel    string `json:"rel"`
	Type   string `json:"type"`
	Mode   uint32 `json:"mode,omitempty"`
	Nlink  uint64 `json:"nlink,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"`
}

// saveSnapshot writes the manifest and the blobs it needs, and deletes
// blobs no longer needed. When the stored snapshot already says the same
// (compared in memory with snapshot.json, whose blobs are trusted to hold
// what their names say when their sizes match: only we write this store,
// and loadSnapshot checks every blob's hash before it restores anything),
// nothing is written: the common case, where nothing changed between two
// sessions, costs one read of snapshot.json and a stat per blob. Its
// "taken" then stays when that content was first taken.
func (s *store) saveSnapshot(items []manifestTree) error {
	m := manifest{Version: storeVersion, Taken: time.Now().UTC()}
	blobs := map[string][]byte{}
	for _, it := range items {
		e := manifestEntry{Path: it.path, Kind: it.kind}
		flatten(it.root, "", func(rel string, n *node) {
			mn := manifestNode{Rel: rel, Type: n.typ.String(), Mode: n.mode, Nlink: n.nlink, Target: n.target}
			if n.typ == regular {
				mn.SHA256 = n.sum()
				blobs[mn.SHA256] = n.data
			}
			e.Nodes = append(e.Nodes, mn)
		})
		m.Items = append(m.Items, e)
	}
	if old, err := s.readManifest(); err == nil && sameEntries(old.Items, m.Items) && s.haveBlobs(blobs) {
		return nil
	}
	wrote := false
	for sum, data := range blobs {
		if s.haveBlob(sum, data) {
			continue
		}
		if err := writeFileAt(s.fd, filepath.Join(blobDir, sum), data, true); err != nil {
			return fmt.Errorf("writing integrity snapshot: %w", err)
		}
		wrote = true
	}
	if wrote {
		if err := syncDirAt(s.fd, blobDir); err != nil {
			return fmt.Errorf("writing integrity snapshot: %w", err)
		}
	}
	data, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	// On disk before the running mark is: a mark with the previous
	// snapshot would have the next Start restore that one.
	if err := writeFileAt(s.fd, manifestName, data, true); err != nil {
		return fmt.Errorf("writing integrity snapshot: %w", err)
	}
	if err := unix.Fsync(s.fd); err != nil {
		return fmt.Errorf("writing integrity snapshot: %w", err)
	}
	names, _ := os.ReadDir(s.path(blobDir))
	for _, n := range names {
		if _, ok := blobs[n.Name()]; !ok {
			_ = unix.Unlinkat(s.fd, filepath.Join(blobDir, n.Name()), 0)
		}
	}
	return nil
}

// readManifest reads and parses snapshot.json.
func (s *store) readManifest() (*manifest, error) {
	data, err := readFileAt(s.fd, manifestName, maxManifest)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m.Version != storeVersion {
		return nil, fmt.Errorf("version %d, want %d", m.Version, storeVersion)
	}
	return &m, nil
}

func sameEntries(a, b []manifestEntry) bool {
	return slices.EqualFunc(a, b, func(x, y manifestEntry) bool {
		return x.Path == y.Path && x.Kind == y.Kind && slices.Equal(x.Nodes, y.Nodes)
	})
}

func (s *store) haveBlobs(blobs map[string][]byte) bool {
	for sum, data := range blobs {
		if !s.haveBlob(sum, data) {
			return false
		}
	}
	return true
}

// haveBlob reports whether the blob named sum is stored with data's size.
func (s *store) haveBlob(sum string, data []byte) bool {
	var st unix.Stat_t
	err := unix.Fstatat(s.fd, filepath.Join(blobDir, sum), &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == int64(len(data))
}

// loadSnapshot reads the manifest back into trees by path.
func (s *store) loadSnapshot() (map[string]manifestTree, error) {
	m, err := s.readManifest()
	if err != nil {
		return nil, fmt.Errorf("reading integrity snapshot: %w", err)
	}
	out := map[string]manifestTree{}
	for _, e := range m.Items {
		root, err := s.unflatten(e.Nodes)
		if err != nil {
			return nil, fmt.Errorf("reading integrity snapshot of %s: %w", e.Path, err)
		}
		out[e.Path] = manifestTree{path: e.Path, kind: e.Kind, root: root}
	}
	return out, nil
}

// manifestTree is one item of a snapshot.
type manifestTree struct {
	path string
	kind Kind
	root *node
}

func (s *store) unflatten(nodes []manifestNode) (*node, error) {
	byRel := map[string]*node{}
	var root *node
	for _, mn := range nodes {
		n := &node{mode: mn.Mode, nlink: mn.Nlink, target: mn.Target}
		switch mn.Type {
		case "absent":
			n.typ = absent
		case "file":
			n.typ = regular
			data, err := readFileAt(s.fd, filepath.Join(blobDir, mn.SHA256), maxFileSize)
			if err != nil {
				return nil, err
			}
			if sha(data) != mn.SHA256 {
				return nil, fmt.Errorf("blob %s does not match its name", mn.SHA256)
			}
			n.data = data
		case "directory":
			n.typ, n.kids = directory, map[string]*node{}
		case "symlink":
			n.typ = symlink
		default:
			return nil, fmt.Errorf("unknown node type %q", mn.Type)
		}
		if mn.Rel == "" {
			root = n
			byRel[""] = n
			continue
		}
		dir, name := filepath.Split(mn.Rel)
		parent := byRel[filepath.Clean(dir)]
		if dir == "" {
			parent = byRel[""]
		}
		if parent == nil || parent.kids == nil || name == "" {
			return nil, fmt.Errorf("node %q has no parent directory", mn.Rel)
		}
		parent.kids[name] = n
		byRel[mn.Rel] = n
	}
	if root == nil {
		return nil, errors.New("no root node")
	}
	return root, nil
}

// flatten calls f for n and every node below it, parents first.
func flatten(n *node, rel string, f func(string, *node)) {
	f(rel, n)
	for _, k := range n.sortedKids() {
		flatten(n.kids[k], filepath.Join(rel, k), f)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// readFileAt reads the regular file name in dirfd, refusing more than
// limit bytes.
func readFileAt(dirfd int, name string, limit int64) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return readFd(fd, st.Size, name, limit)
}

// readFd reads fd to its end, expecting size bytes (from fstat) and
// refusing more than limit. A read that returns less than asked for is
// taken as the end when it brings the total to size, which saves the
// read that would return 0: a regular file returns short only at its end
// (or, on a network filesystem, when it also may), and a file that grew
// since fstat fills the one byte more that is asked for.
func readFd(fd int, size int64, name string, limit int64) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	buf := make([]byte, size+1)
	n := 0
	for {
		if n == len(buf) {
			if int64(n) > limit {
				return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
		k, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n += k
		if k == 0 || (int64(n) == size && n < len(buf)) {
			break
		}
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return buf[:n], nil
}

// writeFileAt writes data (0600) to name in dirfd through a temporary file
// renamed over it; durable: the file is fsynced before the rename (the
// rename itself is durable once the directory is fsynced).
func writeFileAt(dirfd int, name string, data []byte, durable bool) error {
	tmp, err := writeTempAt(dirfd, filepath.Dir(name), data, durable)
	if err != nil {
		return err
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
		return err
	}
	return nil
}

// writeTempAt writes data (0600) to a new file with a temporary name in
// the directory dir of dirfd and returns that name.
func writeTempAt(dirfd int, dir string, data []byte, durable bool) (string, error) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	tmp := filepath.Join(dir, ".tmp-"+hex.EncodeToString(r[:]))
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", err
	}
	werr := writeAll(fd, data)
	if werr == nil && durable {
		werr = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
		return "", werr
	}
	return tmp, nil
}

// syncDirAt fsyncs the directory name in dirfd.
func syncDirAt(dirfd int, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// writeAll writes all of data to fd.
func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		data = data[n:]
	}
	return nil
}
