package integrity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// sessionLog is last-session.json.
type sessionLog struct {
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Events  []Event   `json:"events"`
	Omitted int       `json:"omitted,omitempty"` // restores beyond maxEvents
}

func (s *store) saveSessionLog(l sessionLog) error {
	if l.Events == nil {
		l.Events = []Event{}
	}
	data, err := json.MarshalIndent(l, "", "\t")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path(sessionLogName), data); err != nil {
		return fmt.Errorf("writing integrity session log: %w", err)
	}
	return nil
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
