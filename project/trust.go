package project

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The trust store, like direnv's but stricter:
//
//	allow/<sha256(path + "\n" + content)>  holds exactly those hashed bytes
//	index/<sha256(path)>                   names the allow record last made for path
//	deny/<sha256(path)>                    holds path
//	stamp                                  rewritten by every allow and deny
//
// Only the last allowed content of a path is trusted: allowing new content
// removes the record of the old, so a cage cannot write back an older,
// broader config that was once allowed. The allow record keeps the content
// so the next prompt can show what changed in the grants. Directories are
// 0700, files 0600, writes go through a temporary file and a rename, and no
// symlink is followed.
//
// The stamp is what the shell hooks watch, so that a trust change counts
// at the next prompt: its content (a random token) changes with every
// allow or deny, and a hook reads it with a shell builtin, starting no
// process.

// TrustState is what the store says about one config's content.
type TrustState int

const (
	Untrusted TrustState = iota // never allowed
	Trusted                     // this exact content at this path was allowed
	Changed                     // another content at this path was allowed before
	Denied                      // blocked with 'aicage deny' until allowed again
)

func (s TrustState) String() string {
	return [...]string{"untrusted", "trusted", "changed", "denied"}[s]
}

// TrustStore is the trust store in one directory, normally Host.TrustDir().
type TrustStore struct {
	dir string
}

// NewTrustStore uses dir, which is created on the first write.
func NewTrustStore(dir string) *TrustStore { return &TrustStore{dir: dir} }

func hashHex(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// record is the bytes an allow record holds and is named after.
func record(path string, content []byte) []byte {
	return append([]byte(path+"\n"), content...)
}

func checkPath(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("trust store: %q is not a clean absolute path", path)
	}
	return nil
}

// State says whether content, read from path, may be used.
func (s *TrustStore) State(path string, content []byte) (TrustState, error) {
	if err := checkPath(path); err != nil {
		return Untrusted, err
	}
	key := hashHex([]byte(path))
	if _, err := s.read("deny", key); err == nil {
		return Denied, nil
	} else if !isNotExist(err) {
		return Untrusted, err
	}
	prev, ok, err := s.Previous(path)
	switch {
	case err != nil:
		return Untrusted, err
	case !ok:
		return Untrusted, nil
	case bytes.Equal(prev, content):
		return Trusted, nil
	}
	return Changed, nil
}

// Previous returns the content last allowed for path, if any.
func (s *TrustStore) Previous(path string) ([]byte, bool, error) {
	if err := checkPath(path); err != nil {
		return nil, false, err
	}
	idx, err := s.read("index", hashHex([]byte(path)))
	if isNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	name := string(bytes.TrimSpace(idx))
	rec, err := s.read("allow", name)
	if isNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if hashHex(rec) != name || !bytes.HasPrefix(rec, []byte(path+"\n")) {
		return nil, false, fmt.Errorf("trust store: %s is corrupt; remove it", filepath.Join(s.dir, "allow", name))
	}
	return rec[len(path)+1:], true, nil
}

// Allow trusts content at path, and only it: the record of any content
// allowed before for path is removed, and so is a deny.
func (s *TrustStore) Allow(path string, content []byte) error {
	if err := checkPath(path); err != nil {
		return err
	}
	key := hashHex([]byte(path))
	rec := record(path, content)
	name := hashHex(rec)
	old, _ := s.read("index", key)
	if err := s.write("allow", name, rec); err != nil {
		return err
	}
	if err := s.write("index", key, []byte(name+"\n")); err != nil {
		return err
	}
	if o := string(bytes.TrimSpace(old)); o != "" && o != name && hexName(o) {
		if err := os.Remove(filepath.Join(s.dir, "allow", o)); err != nil && !isNotExist(err) {
			return fmt.Errorf("removing the old trust record: %w", err)
		}
	}
	if err := os.Remove(filepath.Join(s.dir, "deny", key)); err != nil && !isNotExist(err) {
		return fmt.Errorf("removing the deny record: %w", err)
	}
	return s.touch()
}

// Deny blocks path, whatever its content, until it is allowed again.
func (s *TrustStore) Deny(path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := s.write("deny", hashHex([]byte(path)), []byte(path+"\n")); err != nil {
		return err
	}
	return s.touch()
}

// StampName is the stamp's name in the store's directory.
const StampName = "stamp"

// StampPath is the file that every allow and deny rewrites.
func (s *TrustStore) StampPath() string { return filepath.Join(s.dir, StampName) }

// touch gives the stamp a new token, after the records it announces are
// written: a hook that read the old token before deciding decides again.
func (s *TrustStore) touch() error {
	b := make([]byte, 16)
	rand.Read(b)
	return s.writeIn(s.dir, StampName, []byte(hex.EncodeToString(b)+"\n"))
}

// Generation identifies the last allow or deny of path: it changes with
// each of them, and with nothing else (not with another path's). The
// shell hook keys "stay out of this project" on it, so that trusting the
// project again lets the hook enter.
func (s *TrustStore) Generation(path string) string {
	key := hashHex([]byte(path))
	var b strings.Builder
	for _, kind := range []string{"index", "deny"} {
		fi, err := os.Lstat(filepath.Join(s.dir, kind, key))
		if err != nil {
			b.WriteString("-;")
			continue
		}
		// every write is a rename of a new file: a new inode and time
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = uint64(st.Ino)
		}
		mt := fi.ModTime()
		fmt.Fprintf(&b, "%d.%d.%d.%d;", ino, mt.Unix(), mt.Nanosecond(), fi.Size())
	}
	return hashHex([]byte(b.String()))[:16]
}

func hexName(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

const maxRecordSize = maxConfigSize + 1<<16 // content plus its path

// read returns a record's bytes without following a symlink.
func (s *TrustStore) read(kind, name string) ([]byte, error) {
	p := filepath.Join(s.dir, kind, name)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("trust store: %s is a symlink; remove it", p)
		}
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("trust store: %s is not a regular file; remove it", p)
	}
	return io.ReadAll(io.LimitReader(f, maxRecordSize))
}

// write replaces a record atomically: a temporary file in the same
// directory, made with O_EXCL (so never through a symlink), then a rename,
// which replaces a symlink rather than following it.
func (s *TrustStore) write(kind, name string, data []byte) error {
	return s.writeIn(filepath.Join(s.dir, kind), name, data)
}

func (s *TrustStore) writeIn(dir, name string, data []byte) error {
	if err := s.mkdirs(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	return nil
}

// mkdirs makes the store's directories 0700 and refuses any that is a
// symlink or someone else's: the store decides what runs.
func (s *TrustStore) mkdirs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the trust store: %w", err)
	}
	for _, d := range []string{s.dir, dir} {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("creating the trust store: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
			return fmt.Errorf("trust store: %s is not a directory (a symlink?); remove it", d)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("trust store: %s belongs to uid %d, not to you", d, st.Uid)
		}
		if fi.Mode().Perm() != 0o700 {
			if err := os.Chmod(d, 0o700); err != nil {
				return fmt.Errorf("trust store: %w", err)
			}
		}
	}
	return nil
}
