//go:build linux

package integrity

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchTick is the periodic pass of the watchers BenchmarkWrite10kFiles
// starts: -bench.tick=0 turns it off, to see what it costs.
var benchTick = flag.Duration("bench.tick", verifyEvery, "periodic verification of BenchmarkWrite10kFiles' watcher (0: none)")

// BenchmarkWrite10kFiles writes 10,000 small files into the project, as a
// build does, with and without a Watcher running (issue 6, point 8: the
// two must be within 5%). Each iteration runs without, with, with,
// without, so that drift in the machine's load cancels out, and each run
// starts from the same state: the last run's files removed and the page
// cache's dirty pages written out. Metrics: ms-without and ms-with, the
// mean time of a run; ratio, the median over the iterations of one
// iteration's with/without (robust to a run slowed by something else on
// the machine); ratio-sum, the total time with over the total without.
// ns/op covers four runs and the watcher's Start and Close. "build"
// writes into a subdirectory, as builds do, and "root" into the project
// root; neither is watched. "root-watched" writes into the root while a
// missing [protect] path there makes the watcher watch the root, so that
// it sees (and ignores) every one of those writes.
//
// On a disk, one run of 10,000 files can take 0.2 s or 2 s depending on
// the journal and writeback, which buries a few percent; with TMPDIR on a
// tmpfs (TMPDIR=/dev/shm) the runs take the same time to a few percent and
// the ratio shows what the watcher costs.
func BenchmarkWrite10kFiles(b *testing.B) {
	needGit(b)
	for _, where := range []string{"build", "root", "root-watched"} {
		b.Run(where, func(b *testing.B) {
			base := b.TempDir()
			root := filepath.Join(base, "proj")
			git(b, base, "init", "-q", root)
			writeFile(b, filepath.Join(root, ".envrc"), "x\n", 0o644)
			extra := []string{".envrc"}
			if where == "root-watched" {
				// A missing [protect] path directly in the root: only a
				// watch on the root can see it appear.
				extra = append(extra, ".tool-versions")
			}
			set, err := ProtectedSet(root, extra)
			if err != nil {
				b.Fatal(err)
			}
			store := filepath.Join(base, "store")
			watched := func() time.Duration {
				w, err := start(store, set, nil, options{watch: true, tick: *benchTick})
				if err != nil {
					b.Fatal(err)
				}
				d := write10k(b, root, where)
				if events, err := w.Close(); err != nil || len(events) > 0 {
					b.Fatalf("Close = %v, %v", events, err)
				}
				return d
			}
			var without, with time.Duration
			ratios := make([]float64, 0, b.N)
			for i := 0; i < b.N; i++ {
				a := write10k(b, root, where)
				w := watched()
				w += watched()
				a += write10k(b, root, where)
				without += a
				with += w
				ratios = append(ratios, float64(w)/float64(a))
			}
			sort.Float64s(ratios)
			median := ratios[len(ratios)/2]
			if len(ratios)%2 == 0 {
				median = (ratios[len(ratios)/2-1] + median) / 2
			}
			b.ReportMetric(float64(without.Milliseconds())/float64(2*b.N), "ms-without")
			b.ReportMetric(float64(with.Milliseconds())/float64(2*b.N), "ms-with")
			b.ReportMetric(median, "ratio")
			b.ReportMetric(float64(with)/float64(without), "ratio-sum")
		})
	}
}

// write10k writes 10,000 files and returns how long it took. It first
// removes the last run's files and flushes the page cache's dirty pages, so
// that each run starts from the same state.
func write10k(b *testing.B, root, where string) time.Duration {
	dir := filepath.Join(root, "build", "out")
	if where != "build" {
		dir = root
	}
	names := make([]string, 10000)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%05d.go", i))
	}
	for _, n := range names {
		_ = os.Remove(n)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	unix.Sync()
	data := []byte("package main\n\nfunc main() {}\n")
	start := time.Now()
	for _, n := range names {
		if err := os.WriteFile(n, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkStartClose is what every session pays on the critical path of
// "aicage run" when nothing changed: Start and Close on a fresh git
// repository whose store already holds the same snapshot. ns/op is one
// Start and one Close; start-ns and close-ns split it.
func BenchmarkStartClose(b *testing.B) {
	needGit(b)
	base := b.TempDir()
	root := filepath.Join(base, "proj")
	git(b, base, "init", "-q", root)
	set, err := ProtectedSet(root, nil)
	if err != nil {
		b.Fatal(err)
	}
	store := filepath.Join(base, "store")
	session := func() (time.Duration, time.Duration) {
		t0 := time.Now()
		w, err := Start(store, set, nil)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if events, err := w.Close(); err != nil || len(events) > 0 {
			b.Fatalf("Close = %v, %v", events, err)
		}
		return t1.Sub(t0), time.Since(t1)
	}
	session() // the store now holds this snapshot
	var start, stop time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, c := session()
		start += s
		stop += c
	}
	b.ReportMetric(float64(start.Nanoseconds())/float64(b.N), "start-ns")
	b.ReportMetric(float64(stop.Nanoseconds())/float64(b.N), "close-ns")
}
