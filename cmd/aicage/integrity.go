package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/integrity"
)

// integrityStore is where the snapshot of a project's protected set lives:
// under $XDG_STATE_HOME/aicage/integrity, which no grant ever reaches.
func integrityStore(host cage.Host, root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(host.StateDir, "integrity", filepath.Base(root)+"-"+hex.EncodeToString(sum[:])[:12])
}

// watchIntegrity snapshots the project's git metadata and [protect] paths
// and restores any forbidden change as it happens, printing one line each.
// The returned function stops the watcher, verifies everything once more
// and reports what it restored then.
func watchIntegrity(host cage.Host, root string, protect []string) (stop func(), err error) {
	set, err := integrity.ProtectedSet(root, protect)
	if err != nil {
		return nil, fail(err, "check [protect] paths in the config: they must lie in the project and not be its root or .git")
	}
	report := func(e integrity.Event) { warningf("%s", e) }
	w, err := integrity.Start(integrityStore(host, root), set, report)
	if err != nil {
		return nil, fail(err, startHint(err)...)
	}
	if fd := w.DupInotify(); fd >= 0 {
		holdPastExit(fd)
	}
	return func() {
		events, err := w.Close()
		if err != nil {
			warningf("verifying the protected files at exit: %v", err)
		}
		if n := w.Restored(); n > 0 || len(events) > 0 {
			warningf("%d change(s) to files that run outside the cage were undone this session; 'aicage status' lists them", n)
		}
	}, nil
}

// startHint says what to do when the watcher cannot start for want of an
// inotify instance (fs.inotify.max_user_instances, 128 by default, shared
// by every program of the user that watches files); nothing otherwise.
func startHint(err error) []string {
	if errors.Is(err, syscall.EMFILE) {
		return []string{"each aicage session watches the git metadata with one inotify instance: end sessions or file watchers you no longer need, or raise the limit ('sysctl fs.inotify.max_user_instances=512')"}
	}
	return nil
}

// earlyWatch is the integrity snapshot taken in the background while the
// policy is compiled: it only needs the project root and [protect] paths,
// which resolve already knows. The command starts only once it is done.
type earlyWatch struct {
	root    string
	protect []string
	done    chan struct{}
	stop    func()
	err     error
}

// startWatch begins the snapshot of spec's project.
func startWatch(host cage.Host, spec cage.Spec, tr *tracer) *earlyWatch {
	root := spec.Root
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	w := &earlyWatch{root: root, done: make(chan struct{})}
	for _, e := range spec.Protect {
		w.protect = append(w.protect, cage.Expand(e.Path, host.Home, root))
	}
	go func() {
		defer close(w.done)
		defer tr.span("integrity snapshot")()
		w.stop, w.err = watchIntegrity(host, w.root, w.protect)
	}()
	return w
}

// wait returns the watcher for pol, which must be the policy compiled from
// the same spec: if its root or [protect] paths came out different (the
// project moved meanwhile), the snapshot is taken again for pol.
func (w *earlyWatch) wait(host cage.Host, pol *cage.Policy) (stop func(), err error) {
	<-w.done
	if w.err == nil && (w.root != pol.Root || !slices.Equal(w.protect, pol.Protect)) {
		w.stop()
		return watchIntegrity(host, pol.Root, pol.Protect)
	}
	return w.stop, w.err
}

// cancel stops the watcher when the command never started.
func (w *earlyWatch) cancel() {
	<-w.done
	if w.err == nil {
		w.stop()
	}
}
