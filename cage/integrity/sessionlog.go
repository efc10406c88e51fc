package integrity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// sessionLog is last-session.json.
type sessionLog struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Events  []Event   `json:"events"`
	Omitted int       `json:"omitted,omitempty"` // restores beyond maxEvents
}

// saveSessionLog writes l as the last session's log, unless l and the log
// already there both say there were no restores (the usual case): its
// times are not shown anywhere, so nothing is written per entry.
func (s *store) saveSessionLog(l sessionLog) error {
	if len(l.Events) == 0 && l.Omitted == 0 {
		if old, err := readSessionLogAt(s.fd); err == nil && old != nil && len(old.Events) == 0 && old.Omitted == 0 {
			return nil
		}
	}
	if l.Events == nil {
		l.Events = []Event{}
	}
	data, err := json.MarshalIndent(l, "", "\t")
	if err != nil {
		return err
	}
	if err := s.replaceLog(data); err != nil {
		return fmt.Errorf("writing integrity session log: %w", err)
	}
	return nil
}

// replaceLog writes the session log. It is for "aicage status" only, so
// it is not fsynced (Close fsyncs the store directory right after, when it
// clears the running mark), and the old one is deleted before the new one
// is renamed into its place: ext4 writes a file renamed over another out
// at once (auto_da_alloc), which made this the slowest step of Close. A
// status read in between finds no log and shows no restores; after a
// crash in between there is no log.
func (s *store) replaceLog(data []byte) error {
	tmp, err := writeTempAt(s.fd, ".", data, false)
	if err != nil {
		return err
	}
	err = unix.Unlinkat(s.fd, sessionLogName, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		err = unix.Renameat(s.fd, tmp, s.fd, sessionLogName)
	}
	if err != nil {
		_ = unix.Unlinkat(s.fd, tmp, 0)
	}
	return err
}

// LastSessionCount is how many restores the last session made, counting
// the repeats that were not listed one by one.
func LastSessionCount(storeDir string) (int, error) {
	l, err := readSessionLog(storeDir)
	if err != nil || l == nil {
		return 0, err
	}
	return len(l.Events) + l.Omitted, nil
}

func readSessionLog(storeDir string) (*sessionLog, error) {
	data, err := readLimited(filepath.Join(storeDir, sessionLogName), maxSessionLog)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading integrity session log: %w", err)
	}
	var l sessionLog
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("reading integrity session log %q: %w", filepath.Join(storeDir, sessionLogName), err)
	}
	return &l, nil
}

// LastSession returns the restores of the last session that ended in the
// store storeDir, oldest first, for "aicage status". It returns no events
// and no error when no session has ended there yet.
func LastSession(storeDir string) ([]Event, error) {
	l, err := readSessionLog(storeDir)
	if err != nil || l == nil {
		return nil, err
	}
	if l.Omitted > 0 {
		l.Events = append(l.Events, Event{
			Time: l.Ended,
			What: fmt.Sprintf("%d more restores not listed", l.Omitted),
			Rel:  "…",
		})
	}
	return l.Events, nil
}

// readSessionLogAt reads the session log of the store dirfd; nil when
// there is none or it cannot be read.
func readSessionLogAt(dirfd int) (*sessionLog, error) {
	data, err := readFileAt(dirfd, sessionLogName, maxSessionLog)
	if err != nil {
		return nil, err
	}
	var l sessionLog
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
