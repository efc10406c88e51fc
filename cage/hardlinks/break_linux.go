package hardlinks

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Break gives the file at l.Path an inode of its own: a copy with the same
// content, mode, owner (where this user may set it) and times is made
// beside it and swapped in with renameat2(RENAME_EXCHANGE), so that the
// name never goes missing; the old inode, which keeps its other names, is
// then unlinked from here. If the name no longer holds the inode Find saw,
// the swap is undone and nothing changes. Extended attributes (and ACLs) are
// not copied.
func Break(l Link) error {
	dir, name := filepath.Split(l.Path)
	dfd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("breaking the hard link %s: opening its directory: %w", l.Path, err)
	}
	defer unix.Close(dfd)
	sfd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("breaking the hard link %s: %w", l.Path, err)
	}
	src := os.NewFile(uintptr(sfd), l.Path)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return fmt.Errorf("breaking the hard link %s: %w", l.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != l.Dev || st.Ino != l.Ino {
		return fmt.Errorf("breaking the hard link %s: it changed since it was checked; run aicage again", l.Path)
	}
	if st.Nlink < 2 {
		return nil
	}
	tmp := ".aicage-unlink-" + strconv.FormatUint(st.Ino, 36) + "-" + strconv.Itoa(os.Getpid())
	if err := copyInto(dfd, tmp, src, &st); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("breaking the hard link %s: %w", l.Path, err)
	}
	if err := unix.Renameat2(dfd, tmp, dfd, name, unix.RENAME_EXCHANGE); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("breaking the hard link %s: %w", l.Path, err)
	}
	// tmp now names what was at name: the inode that was judged, or a
	// file put there meanwhile, which goes back.
	var old unix.Stat_t
	if err := unix.Fstatat(dfd, tmp, &old, unix.AT_SYMLINK_NOFOLLOW); err != nil || old.Dev != l.Dev || old.Ino != l.Ino {
		unix.Renameat2(dfd, tmp, dfd, name, unix.RENAME_EXCHANGE)
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("breaking the hard link %s: it changed while it was copied; run aicage again", l.Path)
	}
	if err := unix.Unlinkat(dfd, tmp, 0); err != nil {
		return fmt.Errorf("breaking the hard link %s: removing the old link %s: %w", l.Path, tmp, err)
	}
	return nil
}

// copyInto makes dir/name a copy of src (whose stat is st).
func copyInto(dfd int, name string, src *os.File, st *unix.Stat_t) error {
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(fd), name)
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	// Owner first: chown clears the set-id bits that the mode then sets.
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil && err != unix.EPERM {
		return err
	}
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return dst.Close()
}
