package integrity

import (
	"fmt"
	"time"
)

// Event is one restore: a forbidden change found in the protected set and
// undone.
type Event struct {
	Path string    // absolute path of what was restored
	Rel  string    // Path relative to the project root, or Path when outside it
	What string    // what the cage did: "created inside the cage", "forbidden key core.fsmonitor", …
	Time time.Time // when it was found
	// Failed is set when the restore did not succeed; What then says why.
	// The path may still hold what the cage put there.
	Failed bool `json:",omitempty"`
}

// String is the line the supervisor shows:
// "restored .git/hooks/pre-commit (created inside the cage)".
func (e Event) String() string {
	if e.Failed {
		return fmt.Sprintf("could not restore %s (%s)", e.Rel, e.What)
	}
	return fmt.Sprintf("restored %s (%s)", e.Rel, e.What)
}

// maxEvents bounds the events a session keeps: a cage that rewrites a hook
// in a loop is restored every time but not listed every time.
const maxEvents = 1000

// reportEvery is the shortest interval between two reports of the same
// restore (same path, same reason) to the callback.
const reportEvery = time.Second
