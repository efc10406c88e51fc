package integrity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// verifyEvery is how often the whole set is verified besides the events: a
// write through a hard link or a shared mapping, or an event lost to a full
// queue, is caught within this interval.
const verifyEvery = time.Second

// Watcher guards a protected set for one session: it restores forbidden
// changes as fsnotify reports them and verifies the whole set every
// verifyEvery and at Close.
type Watcher struct {
	root    string
	store   *store
	items   []*itemState
	anchors []*anchor
	report  func(Event)
	fsw     *fsnotify.Watcher

	// interesting holds the paths whose events matter: the items and the
	// directories leading to them. Events below an item are matched by
	// prefix.
	interesting map[string]bool
	prefixes    []string
	watched     map[string]uint64 // watched directory → its inode when added

	started    time.Time
	suffix     string // added to What, for the restores Start makes
	events     []Event
	omitted    int
	failed     []error // failures of the last pass
	lastReport map[string]time.Time

	stop    chan struct{}
	done    chan struct{}
	syncReq chan chan struct{}

	closeOnce   sync.Once
	closeEvents []Event
	closeErr    error
}

type options struct {
	watch bool          // use fsnotify
	tick  time.Duration // verify everything this often; 0: never
}

// Start snapshots set into storeDir and watches it until Close. storeDir
// must be outside every grant of the cage; it is made 0700 if missing. The
// snapshot replaces the previous one, so edits the user made while no
// session ran are kept, with one exception: when the previous session did
// not end cleanly (the supervisor was killed), the set is first restored
// to that session's snapshot, and report says so.
//
// When another session of the same project is running (same storeDir), the
// new one shares its snapshot instead of taking a new one.
//
// report, which may be nil, is called for every restore, from a goroutine
// of the Watcher; it must not block for long and must not call Close.
func Start(storeDir string, set Set, report func(Event)) (*Watcher, error) {
	return start(storeDir, set, report, options{watch: true, tick: verifyEvery})
}

func start(storeDir string, set Set, report func(Event), opt options) (w *Watcher, err error) {
	root, err := realDir(set.Root)
	if err != nil {
		return nil, fmt.Errorf("integrity: project root: %w", err)
	}
	st, err := openStore(storeDir)
	if err != nil {
		return nil, err
	}
	w = &Watcher{
		root: root, store: st, report: report, started: time.Now(),
		interesting: map[string]bool{}, watched: map[string]uint64{},
		lastReport: map[string]time.Time{},
		stop:       make(chan struct{}), done: make(chan struct{}),
		syncReq: make(chan chan struct{}),
	}
	defer func() {
		if err != nil {
			w.release()
		}
	}()
	for _, item := range set.Items {
		if err := w.addItem(item); err != nil {
			return nil, err
		}
	}
	if err := w.snapshot(); err != nil {
		return nil, err
	}
	if opt.watch {
		if w.fsw, err = fsnotify.NewBufferedWatcher(4096); err != nil {
			return nil, fmt.Errorf("integrity: %w", err)
		}
		w.syncWatches()
	}
	go w.loop(opt.tick)
	return w, nil
}

// snapshot takes the set's snapshot, or shares the running session's.
func (w *Watcher) snapshot() error {
	first, err := w.store.lockFirst()
	if err != nil {
		return fmt.Errorf("integrity: locking store: %w", err)
	}
	if !first {
		if err := w.store.lockShared(); err != nil {
			return fmt.Errorf("integrity: locking store: %w", err)
		}
		old, _ := w.store.loadSnapshot() // unreadable: take our own
		return w.capture(old)
	}
	if w.store.running() {
		// The last session did not end: its cage may have changed the set
		// after its last verification.
		if old, err := w.store.loadSnapshot(); err == nil {
			if err := w.capture(old); err != nil {
				return err
			}
			w.suffix = ", found after the last session ended uncleanly"
			w.pass()
			w.suffix = ""
		}
	}
	if err := w.capture(nil); err != nil {
		return err
	}
	trees := make([]manifestTree, len(w.items))
	for i, it := range w.items {
		trees[i] = manifestTree{path: it.Path, kind: it.Kind, root: it.want}
	}
	if err := w.store.saveSnapshot(trees); err != nil {
		return err
	}
	if err := w.store.setRunning(true); err != nil {
		return fmt.Errorf("integrity: %w", err)
	}
	return w.store.lockShared()
}

