package cage

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// PrepareState makes the private home and $TMPDIR, refreshes [home] copies
// and makes [home] links. It runs outside the cage, before the child.
// Reports whether the state directory was created now (for on_create).
func PrepareState(p *Policy) (created bool, err error) {
	if _, err := os.Lstat(p.StateDir); os.IsNotExist(err) {
		created = true
	}
	for _, d := range []string{p.StateDir, p.Home, p.TmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return false, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	for _, c := range p.HomeCopy {
		if err := copyTree(c.From, c.To); err != nil {
			return false, fmt.Errorf("copying %s into the private home: %w", c.From, err)
		}
	}
	for _, l := range p.HomeLink {
		if err := relink(l.Target, l.Link); err != nil {
			return false, fmt.Errorf("linking %s into the private home: %w", l.Target, err)
		}
	}
	return created, nil
}

// relink makes link a symlink to target, replacing an older symlink but
// never a real file the cage made there.
func relink(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return err
	}
	if fi, err := os.Lstat(link); err == nil {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not a symlink; move it away", link)
		}
		if old, _ := os.Readlink(link); old == target {
			return nil
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}

// copyTree copies a file or directory afresh; symlinks inside are copied as
// symlinks, never followed, so a copy cannot pull in more than it names.
func copyTree(from, to string) error {
	if err := os.RemoveAll(to); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
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
			return os.MkdirAll(dst, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(t, dst)
		case info.Mode().IsRegular():
			return copyFile(path, dst, info.Mode().Perm())
		}
		return nil // sockets, fifos, devices are not copied
	})
}

func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
