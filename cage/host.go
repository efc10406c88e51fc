package cage

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Host is what Compile knows of the machine: the facts it reads are passed
// in, so that Compile stays a pure function of its inputs and tests can hand
// it a fake filesystem and a fake kernel.
type Host struct {
	Home string   // the real home: $HOME as aicage found it, else the passwd entry
	Env  []string // the outside environment
	Self string   // the aicage binary, granted read+execute so `aicage status` works inside
	ABI  int      // the Landlock ABI the kernel offers (0: none)
	UID  int

	// aicage's own places, never granted: the trust store lives under
	// DataDir, user profiles under ConfigDir, integrity snapshots under
	// StateDir (all already joined with "aicage").
	DataDir, ConfigDir, StateDir string

	// ResolvConf is the resolver configuration whose nameservers udp =
	// "dns" allows ("" means /etc/resolv.conf).
	ResolvConf string

	FS FS
}

// FS is the part of the filesystem Compile reads.
type FS interface {
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	EvalSymlinks(name string) (string, error)
	// ReadHead returns up to n bytes from the start of a file.
	ReadHead(name string, n int) ([]byte, error)
}

// OSFS is the real filesystem.
type OSFS struct{}

func (OSFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (OSFS) Lstat(name string) (fs.FileInfo, error)     { return os.Lstat(name) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (OSFS) EvalSymlinks(name string) (string, error)   { return filepath.EvalSymlinks(name) }
func (OSFS) ReadHead(name string, n int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := f.Read(buf)
	if m > 0 {
		err = nil
	}
	return buf[:m], err
}

// Getenv looks a name up in an environment list; the last entry wins, as in
// the kernel's execve.
func Getenv(env []string, name string) string { return getenv(env, name) }

func getenv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
