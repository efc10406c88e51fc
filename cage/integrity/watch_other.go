//go:build !linux

package integrity

import (
	"errors"
	"runtime"
)

// Watcher is only implemented on Linux.
type Watcher struct{}

// Start fails: the protected set can only be watched on Linux.
func Start(storeDir string, set Set, report func(Event)) (*Watcher, error) {
	return nil, errors.New("integrity: watching the protected set is not supported on " + runtime.GOOS)
}

// Close does nothing.
func (w *Watcher) Close() ([]Event, error) { return nil, nil }

// DupInotify returns -1: there is no inotify here.
func (w *Watcher) DupInotify() int { return -1 }

// Restored is 0.
func (w *Watcher) Restored() int { return 0 }
