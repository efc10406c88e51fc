package integrity

// The watches are plain inotify, read by the Watcher's own goroutine: no
// reader goroutine, no channel of events. The goroutine waits in poll(2)
// on the inotify descriptor and an eventfd, with the next periodic pass as
// its timeout; Close and sync post their request, then write the eventfd.
//
// Events that concern nothing protected (a build writing in a directory
// watched only so that a missing protected path is seen to appear) are
// read in batches: after such a batch the goroutine leaves the descriptor
// alone for quietFor, so that the kernel queues the next ones without
// waking anybody, and takes them in one read. Waking the reader for every
// event cost a build writing 10,000 files in the project root half its
// speed; now a relevant event that arrives in such a flood is seen at most
// quietFor later, and any other at once.
//
// (This replaced github.com/fsnotify/fsnotify, whose reader goroutine sends
// an error while holding the lock its Add, Remove and WatchList take: when
// a watched file was moved and its watch was already gone, the reader
// waited for us to take the error while we waited for the lock, and the
// session's restores stopped. A restore that swaps .git/config out moves a
// watched file every time.)

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What a watch reports. Every watched path reports its own deletion, move
// and attribute changes (mode; link count, so a hard link made elsewhere).
// A file reports its writes. A directory of the snapshot reports every
// change to its entries; a directory watched for a missing path only that
// something appeared in it. A symlink is watched as itself, never followed.
const (
	maskSelf     = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ATTRIB | unix.IN_DONT_FOLLOW
	maskFile     = maskSelf | unix.IN_MODIFY
	maskAppear   = maskSelf | unix.IN_CREATE | unix.IN_MOVED_TO
	maskEntries  = maskAppear | unix.IN_MODIFY | unix.IN_DELETE | unix.IN_MOVED_FROM
	inotifyBuf   = 16 << 10 // read buffer: a few hundred events
	quietFor     = 5 * time.Millisecond
	maxReadBurst = 64 // reads of inotifyBuf in one batch before a pass anyway
)

type inotify struct {
	fd     int // nonblocking inotify descriptor
	wakeFd int // eventfd: Close and sync write it
	buf    []byte
	byPath map[string]watch // watched path → its watch
	byWd   map[int32]string // watch descriptor → the path it was added for
}

type watch struct {
	wd   int32
	ino  uint64 // the inode the path had when the watch was added
	mask uint32
}

func newInotify() (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	// EMFILE: the user's instances (fs.inotify.max_user_instances) are
	// used up. Those of sessions that just ended are torn down in a kernel
	// worker, after an SRCU grace period (see cmd/aicage/holder.go): a
	// script that runs aicage in a tight loop may get here first. Wait
	// for them a little.
	for wait := time.Millisecond; err == unix.EMFILE && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		fd, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	}
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &inotify{
		fd: fd, wakeFd: wake, buf: make([]byte, inotifyBuf),
		byPath: map[string]watch{}, byWd: map[int32]string{},
	}, nil
}

func (n *inotify) close() error {
	unix.Close(n.wakeFd)
	return unix.Close(n.fd)
}

// wake makes the loop's wait return at once.
func (n *inotify) wake() {
	if n != nil {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(n.wakeFd, one[:])
	}
}

// add watches p, whose inode is ino, for mask, in place of any earlier
// watch of p.
func (n *inotify) add(p string, ino uint64, mask uint32) {
	if old, ok := n.byPath[p]; ok {
		n.remove(p, old)
	}
	wd, err := unix.InotifyAddWatch(n.fd, p, mask)
	if err != nil {
		return // gone meanwhile: its parent's watch sees what comes
	}
	n.byPath[p] = watch{wd: int32(wd), ino: ino, mask: mask}
	n.byWd[int32(wd)] = p
}

// remove stops watching p, unless another watched path is the same inode
// (inotify gives both the same watch).
func (n *inotify) remove(p string, w watch) {
	delete(n.byPath, p)
	for q, o := range n.byPath {
		if o.wd == w.wd {
			n.byWd[w.wd] = q
			return
		}
	}
	delete(n.byWd, w.wd)
	_, _ = unix.InotifyRmWatch(n.fd, uint32(w.wd))
}

// forget drops a watch the kernel removed (its inode is gone).
func (n *inotify) forget(wd int32) {
	delete(n.byWd, wd)
	for p, w := range n.byPath {
		if w.wd == wd {
			delete(n.byPath, p)
		}
	}
}

// wait waits up to timeout (negative: for ever) for events or a wake-up,
// reads every event queued, and reports whether there were any (events)
// and whether one of them concerns a path for which relevant is true or
// was a queue overflow (hit), after which anything may have happened.
func (n *inotify) wait(timeout time.Duration, relevant func(string) bool) (events, hit bool, err error) {
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}, {Fd: int32(n.wakeFd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, ms); err != nil && !errors.Is(err, unix.EINTR) {
		return false, false, err
	}
	if fds[1].Revents != 0 {
		var b [8]byte
		_, _ = unix.Read(n.wakeFd, b[:])
	}
	for i := 0; i < maxReadBurst; i++ {
		k, err := unix.Read(n.fd, n.buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return events, hit, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return events, hit, err
		}
		events = true
		if n.parse(n.buf[:k], relevant) {
			hit = true
		}
	}
	return events, hit, nil
}

