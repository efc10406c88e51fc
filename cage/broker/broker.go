package broker

import "time"

// Refusal is one call the broker refused.
type Refusal struct {
	Time    time.Time `json:"time"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Op      string    `json:"op"`   // connect, sendto, sendmsg, sendmmsg, listen
	Dest    string    `json:"dest"` // the address as the cage gave it
	Rule    string    `json:"rule"` // why, and what to do
}

// Options are the broker's inputs.
type Options struct {
	// Listener is the seccomp user-notification fd; the broker owns it.
	Listener int
	Policy   *Policy
	// InDomain runs f on a thread in the command's own Landlock domain
	// and returns when f has; InDomainTID is that thread's id, whose own
	// calls the broker lets through (their memory is the supervisor's).
	InDomain    func(f func())
	InDomainTID int
	// Refused, if set, is told of every refusal (from many goroutines).
	Refused func(Refusal)
}
