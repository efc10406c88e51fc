package integrity

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// verifyEvery is how often the whole set is verified besides the events:
// a write through a shared memory mapping (which makes no event) or an
// event lost to a full queue is caught within this interval. Each pass
// reads every protected file (a few dozen small ones): a stat-only check
// would miss a write through a mapping whose page was already dirty when
// the stat was taken, and the full pass costs about 0.3 ms a second, too
// little to measure next to a build writing 10,000 files
// (BenchmarkWrite10kFiles with -bench.tick=0 and with the default).
const verifyEvery = time.Second

// Watcher guards a protected set for one session: it restores forbidden
// changes as inotify reports them and verifies the whole set every
// verifyEvery and at Close.
type Watcher struct {
	root    string
	store   *store
	items   []*itemState
	anchors []*anchor
	report  func(Event)
	nfy     *inotify // its goroutine's wake-up, and the watches
	// watching is set while the loop keeps inotify watches.
	watching bool

	// interesting holds the paths whose events matter: the items and the
	// directories leading to them. Events below an item are matched by
	// prefix.
	interesting map[string]bool
	prefixes    []string
	realDirs    map[string]string // for realParentIn, during Start

	started    time.Time
	marked     bool   // this session marked the store running
	suffix     string // added to What, for the restores Start makes
	events     []Event
	omitted    int
	failed     []error // failures of the last pass
	lastReport map[string]time.Time

	stop    chan struct{}
	done    chan struct{}
	state   atomic.Int32 // loopBusy, loopWaiting or loopStopped
	syncReq chan chan struct{}

	closeOnce   sync.Once
	closeEvents []Event
	closeErr    error
}

type options struct {
	watch bool          // use inotify
	tick  time.Duration // verify everything this often; 0: never
	// beforeSwap is itemState.beforeSwap, for every item (tests).
	beforeSwap func()
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
// report, which may be nil, is called for every restore as it happens
// (also for those Start itself makes), from a goroutine of the Watcher; it
// must not block for long and must not call Close. The same restore
// repeated within a second is reported once.
func Start(storeDir string, set Set, report func(Event)) (*Watcher, error) {
	return start(storeDir, set, report, options{watch: true, tick: verifyEvery})
}

func start(storeDir string, set Set, report func(Event), opt options) (w *Watcher, err error) {
	root, err := realDir(set.Root)
	if err != nil {
		return nil, fmt.Errorf("integrity: project root: %w", err)
	}
	if abs, err := filepath.Abs(storeDir); err == nil {
		if real, err := realParent(abs); err == nil && within(real, root) {
			return nil, fmt.Errorf("integrity: store %s is inside the project, where the cage can write", storeDir)
		}
	}
	st, err := openStore(storeDir)
	if err != nil {
		return nil, err
	}
	w = &Watcher{
		root: root, store: st, report: report, started: time.Now(),
		interesting: map[string]bool{}, realDirs: map[string]string{},
		lastReport: map[string]time.Time{},
		stop:       make(chan struct{}), done: make(chan struct{}),
		syncReq: make(chan chan struct{}, 8),
	}
	defer func() {
		if err != nil {
			if w.store.lockLast() && w.marked {
				_ = w.store.setRunning(false)
			}
			w.release()
		}
	}()
	for _, item := range set.Items {
		if err := w.addItem(item); err != nil {
			return nil, err
		}
	}
	w.realDirs = nil
	for _, it := range w.items {
		it.beforeSwap = opt.beforeSwap
	}
	if err := w.snapshot(); err != nil {
		return nil, err
	}
	if w.nfy, err = newInotify(); err != nil {
		return nil, fmt.Errorf("integrity: inotify: %w", err)
	}
	if opt.watch {
		w.watching = true
		w.syncWatches()
	}
	w.state.Store(loopWaiting)
	go w.loop(w.nfy, opt.tick)
	return w, nil
}

// pass verifies and restores every item, then follows the directories to
// watch.
func (w *Watcher) pass() {
	w.failed = nil
	for _, a := range w.anchors {
		w.checkAnchor(a)
	}
	for _, it := range w.items {
		w.reconcileItem(it)
	}
	if w.watching {
		w.syncWatches()
	}
}

// reconcileItem restores one item. A restore that fails because the cage
// changed the same path meanwhile is tried again before it is reported as
// failed.
func (w *Watcher) reconcileItem(it *itemState) {
	for try := 1; ; try++ {
		var failed []finding
		for _, f := range reconcile(it) {
			if f.err != nil && try < maxTries {
				failed = append(failed, f)
				continue
			}
			w.record(f)
		}
		if len(failed) == 0 {
			return
		}
	}
}

// maxTries bounds the attempts at restoring one item in one pass.
const maxTries = 3

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

// Restored is how many restores the session made, counting the repeats
// that were not listed one by one. Valid after Close.
func (w *Watcher) Restored() int { return len(w.events) + w.omitted }

func (w *Watcher) rel(p string) string {
	if r, err := filepath.Rel(w.root, p); err == nil && within(p, w.root) {
		return r
	}
	return p
}

// sync runs a pass in the loop and waits for it: tests use it to know that
// everything done before has been looked at.
func (w *Watcher) sync() {
	reply := make(chan struct{})
	select {
	case w.syncReq <- reply:
	case <-w.done:
		return
	}
	w.nfy.wake()
	select {
	case <-reply:
	case <-w.done:
	}
}

// DupInotify returns a new descriptor (close-on-exec) of the watcher's
// inotify instance, or -1 when it has none. A process that holds one past
// aicage's exit makes the kernel's teardown of the instance — which waits
// for an SRCU grace period, up to 20 ms — happen there, not between the
// command's exit and the user's prompt.
func (w *Watcher) DupInotify() int {
	if w.nfy == nil {
		return -1
	}
	fd, err := unix.FcntlInt(uintptr(w.nfy.fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1
	}
	return fd
}

// Close stops watching, verifies and restores the whole set once more,
// writes the session's restores to the store for LastSession and returns
// them, oldest first. The error reports what could not be restored or
// recorded. Close may be called more than once; later calls return the
// same.
func (w *Watcher) Close() ([]Event, error) {
	w.closeOnce.Do(func() {
		w.stopLoop()
		var errs []error
		w.watching = false
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

// stopLoop stops the loop: at once when it is waiting (it then ends on its
// own, closing the inotify descriptor), else when it has ended.
func (w *Watcher) stopLoop() {
	close(w.stop)
	w.nfy.wake()
	if !w.state.CompareAndSwap(loopWaiting, loopStopped) {
		<-w.done
	}
	w.nfy = nil
}

// release closes the anchors and the store (dropping its lock).
func (w *Watcher) release() {
	if w.nfy != nil {
		_ = w.nfy.close()
		w.nfy = nil
	}
	for _, a := range w.anchors {
		unix.Close(a.fd)
	}
	w.anchors = nil
	_ = w.store.close()
}
