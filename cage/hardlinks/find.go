package hardlinks

import (
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaxCacheAge is how long the cache of a full walk is trusted; after it
// the next walk is a full one again. It bounds how long a link made from
// outside to a file the cache saw with one name goes unseen.
const MaxCacheAge = 24 * time.Hour

// ProgressAfter is how long a walk runs before Options.Progress is called.
const ProgressAfter = 300 * time.Millisecond

// progressAfter is ProgressAfter, shortened by tests.
var progressAfter = ProgressAfter

// Options say how to walk.
type Options struct {
	// Cache is the file that keeps the previous walk; "" walks in full and
	// keeps nothing. It must lie outside every tree the cage may write.
	Cache string
	// Full ignores the cache (which is still written).
	Full bool
	// Progress, if set, is called once, from another goroutine, when the
	// walk has run for ProgressAfter.
	Progress func()
	// Summary lets Report.Outside hold only the first SummaryLinks links
	// when nothing changed since the cache was written: enough to warn or
	// refuse, not to break them.
	Summary bool
}

// SummaryLinks is how many links a summary keeps.
const SummaryLinks = 10

// Link is a regular file with more than one name.
type Link struct {
	Path     string   // the first name met in the trees, absolute
	Names    []string // every name met in the trees, Path first
	Dev, Ino uint64
	Nlink    uint64 // its link count when it was last read
	Seen     int    // how many of its names lie in the trees (len(Names))
}

// Elsewhere is how many of its names lie outside the trees.
func (l Link) Elsewhere() int { return int(l.Nlink) - l.Seen }

// Report is what Find found.
type Report struct {
	// Outside are the files with a name outside the trees, in the order
	// the walk met them; with Options.Summary, maybe only the first few.
	Outside []Link
	// Files counts the files with a name outside the trees.
	Files int
	// Inside counts the files with several names, all of them in the trees:
	// harmless, the cage can write each name anyway.
	Inside int
	Dirs   int           // directories in the trees
	Read   int           // directories read; the others came from the cache
	Full   bool          // no cache was used
	Took   time.Duration // the walk's wall time
}

// Find walks trees (absolute, symlinks already resolved) without following
// symlinks and reports the regular files with more than one name. A tree
// that lies inside another is walked once; one that does not exist is
// skipped.
func Find(trees []string, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Progress != nil {
		t := time.AfterFunc(progressAfter, opts.Progress)
		defer t.Stop()
	}
	trees = outermost(trees)
	var old *cacheData
	if opts.Cache != "" && !opts.Full {
		old = loadCache(opts.Cache, start)
	}
	cd := &cacheData{full: start, trees: map[string]*node{}}
	rep := &Report{Full: old == nil}
	if old != nil {
		cd.full = old.full
	}
	for _, t := range trees {
		var prev *node
		if old != nil {
			prev = old.trees[t]
		}
		n, st, err := walkTree(t, prev, start)
		if err != nil {
			return nil, err
		}
		if n == nil {
			continue
		}
		cd.order = append(cd.order, t)
		cd.trees[t] = n
		rep.Dirs += st.dirs
		rep.Read += st.read
	}
	if old != nil && old.summary != nil && opts.Summary && rep.Read == 0 && slices.Equal(old.order, cd.order) {
		rep.Files, rep.Inside, rep.Outside = old.summary.files, old.summary.inside, old.summary.links
	} else {
		judge(cd, rep)
	}
	cd.summary = &summary{files: rep.Files, inside: rep.Inside, links: rep.Outside[:min(len(rep.Outside), SummaryLinks)]}
	if opts.Cache != "" && (old == nil || rep.Read > 0 || len(cd.order) != len(old.order)) {
		if err := saveCache(opts.Cache, cd); err != nil {
			return nil, err
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// outermost drops the trees that lie inside another, and duplicates.
func outermost(trees []string) []string {
	var out []string
	for _, t := range trees {
		t = filepath.Clean(t)
		inside := false
		for _, o := range trees {
			o = filepath.Clean(o)
			if o != t && within(t, o) {
				inside = true
				break
			}
		}
		if !inside && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

type devIno struct{ dev, ino uint64 }

// judge counts the names met of every multiply-linked file and splits
// them into those with a name elsewhere and the harmless rest, in the order
// the walk met them.
func judge(cd *cacheData, rep *Report) {
	index := map[devIno]int{}
	var all []Link
	note := func(p string, f fileRec) {
		k := devIno{f.dev, f.ino}
		i, ok := index[k]
		if !ok {
			i = len(all)
			index[k] = i
			all = append(all, Link{Path: p, Dev: f.dev, Ino: f.ino})
		}
		all[i].Seen++
		all[i].Names = append(all[i].Names, p)
		all[i].Nlink = max(all[i].Nlink, f.nlink)
	}
	// One buffer holds the path of the directory being visited: most
	// directories hold no link, and their paths are never made strings.
	var buf []byte
	var visit func(n *node)
	visit = func(n *node) {
		for _, f := range n.links {
			note(string(buf)+"/"+f.name, f)
		}
		for _, k := range n.kids {
			l := len(buf)
			buf = append(append(buf, '/'), k.name...)
			visit(k)
			buf = buf[:l]
		}
	}
	for _, t := range cd.order {
		n := cd.trees[t]
		if n.file {
			// A tree that is one file: its node holds the file alone.
			for _, f := range n.links {
				note(t, f)
			}
			continue
		}
		buf = append(buf[:0], strings.TrimSuffix(t, "/")...)
		visit(n)
	}
	for _, l := range all {
		if l.Elsewhere() > 0 {
			rep.Outside = append(rep.Outside, l)
		} else {
			rep.Inside++
		}
	}
	rep.Files = len(rep.Outside)
}