// parse goes through the events in b; see wait.
func (n *inotify) parse(b []byte, relevant func(string) bool) (hit bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		if unix.SizeofInotifyEvent+nameLen > len(b) {
			return true // cannot happen; look at everything
		}
		name := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+nameLen]
		b = b[unix.SizeofInotifyEvent+nameLen:]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			hit = true
		case mask&unix.IN_IGNORED != 0:
			n.forget(wd)
		case !hit:
			p, ok := n.byWd[wd]
			if !ok {
				continue
			}
			if end := strings.IndexByte(string(name), 0); end >= 0 {
				name = name[:end]
			}
			if len(name) > 0 {
				p += "/" + string(name)
			}
			hit = relevant(p)
		}
	}
	return hit
}

// The loop's states. Close takes over at once from a loop that is waiting
// (from then on the loop touches nothing but its own descriptors and the
// set's paths, which never change, and ends when it wakes); from a busy
// one it waits until it ends. A waiting loop sits in a system call, and
// waking its thread and then Close's took longer than all of Close's own
// work but the fsync.
const (
	loopBusy int32 = iota
	loopWaiting
	loopStopped
)

// loop restores on every relevant event and every tick until stop.
func (w *Watcher) loop(nfy *inotify, tick time.Duration) {
	defer func() {
		close(w.done)
		_ = nfy.close()
	}()
	wait := func() bool { return w.state.CompareAndSwap(loopBusy, loopWaiting) }
	work := func() bool { return w.state.CompareAndSwap(loopWaiting, loopBusy) }
	var next time.Time // zero: no periodic pass
	if tick > 0 {
		next = time.Now().Add(tick)
	}
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	if !work() { // it starts waiting: Close right after Start need not wait
		return
	}
	for {
		// Requests first: one posted before this look is seen here, one
		// posted after it wakes the wait below.
		select {
		case <-w.stop:
			return
		case reply := <-w.syncReq:
			w.pass()
			close(reply)
			continue
		default:
		}
		timeout := time.Duration(-1)
		if tick > 0 {
			if timeout = time.Until(next); timeout <= 0 {
				w.pass()
				next = time.Now().Add(tick)
				continue
			}
		}
		if !wait() {
			return
		}
		events, hit, err := nfy.wait(timeout, w.relevant)
		if !work() {
			return
		}
		switch {
		case err != nil:
			// The descriptor broke: look at everything, then carry on
			// with the periodic passes alone.
			w.pass()
			w.tickOnly(tick)
			return
		case hit:
			w.pass()
		case events:
			// Only events about nothing protected: let the next ones
			// queue up unread for a while.
			if !wait() {
				return
			}
			quiet.Reset(quietFor)
			select {
			case <-w.stop:
				return
			case reply := <-w.syncReq:
				if !work() {
					return
				}
				w.pass()
				close(reply)
				continue
			case <-quiet.C:
			}
			if !work() {
				return
			}
		}
	}
}

// tickOnly is the loop without events.
func (w *Watcher) tickOnly(tick time.Duration) {
	var ticks <-chan time.Time
	if tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-w.stop:
			return
		case reply := <-w.syncReq:
			w.pass()
			close(reply)
		case <-ticks:
			w.pass()
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
	want := map[string]watch{} // path → its inode now and what to watch for
	need := func(p string, ino uint64, mask uint32) {
		o := want[p]
		want[p] = watch{ino: ino, mask: o.mask | mask}
	}
	type look struct {
		st  unix.Stat_t
		err error
	}
	seen := map[string]look{} // the items share the directories above them
	for _, it := range w.items {
		parent := it.anchor.path
		parentIno := it.anchor.ino
		for i, c := range it.comps {
			p := filepath.Join(parent, c)
			l, ok := seen[p]
			if !ok {
				l.err = unix.Lstat(p, &l.st)
				seen[p] = l
			}
			st, err := l.st, l.err
			last := i == len(it.comps)-1
			typ := typeOf(&st)
			if err != nil {
				need(parent, parentIno, maskAppear)
				break
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK || (typ != directory && (!last || typ != regular)) {
				// In the way: its parent sees it go, or be replaced.
				need(parent, parentIno, maskAppear|unix.IN_DELETE|unix.IN_MOVED_FROM)
				break
			}
			switch {
			case !last:
				need(p, st.Ino, maskSelf)
			case typ == directory:
				need(p, st.Ino, maskEntries)
				if it.want.typ == directory {
					for name, k := range it.want.kids {
						addSnapshotPaths(filepath.Join(p, name), k, need)
					}
				}
			default:
				need(p, st.Ino, maskFile)
			}
			parent, parentIno = p, st.Ino
		}
	}
	for p, x := range want {
		if cur, ok := w.nfy.byPath[p]; !ok || cur.ino != x.ino || cur.mask != x.mask {
			w.nfy.add(p, x.ino, x.mask)
		}
	}
	for p, cur := range w.nfy.byPath {
		if _, ok := want[p]; !ok {
			w.nfy.remove(p, cur)
		}
	}
}

// addSnapshotPaths adds the directories and regular files of the snapshot
// tree n that are still what the snapshot says at p. A directory that is
// not (yet, or any more) is watched through its parent, which reports its
// appearance.
func addSnapshotPaths(p string, n *node, need func(string, uint64, uint32)) {
	var st unix.Stat_t
	switch err := unix.Lstat(p, &st); {
	case err != nil:
	case n.typ == directory && typeOf(&st) == directory:
		need(p, st.Ino, maskEntries)
		for name, k := range n.kids {
			addSnapshotPaths(filepath.Join(p, name), k, need)
		}
	case n.typ == regular && typeOf(&st) == regular:
		need(p, st.Ino, maskFile)
	}
}
