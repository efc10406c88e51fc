package project

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ConfigName is the name of a project's configuration file.
const ConfigName = ".aicage.toml"

const maxConfigSize = 1 << 20 // 1 MiB: a config is a page of TOML, not data

// File is a configuration file as it was read, once: the bytes hashed for
// trust are the bytes decoded.
type File struct {
	Path string // absolute path of the .aicage.toml
	Root string // its directory, the project root
	Data []byte
}

// Find returns the path of the nearest .aicage.toml in dir or above it, up
// to /, or "" when there is none. dir must be absolute.
func Find(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("finding %s: %q is not an absolute path", ConfigName, dir)
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		p := filepath.Join(d, ConfigName)
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		}
		if d == "/" {
			return "", nil
		}
	}
}

// Discover finds and reads the nearest .aicage.toml from dir; it returns
// nil and no error when there is none.
func Discover(dir string) (*File, error) {
	p, err := Find(dir)
	if err != nil || p == "" {
		return nil, err
	}
	return ReadFile(p)
}

// ReadFile reads a configuration file once, through a size limit. It
// refuses symlinks (a cage could point one at a secret and have aicage
// quote it back in an error) and anything but a regular file (a FIFO would
// hang the shell hook).
func ReadFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &Error{File: path, Msg: "is a symbolic link; aicage reads only a regular file", Hint: "replace the link with the file it points to"}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Msg: fmt.Sprintf("is not a regular file (%s)", fi.Mode().Type())}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("is larger than %d bytes", maxConfigSize)}
	}
	return &File{Path: path, Root: filepath.Dir(path), Data: data}, nil
}

// GitRoot returns the nearest directory at or above dir that holds .git (a
// directory, or a file for worktrees and submodules), or "".
func GitRoot(dir string) string {
	for d := filepath.Clean(dir); filepath.IsAbs(d); d = filepath.Dir(d) {
		if fi, err := os.Lstat(filepath.Join(d, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
			return d
		}
		if d == "/" {
			break
		}
	}
	return ""
}

// isNotExist reports a missing file, also through a missing parent.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
