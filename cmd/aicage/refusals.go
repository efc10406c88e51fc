package main

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/broker"
)

// refusalsFile is the connect broker's session log in the state directory:
// one JSON object a line, read back by 'aicage status'.
const refusalsFile = "network.log"

// refusals records what the broker refused and tells the terminal once per
// destination. The log is opened at the first refusal: a session that is
// refused nothing writes nothing.
type refusals struct {
	pol    *cage.Policy
	mu     sync.Mutex
	f      *os.File
	opened bool
	seen   map[string]bool
}

func newRefusals(pol *cage.Policy) *refusals {
	return &refusals{pol: pol, seen: map[string]bool{}}
}

func (r *refusals) add(x broker.Refusal) {
	line, _ := json.Marshal(x)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.opened {
		r.opened = true
		f, err := cage.OpenStateLog(r.pol, refusalsFile)
		if err != nil {
			warningf("cannot keep the network log: %v", err)
		}
		r.f = f
	}
	if r.f != nil {
		r.f.Write(append(line, '\n'))
	}
	if !r.seen[x.Dest] {
		r.seen[x.Dest] = true
		printf("refused %s (%s)", x.Dest, x.Rule)
	}
}

func (r *refusals) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// lastRefusals reads the newest n entries of the network log.
func lastRefusals(pol *cage.Policy, n int) []broker.Refusal {
	b, err := cage.ReadStateFile(pol, refusalsFile)
	if err != nil {
		return nil
	}
	var out []broker.Refusal
	for _, line := range bytes.Split(b, []byte("\n")) {
		var x broker.Refusal
		if json.Unmarshal(line, &x) == nil {
			out = append(out, x)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
