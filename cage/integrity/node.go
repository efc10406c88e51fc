package integrity

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
)

// Limits on what a snapshot holds. A protected set is a handful of small
// files; these only stop a pathological [protect] entry from filling memory.
const (
	maxFileSize  = 8 << 20 // 8 MiB per protected file
	maxNodes     = 20000   // files, directories and symlinks in one session's set
	maxTreeDepth = 64
)

type nodeType uint8

const (
	absent nodeType = iota
	regular
	directory
	symlink
)

func (t nodeType) String() string {
	switch t {
	case regular:
		return "file"
	case directory:
		return "directory"
	case symlink:
		return "symlink"
	}
	return "absent"
}

// node is the snapshot of one path: what it is, its permission bits and,
// for a file, its content; for a directory, its entries.
type node struct {
	typ    nodeType
	mode   uint32 // permission bits with setuid, setgid and sticky
	nlink  uint64 // hard links when the snapshot was taken
	data   []byte
	target string
	kids   map[string]*node
}

var absentNode = &node{typ: absent}

func (n *node) sum() string {
	s := sha256.Sum256(n.data)
	return hex.EncodeToString(s[:])
}

func (n *node) sortedKids() []string {
	names := make([]string, 0, len(n.kids))
	for k := range n.kids {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
