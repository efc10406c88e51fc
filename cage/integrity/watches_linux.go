package integrity

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// loop restores on every relevant event and every tick until stop.
func (w *Watcher) loop(tick time.Duration) {
	defer close(w.done)
	var ticks <-chan time.Time
	if tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if !w.relevant(ev.Name) {
				continue
			}
		case _, ok := <-errs: // an overflow or a read error: look at everything
			if !ok {
				errs = nil
				continue
			}
		case <-ticks:
		case reply := <-w.syncReq:
			w.pass()
			close(reply)
			continue
		}
		w.drain(events)
		w.pass()
	}
}

// drain discards the events already queued: the pass that follows looks at
// everything anyway.
func (w *Watcher) drain(events <-chan fsnotify.Event) {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

func (w *Watcher) relevant(name string) bool {
	if w.interesting[name] {
		return true
	}
	for _, p := range w.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// syncWatches follows the inotify watches to the filesystem as it is now.
// Every path that exists on the way from an anchor to an item is watched
// itself: its own move or deletion is reported on its watch, so its parent
// need not be watched, and the project root is watched only when something
// directly below it is missing (then only its parent can see it appear).
// A build writing in the project thus causes no event at all. The first
// missing path, a symlink (inotify would follow it) or a file where a
// directory belongs is watched through its parent. Below a directory item,
// the directories and files of its snapshot are watched, files too so that
// a write through a hard link is seen. A path replaced since it was added
// is watched anew.
func (w *Watcher) syncWatches() {
	want := map[string]bool{}
	for _, it := range w.items {
		parent := it.anchor.path
		for i, c := range it.comps {
			p := filepath.Join(parent, c)
			fi, err := os.Lstat(p)
			last := i == len(it.comps)-1
			if err != nil || fi.Mode()&fs.ModeSymlink != 0 || (!fi.IsDir() && (!last || !fi.Mode().IsRegular())) {
				want[parent] = true
				break
			}
			want[p] = true
			if last && fi.IsDir() {
				addSnapshotPaths(p, it.want, want)
			}
			parent = p
		}
	}
	listed := map[string]bool{}
	for _, p := range w.fsw.WatchList() {
		listed[p] = true
	}
	for p := range want {
		ino := inode(p)
		old, ok := w.watched[p]
		if ok && old == ino && listed[p] {
			continue
		}
		if listed[p] {
			_ = w.fsw.Remove(p)
		}
		if err := w.fsw.Add(p); err == nil {
			w.watched[p] = ino
		} else {
			delete(w.watched, p)
		}
	}
	for p := range w.watched {
		if !want[p] {
			_ = w.fsw.Remove(p)
			delete(w.watched, p)
		}
	}
}

// addSnapshotPaths adds the directories and regular files of the snapshot
// tree n that are still what the snapshot says at p.
func addSnapshotPaths(p string, n *node, want map[string]bool) {
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
	case n.typ == directory && fi.IsDir():
		want[p] = true
		for name, k := range n.kids {
			addSnapshotPaths(filepath.Join(p, name), k, want)
		}
	case n.typ == regular && fi.Mode().IsRegular():
		want[p] = true
	}
}

func inode(p string) uint64 {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return 0
	}
	return st.Ino
}
