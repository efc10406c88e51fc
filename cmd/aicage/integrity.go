package main

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"

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
func watchIntegrity(host cage.Host, pol *cage.Policy) (stop func(), err error) {
	set, err := integrity.ProtectedSet(pol.Root, pol.Protect)
	if err != nil {
		return nil, fail(err, "check [protect] paths in the config: they must lie in the project and not be its root or .git")
	}
	report := func(e integrity.Event) { warningf("%s", e) }
	w, err := integrity.Start(integrityStore(host, pol.Root), set, report)
	if err != nil {
		return nil, fail(err)
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
