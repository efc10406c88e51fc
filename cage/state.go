package cage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// StateError is a state directory that is not what aicage made: the cage
// can write .aicage/state, so a symlink there is a planted redirection.
type StateError struct {
	Path string
	Err  error
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s is not a plain directory aicage made (%v): something in the cage may have replaced it", e.Path, e.Err)
}

// Hint says what to do.
func (e *StateError) Hint() string {
	return fmt.Sprintf("look at it, remove it (rm %s) and run again; aicage makes it afresh", e.Path)
}

// PrepareState makes the private home and $TMPDIR, refreshes [home] copies
// and makes [home] links. It runs outside the cage, before the command starts, and
// writes only through os.Root handles, so a symlink the cage planted in its
// state or private home can never make it write, copy or delete outside.
// Reports whether the state directory was created now (for on_create).
func PrepareState(p *Policy) (created bool, err error) {
	if _, err := os.Lstat(p.StateDir); errors.Is(err, fs.ErrNotExist) {
		created = true
	}
	if err := makeStateDirs(p); err != nil {
		return false, err
	}
	home, err := os.OpenRoot(p.Home)
	if err != nil {
		return false, &StateError{Path: p.Home, Err: err}
	}
	defer home.Close()
	for _, c := range p.HomeCopy {
		if err := copyTree(c.From, home, relTo(p.Home, c.To)); err != nil {
			return false, homeError(p, c.To, err)
		}
	}
	for _, l := range p.HomeLink {
		if err := relink(home, l.Target, relTo(p.Home, l.Link)); err != nil {
			return false, homeError(p, l.Link, err)
		}
	}
	return created, nil
}

// makeStateDirs makes the state, home and tmp directories. Inside the
// project every component below the root must be a real directory.
func makeStateDirs(p *Policy) error {
	dirs := []string{p.StateDir, p.Home, p.TmpDir}
	if !within(p.StateDir, p.Root) || p.StateDir == p.Root {
		for _, d := range dirs {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", d, err)
			}
		}
		return nil
	}
	root, err := os.OpenRoot(p.Root)
	if err != nil {
		return fmt.Errorf("opening the project root: %w", err)
	}
	defer root.Close()
	for _, d := range dirs {
		cur := ""
		for _, part := range strings.Split(relTo(p.Root, d), "/") {
			cur = filepath.Join(cur, part)
			err := root.Mkdir(cur, 0o700)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return &StateError{Path: filepath.Join(p.Root, cur), Err: err}
			}
			fi, err := root.Lstat(cur)
			if err != nil {
				return &StateError{Path: filepath.Join(p.Root, cur), Err: err}
			}
			if !fi.IsDir() {
				return &StateError{Path: filepath.Join(p.Root, cur), Err: fmt.Errorf("it is a %s", kind(fi))}
			}
		}
	}
	ignoreState(root, filepath.Dir(relTo(p.Root, p.StateDir)))
	return nil
}

// ignoreState writes a .gitignore of "*" into dir (.aicage) unless one is
// there: the private home holds the agents' logins and tokens, and a
// 'git add -A' must never commit them, whether or not 'aicage init' added
// .aicage/ to the project's own .gitignore. An existing file is left as
// the user made it.
func ignoreState(root *os.Root, dir string) {
	f, err := root.OpenFile(filepath.Join(dir, ".gitignore"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return // there already, or the directory is the root itself
	}
	f.WriteString("# aicage's private state: logins, tokens, the private home. Never commit it.\n*\n")
	f.Close()
}

func kind(fi fs.FileInfo) string {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symlink"
	case fi.Mode().IsRegular():
		return "file"
	}
	return fi.Mode().Type().String()
}

func relTo(base, p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, base), "/")
}

// relink makes link (relative to the private home) a symlink to target,
// replacing an older symlink but never a real file the cage made there.
func relink(home *os.Root, target, link string) error {
	if err := home.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return err
	}
	if fi, err := home.Lstat(link); err == nil {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s exists in the private home and is not a symlink; move it away", link)
		}
		if old, _ := home.Readlink(link); old == target {
			return nil
		}
		if err := home.Remove(link); err != nil {
			return err
		}
	}
	return home.Symlink(target, link)
}

// copyTree copies a real file or directory afresh to to (relative to the
// private home); symlinks inside are copied as symlinks, never followed, so
// a copy cannot pull in more than it names.
func copyTree(from string, home *os.Root, to string) error {
	if err := home.RemoveAll(to); err != nil {
		return err
	}
	if err := home.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return home.Mkdir(dst, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return home.Symlink(t, dst)
		case info.Mode().IsRegular():
			return copyFile(path, home, dst, info.Mode().Perm())
		}
		return nil // sockets, fifos, devices are not copied
	})
}

func copyFile(from string, home *os.Root, to string, mode fs.FileMode) error {
	in, err := os.OpenFile(from, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := home.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WriteHomeFile writes a file of aicage's into the private home, through
// os.Root from the project root (or the state directory outside it), so
// that a symlink planted there — even the private home itself replaced by
// one while the command runs — cannot redirect it.
func WriteHomeFile(p *Policy, rel string, data []byte) error {
	r, homeRel, err := stateRoot(p, filepath.Base(p.Home))
	if err != nil {
		return err
	}
	defer r.Close()
	home, err := r.OpenRoot(homeRel)
	if err != nil {
		return err
	}
	defer home.Close()
	// Unchanged since the last session (the usual case): nothing is
	// written. Reading it back costs less than a truncate and a write.
	if f, err := home.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW, 0); err == nil {
		old := make([]byte, len(data)+1)
		n, _ := io.ReadFull(f, old)
		fi, serr := f.Stat()
		f.Close()
		if serr == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == 0o600 && n == len(data) && bytes.Equal(old[:n], data) {
			return nil
		}
	}
	if err := home.MkdirAll(filepath.Dir(rel), 0o700); err != nil {
		return err
	}
	return home.WriteFile(rel, data, 0o600)
}

// homeError names the place in the private home where a copy or link could
// not be made; a path that escapes means a symlink the cage planted.
func homeError(p *Policy, at string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return &StateError{Path: filepath.Join(p.Home, pe.Path), Err: errors.New("a symlink on the way leads out of the private home")}
	}
	return fmt.Errorf("preparing %s in the private home: %w", at, err)
}

// maxStateLog is the size past which a state log starts over.
const maxStateLog = 1 << 20 // 1 MiB

// OpenStateLog opens a log of aicage's in the state directory for
// appending (starting it over past maxStateLog), through os.Root from the
// project root, so that a symlink the cage planted cannot redirect the
// supervisor's writes out of the project.
func OpenStateLog(p *Policy, name string) (*os.File, error) {
	r, rel, err := stateRoot(p, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	flags := os.O_WRONLY | os.O_APPEND | os.O_CREATE
	if fi, err := r.Lstat(rel); err == nil && fi.Size() > maxStateLog {
		flags |= os.O_TRUNC
	}
	return r.OpenFile(rel, flags, 0o600)
}

// ReadStateFile reads a file of aicage's from the state directory, through
// os.Root like OpenStateLog.
func ReadStateFile(p *Policy, name string) ([]byte, error) {
	r, rel, err := stateRoot(p, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(rel)
}

func stateRoot(p *Policy, name string) (*os.Root, string, error) {
	base, rel := p.StateDir, name
	if within(p.StateDir, p.Root) && p.StateDir != p.Root {
		base = p.Root
		rel = filepath.Join(strings.TrimPrefix(strings.TrimPrefix(p.StateDir, p.Root), "/"), name)
	}
	r, err := os.OpenRoot(base)
	return r, rel, err
}
