package integrity

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// captureAt reads name in dirfd into a snapshot node, recursively.
func captureAt(dirfd int, name string, budget *int, depth int) (*node, error) {
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("more than %d files in the protected set", maxNodes)
	}
	st, err := lstatAt(dirfd, name)
	if errors.Is(err, unix.ENOENT) {
		return absentNode, nil
	}
	if err != nil {
		return nil, err
	}
	n := &node{typ: typeOf(&st), mode: perm(&st), nlink: uint64(st.Nlink)}
	switch n.typ {
	case regular:
		n.data, st, err = readAt(dirfd, name, maxFileSize)
		n.mode, n.nlink = perm(&st), uint64(st.Nlink)
	case symlink:
		n.target, err = readlinkAt(dirfd, name)
	case directory:
		err = captureKids(dirfd, name, n, budget, depth)
	default:
		err = fmt.Errorf("%s is %s: only files, directories and symlinks can be protected", name, describe(&st))
	}
	return n, err
}

func captureKids(dirfd int, name string, n *node, budget *int, depth int) error {
	if depth >= maxTreeDepth {
		return fmt.Errorf("%s: deeper than %d directories", name, maxTreeDepth)
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
	n.kids = make(map[string]*node, len(names))
	for _, k := range names {
		kid, err := captureAt(fd, k, budget, depth+1)
		if err != nil {
			return err
		}
		if kid.typ != absent { // gone between listing and reading
			n.kids[k] = kid
		}
	}
	return nil
}

// createAt makes name match n from nothing, recursively. A directory is
// filled before it gets its mode, which may forbid writing in it.
func createAt(dirfd int, name string, n *node) error {
	if n.typ != directory {
		return replaceAt(dirfd, name, n)
	}
	if err := replaceAt(dirfd, name, &node{typ: directory, mode: 0o700}); err != nil {
		return err
	}
	fd, err := openDirPath(dirfd, name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, k := range n.sortedKids() {
		if err := createAt(fd, k, n.kids[k]); err != nil {
			return err
		}
	}
	return chmodAt(dirfd, name, n.mode)
}

// sameFileAt reports whether the regular file name, which lstat found to
// be st, holds want's bytes. It does not fstat what it opens: anything but
// a regular file of that size reads differently (a directory fails, a fifo
// opened without blocking reads nothing, a symlink is not opened).
func sameFileAt(dirfd int, name string, st *unix.Stat_t, want *node) (bool, error) {
	if st.Size != int64(len(want.data)) {
		return false, nil
	}
	fd, err := unix.Openat(dirfd, name, flagsRead, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	data, err := readFd(fd, st.Size, name, st.Size)
	if err != nil {
		return false, err
	}
	return bytes.Equal(data, want.data), nil
}
