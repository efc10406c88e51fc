package hardlinks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The cache is one binary file: a magic line, the time of the last full
// walk, then each tree's path and its directories in preorder. It is small
// and read whole: a repeat entry pays for little more than one stat per
// directory.

const cacheMagic = "aicage-hardlinks 2\n"

// maxCacheSize bounds what is read back (64 MiB: some million directories).
const maxCacheSize = 64 << 20

type cacheData struct {
	full    time.Time // the last full walk, which the cache descends from
	order   []string
	trees   map[string]*node
	summary *summary // what the walk found
}

// summary is a Report in short, reused while no directory changes.
type summary struct {
	files, inside int
	links         []Link // the first SummaryLinks, with their first name only
}

// loadCache returns the cache, or nil when it is missing, unreadable,
// damaged or older than MaxCacheAge: a full walk follows.
func loadCache(path string, now time.Time) *cacheData {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > maxCacheSize {
		return nil
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil
	}
	cd, err := decodeCache(string(data))
	if err != nil || now.Sub(cd.full) > MaxCacheAge || cd.full.After(now) {
		return nil
	}
	return cd
}

// saveCache writes the cache in one rename, readable by its owner only.
func saveCache(path string, cd *cacheData) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keeping the hard-link cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hardlinks-*")
	if err != nil {
		return fmt.Errorf("keeping the hard-link cache: %w", err)
	}
	_, err = tmp.Write(encodeCache(cd))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("keeping the hard-link cache: %w", err)
	}
	return nil
}

func encodeCache(cd *cacheData) []byte {
	b := []byte(cacheMagic)
	b = binary.AppendVarint(b, cd.full.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(cd.order)))
	for _, t := range cd.order {
		b = appendString(b, t)
		b = appendNode(b, cd.trees[t])
	}
	sm := cd.summary
	if sm == nil {
		sm = &summary{}
	}
	b = binary.AppendUvarint(b, uint64(sm.files))
	b = binary.AppendUvarint(b, uint64(sm.inside))
	b = binary.AppendUvarint(b, uint64(len(sm.links)))
	for _, l := range sm.links {
		b = appendString(b, l.Path)
		for _, v := range []uint64{l.Dev, l.Ino, l.Nlink, uint64(l.Seen)} {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendNode(b []byte, n *node) []byte {
	b = appendString(b, n.name)
	var flags uint64
	if n.unsure {
		flags |= 1
	}
	if n.file {
		flags |= 2
	}
	b = binary.AppendUvarint(b, flags)
	for _, v := range []uint64{n.key.dev, n.key.ino, uint64(n.key.ctime), uint64(n.key.mtime)} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(n.links)))
	for _, f := range n.links {
		b = appendString(b, f.name)
		b = binary.AppendUvarint(b, f.dev)
		b = binary.AppendUvarint(b, f.ino)
		b = binary.AppendUvarint(b, f.nlink)
	}
	b = binary.AppendUvarint(b, uint64(len(n.kids)))
	for _, k := range n.kids {
		b = appendNode(b, k)
	}
	return b
}

var errDamaged = errors.New("damaged hard-link cache")

// decoder reads the cache from one string: names are substrings of it.
type decoder struct {
	s   string
	off int
	err error
}

func decodeCache(s string) (*cacheData, error) {
	if len(s) < len(cacheMagic) || s[:len(cacheMagic)] != cacheMagic {
		return nil, errDamaged
	}
	d := &decoder{s: s, off: len(cacheMagic)}
	cd := &cacheData{trees: map[string]*node{}}
	cd.full = time.Unix(0, d.varint())
	nt := d.uvarint()
	for i := uint64(0); i < nt && d.err == nil; i++ {
		t := d.str()
		cd.order = append(cd.order, t)
		cd.trees[t] = d.node(0)
	}
	cd.summary = &summary{files: int(d.uvarint()), inside: int(d.uvarint())}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		l := Link{Path: d.str(), Dev: d.uvarint(), Ino: d.uvarint(), Nlink: d.uvarint(), Seen: int(d.uvarint())}
		l.Names = []string{l.Path}
		cd.summary.links = append(cd.summary.links, l)
	}
	if d.err != nil || d.off != len(s) {
		return nil, errDamaged
	}
	return cd, nil
}

// maxDepth bounds the recursion on a damaged file (PATH_MAX allows 2048).
const maxDepth = 4096

func (d *decoder) node(depth int) *node {
	if depth > maxDepth {
		d.err = errDamaged
	}
	if d.err != nil {
		return &node{}
	}
	n := &node{name: d.str()}
	flags := d.uvarint()
	n.unsure, n.file = flags&1 != 0, flags&2 != 0
	n.key = dirKey{dev: d.uvarint(), ino: d.uvarint(), ctime: int64(d.uvarint()), mtime: int64(d.uvarint())}
	nl := d.count()
	if nl > 0 {
		n.links = make([]fileRec, nl)
		for i := range n.links {
			n.links[i] = fileRec{name: d.str(), dev: d.uvarint(), ino: d.uvarint(), nlink: d.uvarint()}
		}
	}
	nk := d.count()
	n.dirs = 1
	if nk > 0 {
		n.kids = make([]*node, nk)
		for i := range n.kids {
			n.kids[i] = d.node(depth + 1)
			n.dirs += n.kids[i].dirs
		}
	}
	return n
}

// count reads a length that cannot exceed what is left of the file.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.s)-d.off) {
		d.err = errDamaged
		return 0
	}
	return int(v)
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(d.s[d.off:min(len(d.s), d.off+binary.MaxVarintLen64)]))
	if n <= 0 {
		d.err = errDamaged
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) str() string {
	l := d.count()
	if d.err != nil {
		return ""
	}
	s := d.s[d.off : d.off+l]
	d.off += l
	return s
}
