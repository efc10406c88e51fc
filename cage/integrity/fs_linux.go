package integrity

// Every filesystem operation on the protected set goes through the *at
// system calls below, relative to a directory opened without following
// symlinks, one path component at a time. The cage can replace any
// directory in the project with a symlink between our check and our write;
// a path-based write would then land wherever the symlink points, outside
// the cage. Files are written to a fresh temporary name in the same
// directory and renamed over the target, so git never reads a half-written
// hook or config.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

const (
	flagsDirPath = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	flagsDirRead = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	flagsRead    = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	tmpPrefix    = ".aicage-restore-"
	maxRemove    = 100000 // entries removeAt deletes before it gives up
)

// openDirPath opens a directory for use as dirfd without following a
// symlink and without needing read permission on it.
func openDirPath(dirfd int, name string) (int, error) {
	return unix.Openat(dirfd, name, flagsDirPath, 0)
}

// lstatAt is fstatat without following a symlink at name.
func lstatAt(dirfd int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

func typeOf(st *unix.Stat_t) nodeType {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return regular
	case unix.S_IFDIR:
		return directory
	case unix.S_IFLNK:
		return symlink
	}
	return absent // a socket, fifo or device: never what a snapshot holds
}

func perm(st *unix.Stat_t) uint32 { return st.Mode & 0o7777 }

// describe names what st is, for "replaced by a …".
func describe(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFIFO:
		return "a fifo"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "a device"
}

// readAt reads the regular file name in dirfd, refusing more than limit
// bytes and anything that is not a regular file when opened.
func readAt(dirfd int, name string, limit int64) ([]byte, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dirfd, name, flagsRead, 0)
	if err != nil {
		return nil, st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, st, err
	}
	if typeOf(&st) != regular {
		return nil, st, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := readFd(fd, st.Size, name, limit)
	return data, st, err
}

func readlinkAt(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// listAt returns the names in the directory name of dirfd.
func listAt(dirfd int, name string) ([]string, error) {
	fd, err := unix.Openat(dirfd, name, flagsDirRead, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var buf [8 << 10]byte
	var names []string
	for {
		n, err := unix.Getdents(fd, buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// chmodAt sets the permission bits of name without following a symlink:
// fchmodat2 where the kernel has it (Linux 6.6), else through an O_PATH
// descriptor's /proc/self/fd link, which names exactly the inode opened.
func chmodAt(dirfd int, name string, mode uint32) error {
	err := unix.Fchmodat(dirfd, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if typeOf(&st) == symlink {
		return fmt.Errorf("%s: is a symlink", name)
	}
	return unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), mode)
}

func tmpName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return tmpPrefix + hex.EncodeToString(b[:])
}

// replaceAt puts a new file, symlink or empty directory at name: made under
// a temporary name, then renamed over whatever name is now.
func replaceAt(dirfd int, name string, n *node) error {
	tmp := tmpName()
	var err error
	switch n.typ {
	case regular:
		err = createFileAt(dirfd, tmp, n.data, n.mode)
	case symlink:
		err = unix.Symlinkat(n.target, dirfd, tmp)
	case directory:
		if err = unix.Mkdirat(dirfd, tmp, 0o700); err == nil {
			err = chmodAt(dirfd, tmp, n.mode)
		}
	default:
		return fmt.Errorf("cannot create %s %s", n.typ, name)
	}
	if err != nil {
		_ = removeAt(dirfd, tmp)
		return err
	}
	for try := 0; ; try++ {
		err = unix.Renameat(dirfd, tmp, dirfd, name)
		if err == nil || try == 3 {
			break
		}
		// A directory (or, for a directory, anything) is in the way.
		if rerr := removeAt(dirfd, name); rerr != nil {
			err = rerr
			break
		}
	}
	if err != nil {
		_ = removeAt(dirfd, tmp)
	}
	return err
}

func createFileAt(dirfd int, name string, data []byte, mode uint32) error {
	_, err := createFileIno(dirfd, name, data, mode)
	return err
}

// createFileIno creates name (which must not exist) holding data with the
// permission bits mode, and returns its inode number.
func createFileIno(dirfd int, name string, data []byte, mode uint32) (uint64, error) {
	fd, err := unix.Openat(dirfd, name,
		unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	werr := writeAll(fd, data)
	if werr == nil {
		werr = unix.Fchmod(fd, mode)
	}
	var st unix.Stat_t
	if werr == nil {
		werr = unix.Fstat(fd, &st)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	return st.Ino, werr
}

// removeAt deletes name, and everything below it when it is a directory,
// never following a symlink. A missing name is not an error.
func removeAt(dirfd int, name string) error {
	budget := maxRemove
	return removeTree(dirfd, name, &budget)
}

func removeTree(dirfd int, name string, budget *int) error {
	for try := 0; try < 5; try++ {
		*budget--
		if *budget < 0 {
			return fmt.Errorf("%s: too many entries to remove", name)
		}
		err := unix.Unlinkat(dirfd, name, 0)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
			return err
		}
		if err := emptyDir(dirfd, name, budget); err != nil {
			return err
		}
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return fmt.Errorf("%s: still not empty", name)
}

func emptyDir(dirfd int, name string, budget *int) error {
	// Make sure we may list and delete in it, whatever the cage set.
	if err := chmodAt(dirfd, name, 0o700); err != nil {
		return err
	}
	names, err := listAt(dirfd, name)
	if err != nil {
		return err
	}
	fd, err := openDirPath(dirfd, name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, n := range names {
		if err := removeTree(fd, n, budget); err != nil {
			return err
		}
	}
	return nil
}
