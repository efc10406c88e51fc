//go:build linux

package integrity

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkWrite10kFiles writes 10,000 small files into the project, as a
// build does, with and without a Watcher running, and reports the mean
// time of each and their ratio ("ratio": 1.00 means the watcher costs
// nothing; ns/op covers four runs and the watcher's Start and Close).
// "build" writes into a subdirectory, as builds do, and "root" into the
// project root; neither is watched. "root-watched" writes into the root
// while a missing [protect] path there makes the watcher watch the root,
// so that it sees every one of those writes.
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
			var without, with time.Duration
			watched := func() time.Duration {
				w, err := Start(store, set, nil)
				if err != nil {
					b.Fatal(err)
				}
				d := write10k(b, root, where)
				if events, err := w.Close(); err != nil || len(events) > 0 {
					b.Fatalf("Close = %v, %v", events, err)
				}
				return d
			}
			for i := 0; i < b.N; i++ {
				// Without, with, with, without: drift in the machine's
				// load cancels out.
				without += write10k(b, root, where)
				with += watched()
				with += watched()
				without += write10k(b, root, where)
			}
			b.ReportMetric(float64(without.Milliseconds())/float64(2*b.N), "ms-without")
			b.ReportMetric(float64(with.Milliseconds())/float64(2*b.N), "ms-with")
			b.ReportMetric(float64(with)/float64(without), "ratio")
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
