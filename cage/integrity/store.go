package integrity

// The store is a directory outside every grant of the cage, one per project:
//
//	lock               flock: shared while a session runs, exclusive to start the first one
//	running            exists while sessions run; left behind when one did not end cleanly
//	snapshot.json      the protected set as the first running session found it
//	blobs/<sha256>     file contents of the snapshot
//	last-session.json  the restores of the last session that ended
//
// Directories are 0700, files 0600.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	lock *os.File
}

// openStore creates dir (0700) and opens its lock file.
func openStore(dir string) (*store, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("integrity store %q: not an absolute path", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, blobDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating integrity store: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, blobDir)} {
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating integrity store: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening integrity store lock: %w", err)
	}
	return &store{dir: dir, lock: f}, nil
}

func (s *store) path(name string) string { return filepath.Join(s.dir, name) }

// lockFirst takes the lock exclusively when no other session holds it.
func (s *store) lockFirst() (bool, error) {
	err := unix.Flock(int(s.lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// lockShared holds the lock shared for the rest of the session.
func (s *store) lockShared() error {
	return unix.Flock(int(s.lock.Fd()), unix.LOCK_SH)
}

// lockLast turns the shared lock into an exclusive one when this is the last
// session; conversion drops the shared lock first, so of two sessions ending
// together the second always wins.
func (s *store) lockLast() bool {
	return unix.Flock(int(s.lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

func (s *store) close() error { return s.lock.Close() }

func (s *store) running() bool {
	_, err := os.Lstat(s.path(runningName))
	return err == nil
}

func (s *store) setRunning(on bool) error {
	if !on {
		err := os.Remove(s.path(runningName))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return err
	}
	return writeAtomic(s.path(runningName), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"))
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
// blobs no longer needed.
func (s *store) saveSnapshot(items []manifestTree) error {
	m := manifest{Version: storeVersion, Taken: time.Now().UTC()}
	keep := map[string]bool{}
	for _, it := range items {
		e := manifestEntry{Path: it.path, Kind: it.kind}
		var err error
		flatten(it.root, "", func(rel string, n *node) {
			mn := manifestNode{Rel: rel, Type: n.typ.String(), Mode: n.mode, Nlink: n.nlink, Target: n.target}
			if n.typ == regular {
				mn.SHA256 = n.sum()
				if !keep[mn.SHA256] {
					keep[mn.SHA256] = true
					if werr := s.saveBlob(mn.SHA256, n.data); werr != nil && err == nil {
						err = werr
					}
				}
			}
			e.Nodes = append(e.Nodes, mn)
		})
		if err != nil {
			return err
		}
		m.Items = append(m.Items, e)
	}
	data, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path(manifestName), data); err != nil {
		return fmt.Errorf("writing integrity snapshot: %w", err)
	}
	names, _ := os.ReadDir(s.path(blobDir))
	for _, n := range names {
		if !keep[n.Name()] {
			_ = os.Remove(filepath.Join(s.path(blobDir), n.Name()))
		}
	}
	return nil
}

func (s *store) saveBlob(sum string, data []byte) error {
	p := filepath.Join(s.path(blobDir), sum)
	if old, err := os.ReadFile(p); err == nil && sha(old) == sum {
		return nil
	}
	return writeAtomic(p, data)
}

// loadSnapshot reads the manifest back into trees by path.
func (s *store) loadSnapshot() (map[string]manifestTree, error) {
	data, err := readLimited(s.path(manifestName), maxManifest)
	if err != nil {
		return nil, fmt.Errorf("reading integrity snapshot: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading integrity snapshot: %w", err)
	}
	if m.Version != storeVersion {
		return nil, fmt.Errorf("reading integrity snapshot: version %d, want %d", m.Version, storeVersion)
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
			data, err := readLimited(filepath.Join(s.path(blobDir), mn.SHA256), maxFileSize)
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

// writeAtomic writes data to path through a temporary file (0600) renamed
// over it.
func writeAtomic(path string, data []byte) error {
	if old, err := readLimited(path, int64(len(data))); err == nil && bytes.Equal(old, data) {
		return nil // unchanged since the last session: no write, no fsync
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
	}
	return werr
}