// capture fills in each item's snapshot: from old when it has the item,
// else from the filesystem.
func (w *Watcher) capture(old map[string]manifestTree) error {
	budget := maxNodes
	for _, it := range w.items {
		if t, ok := old[it.Path]; ok && t.kind == it.Kind {
			it.want = t.root
		} else {
			parent, ok := w.openParentForCapture(it)
			if !ok {
				it.want = absentNode
			} else {
				n, err := captureAt(parent, it.name(), &budget, 0)
				if parent != it.anchor.fd {
					unix.Close(parent)
				}
				if err != nil {
					return fmt.Errorf("integrity: snapshot of %s: %w", it.Path, err)
				}
				it.want = n
			}
		}
		it.cfg = nil
		if it.Kind == GitConfig {
			switch it.want.typ {
			case absent:
				it.cfg = &gitConfig{}
			case regular:
				it.cfg, _ = parseGitConfig(it.want.data) // unparsable: byte for byte
			}
		}
	}
	return nil
}

// openParentForCapture opens the item's parent when it exists as real
// directories all the way down.
func (w *Watcher) openParentForCapture(it *itemState) (int, bool) {
	if len(it.ancModes) < len(it.comps)-1 {
		return -1, false
	}
	fd := it.anchor.fd
	for _, c := range it.comps[:len(it.comps)-1] {
		next, err := openDirPath(fd, c)
		if fd != it.anchor.fd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, false
		}
		fd = next
	}
	return fd, true
}

// addItem resolves the item's anchor and records the directories leading to
// it as they are now.
func (w *Watcher) addItem(item Item) error {
	p, err := realParent(item.Path)
	if err != nil {
		return fmt.Errorf("integrity: %s: %w", item.Path, err)
	}
	anchorPath := w.root
	if !within(p, w.root) || p == w.root {
		if p == w.root {
			return fmt.Errorf("integrity: %s: the project root itself cannot be protected", item.Path)
		}
		anchorPath = filepath.Dir(p)
		for {
			if _, err := os.Lstat(anchorPath); err == nil {
				break
			}
			anchorPath = filepath.Dir(anchorPath)
		}
	}
	a, err := w.openAnchor(anchorPath)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(a.path, p)
	if err != nil {
		return err
	}
	it := &itemState{Item: Item{Path: p, Kind: item.Kind, Source: item.Source}, anchor: a,
		comps: strings.Split(rel, string(filepath.Separator))}
	fd := a.fd
	for _, c := range it.comps[:len(it.comps)-1] {
		st, err := lstatAt(fd, c)
		if err != nil || typeOf(&st) != directory {
			break
		}
		next, err := openDirPath(fd, c)
		if err != nil {
			break
		}
		it.ancModes = append(it.ancModes, perm(&st))
		if fd != a.fd {
			unix.Close(fd)
		}
		fd = next
	}
	if fd != a.fd {
		unix.Close(fd)
	}
	w.items = append(w.items, it)
	w.interesting[a.path] = true
	q := a.path
	for _, c := range it.comps {
		q = filepath.Join(q, c)
		w.interesting[q] = true
	}
	w.prefixes = append(w.prefixes, p+string(filepath.Separator))
	return nil
}

