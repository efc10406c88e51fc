package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// traceEnv turns on the phase trace of 'run' and 'shell': each phase with
// its wall time, the process's CPU time and its voluntary context switches
// (getrusage, RUSAGE_SELF), printed to stderr when aicage exits.
const traceEnv = "AICAGE_TRACE"

// tracer records phases; a nil *tracer records nothing.
type tracer struct {
	mu     sync.Mutex
	start  time.Time
	last   mark
	phases []phase
	spans  []span
}

type mark struct {
	wall time.Time
	cpu  time.Duration
	nvcs int64
}

type phase struct {
	name      string
	wall, cpu time.Duration
	nvcs      int64
}

// span is work that runs beside the phases, on a goroutine of its own:
// when it started after the trace began, and how long it took.
type span struct {
	name       string
	start, dur time.Duration
}

func newTracer() *tracer {
	if os.Getenv(traceEnv) == "" {
		return nil
	}
	// What ran before main (the loader, the runtime, package inits) shows
	// as CPU time only: the kernel's start time of a process is counted in
	// 10 ms ticks, too coarse to time it.
	t := &tracer{start: time.Now()}
	t.last = mark{wall: t.start}
	cpu, nvcs := usage()
	t.phases = append(t.phases, phase{name: "before main (cpu only)", cpu: cpu, nvcs: nvcs})
	t.last.cpu, t.last.nvcs = cpu, nvcs
	return t
}

func usage() (time.Duration, int64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Nvcsw
}

// phase ends the current phase under name.
func (t *tracer) phase(name string) {
	if t == nil {
		return
	}
	cpu, nvcs := usage()
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phases = append(t.phases, phase{name: name, wall: now.Sub(t.last.wall), cpu: cpu - t.last.cpu, nvcs: nvcs - t.last.nvcs})
	t.last = mark{wall: now, cpu: cpu, nvcs: nvcs}
}

// span starts timing concurrent work; the returned function ends it.
// With a nil *tracer both do nothing.
func (t *tracer) span(name string) (end func()) {
	if t == nil {
		return func() {}
	}
	start := time.Now()
	return func() {
		d := time.Since(start)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.spans = append(t.spans, span{name: name, start: start.Sub(t.start), dur: d})
	}
}

// print writes the table to stderr.
func (t *tracer) print() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(stderr, "aicage: trace %-30s %9s %9s %6s\n", "phase", "wall ms", "cpu ms", "vcsw")
	var wall, cpu time.Duration
	var n int64
	for _, p := range t.phases {
		fmt.Fprintf(stderr, "aicage: trace %-30s %9.3f %9.3f %6d\n", p.name, ms(p.wall), ms(p.cpu), p.nvcs)
		wall, cpu, n = wall+p.wall, cpu+p.cpu, n+p.nvcs
	}
	fmt.Fprintf(stderr, "aicage: trace %-30s %9.3f %9.3f %6d\n", "total (before exit)", ms(wall), ms(cpu), n)
	if len(t.spans) == 0 {
		return
	}
	// Work beside the phases: a phase that waits for it shows the wait.
	fmt.Fprintf(stderr, "aicage: trace %-30s %9s %9s\n", "alongside", "from ms", "wall ms")
	for _, sp := range t.spans {
		fmt.Fprintf(stderr, "aicage: trace %-30s %9.3f %9.3f\n", sp.name, ms(sp.start), ms(sp.dur))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
