package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// traceRuns is how many entries the phase table is the median of.
const traceRuns = 60

// phaseLine is one line of AICAGE_TRACE=1's table.
var phaseLine = regexp.MustCompile(`^aicage: trace (.+?)\s+([0-9.]+)\s+([0-9.]+)\s+(\d+)$`)

// spanLine is one line of its "alongside" table: work beside the phases.
var spanLine = regexp.MustCompile(`^aicage: trace (.+?)\s+([0-9.]+)\s+([0-9.]+)$`)

// trace runs `aicage run -- /bin/true` with AICAGE_TRACE=1 traceRuns
// times and prints the trace's table, each phase's median, with what the
// parent sees: the wall time from fork to reaping, the CPU time and the
// voluntary context switches of the whole process (getrusage of the
// child).
func (w *world) trace() string {
	var out strings.Builder
	type acc struct{ wall, cpu, vcsw []float64 }
	phases := map[string]*acc{}
	var order []string
	type spanAcc struct{ from, wall []float64 }
	spans := map[string]*spanAcc{}
	var spanOrder []string
	var wall, cpu, vcsw []float64
	for i := 0; i < traceRuns; i++ {
		c := w.cmd(w.proj, w.bin, "run", "--", "/bin/true")
		c.Env = append(c.Env, "AICAGE_TRACE=1")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		start := time.Now()
		if err := c.Run(); err != nil {
			return fmt.Sprintf("phase trace: %v\n%s", err, stderr.Bytes())
		}
		wall = append(wall, float64(time.Since(start).Nanoseconds())/1e6)
		ru := c.ProcessState.SysUsage().(*syscall.Rusage)
		cpu = append(cpu, float64(ru.Utime.Nano()+ru.Stime.Nano())/1e6)
		vcsw = append(vcsw, float64(ru.Nvcsw))
		for _, line := range bytes.Split(stderr.Bytes(), []byte("\n")) {
			m := phaseLine.FindSubmatch(line)
			if m == nil {
				if m := spanLine.FindSubmatch(line); m != nil {
					name := string(m[1])
					a := spans[name]
					if a == nil {
						a = &spanAcc{}
						spans[name] = a
						spanOrder = append(spanOrder, name)
					}
					from, _ := strconv.ParseFloat(string(m[2]), 64)
					wall, _ := strconv.ParseFloat(string(m[3]), 64)
					a.from, a.wall = append(a.from, from), append(a.wall, wall)
				}
				continue
			}
			name := string(m[1])
			a := phases[name]
			if a == nil {
				a = &acc{}
				phases[name] = a
				order = append(order, name)
			}
			f := func(b []byte) float64 { v, _ := strconv.ParseFloat(string(b), 64); return v }
			a.wall = append(a.wall, f(m[2]))
			a.cpu = append(a.cpu, f(m[3]))
			a.vcsw = append(a.vcsw, f(m[4]))
		}
	}
	fmt.Fprintf(&out, "\nphase trace of `aicage run -- /bin/true` (AICAGE_TRACE=1), medians of %d runs:\n", traceRuns)
	fmt.Fprintf(&out, "  %-40s %9s %9s %6s\n", "phase", "wall ms", "cpu ms", "vcsw")
	for _, name := range order {
		a := phases[name]
		fmt.Fprintf(&out, "  %-40s %9.3f %9.3f %6.0f\n", name, median(a.wall), median(a.cpu), median(a.vcsw))
	}
	fmt.Fprintf(&out, "  %-40s %9.3f %9.3f %6.0f\n", "the whole run, as this Go parent saw it", median(wall), median(cpu), median(vcsw))
	if len(spanOrder) > 0 {
		fmt.Fprintf(&out, "  %-40s %9s %9s\n", "alongside (from the start of main)", "from ms", "wall ms")
		for _, name := range spanOrder {
			a := spans[name]
			fmt.Fprintf(&out, "  %-40s %9.3f %9.3f\n", name, median(a.from), median(a.wall))
		}
	}
	if m := median(cpu); m > 0 {
		fmt.Fprintf(&out, "  wall / cpu: %.2f\n", median(wall)/m)
	}
	return out.String()
}