func (w *Watcher) openAnchor(path string) (*anchor, error) {
	for _, a := range w.anchors {
		if a.path == path {
			return a, nil
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("integrity: opening %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("integrity: %s: %w", path, err)
	}
	a := &anchor{path: path, fd: fd, mode: perm(&st)}
	w.anchors = append(w.anchors, a)
	return a, nil
}

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

// pass verifies and restores every item, then follows the directories to
// watch.
func (w *Watcher) pass() {
	w.failed = nil
	for _, a := range w.anchors {
		w.checkAnchor(a)
	}
	for _, it := range w.items {
		for _, f := range reconcile(it) {
			w.record(f)
		}
	}
	if w.fsw != nil {
		w.syncWatches()
	}
}

// checkAnchor puts back the anchor's permission bits: without search
// permission on it nothing below could be restored.
func (w *Watcher) checkAnchor(a *anchor) {
	var st unix.Stat_t
	if err := unix.Fstat(a.fd, &st); err != nil || perm(&st) == a.mode {
		return
	}
	w.record(finding{path: a.path, what: "mode changed", err: unix.Fchmod(a.fd, a.mode)})
}

func (w *Watcher) record(f finding) {
	ev := Event{Path: f.path, Rel: w.rel(f.path), What: f.what + w.suffix, Time: time.Now(), Failed: f.err != nil}
	if f.err != nil {
		w.failed = append(w.failed, fmt.Errorf("%s: %s", ev.Rel, f.what))
	}
	key := ev.Path + "\x00" + ev.What
	if last, ok := w.lastReport[key]; ok && ev.Time.Sub(last) < reportEvery && !ev.Failed {
		w.omitted++
		return
	}
	w.lastReport[key] = ev.Time
	if len(w.events) >= maxEvents {
		w.omitted++
	} else {
		w.events = append(w.events, ev)
	}
	if w.report != nil {
		w.report(ev)
	}
}

func (w *Watcher) rel(p string) string {
	if r, err := filepath.Rel(w.root, p); err == nil && within(p, w.root) {
		return r
	}
	return p
}

// syncWatches watches the directories leading to each item and, for a
// directory item, the directories of its snapshot that are still real
// directories. A directory replaced since it was added is watched anew.
func (w *Watcher) syncWatches() {
	want := map[string]bool{}
	for _, it := range w.items {
		p := it.anchor.path
		want[p] = true
		for _, c := range it.comps[:len(it.comps)-1] {
			p = filepath.Join(p, c)
			if !isRealDir(p) {
				break
			}
			want[p] = true
		}
		if p == filepath.Dir(it.Path) && it.want.typ == directory {
			addRealDirs(it.Path, it.want, want)
		}
	}
	listed := map[string]bool{}
	for _, p := range w.fsw.WatchList() {
		listed[p] = true
	}
	for p := range want {
		ino := inode(p)
		if old, ok := w.watched[p]; ok && old == ino && listed[p] {
			continue
		}
		if ok := w.watched[p] != 0; ok && listed[p] {
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

func addRealDirs(p string, n *node, want map[string]bool) {
	if n.typ != directory || !isRealDir(p) {
		return
	}
	want[p] = true
	for name, k := range n.kids {
		addRealDirs(filepath.Join(p, name), k, want)
	}
}

func isRealDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

func inode(p string) uint64 {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return 0
	}
	return st.Ino
}

// sync runs a pass in the loop and waits for it: tests use it to know that
// everything done before has been looked at.
func (w *Watcher) sync() {
	reply := make(chan struct{})
	select {
	case w.syncReq <- reply:
		<-reply
	case <-w.done:
	}
}

// Close stops watching, verifies and restores the whole set once more,
// writes the session's restores to the store for LastSession and returns
// them, oldest first. The error reports what could not be restored or
// recorded. Close may be called more than once; later calls return the
// same.
func (w *Watcher) Close() ([]Event, error) {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		var errs []error
		if w.fsw != nil {
			if err := w.fsw.Close(); err != nil {
				errs = append(errs, err)
			}
			w.fsw = nil
		}
		w.pass()
		if len(w.failed) > 0 {
			errs = append(errs, fmt.Errorf("integrity: could not restore: %w", errors.Join(w.failed...)))
		}
		err := w.store.saveSessionLog(sessionLog{
			Started: w.started.UTC(), Ended: time.Now().UTC(),
			Events: w.events, Omitted: w.omitted,
		})
		if err != nil {
			errs = append(errs, err)
		}
		if w.store.lockLast() {
			if err := w.store.setRunning(false); err != nil {
				errs = append(errs, err)
			}
		}
		w.release()
		w.closeEvents, w.closeErr = w.events, errors.Join(errs...)
	})
	return w.closeEvents, w.closeErr
}

// release closes the anchors and the store (dropping its lock).
func (w *Watcher) release() {
	if w.fsw != nil {
		_ = w.fsw.Close()
	}
	for _, a := range w.anchors {
		unix.Close(a.fd)
	}
	w.anchors = nil
	_ = w.store.close()
}
