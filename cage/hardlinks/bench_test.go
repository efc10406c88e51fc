package hardlinks

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmark tree: a pnpm-style node_modules of benchPackages packages,
// each ten directories deep in all (.pnpm/NAME@1.0.0, its node_modules,
// the package, seven more), ten files a directory: 20,000 directories and
// 200,000 files, every tenth file a hard link into a store outside the
// project. It takes about 860 MB of disk, and some seconds to make: under
// AICAGE_HARDLINKS_BENCH_DIR it is made once and left for the next run;
// without it, it is made in os.TempDir() and removed at the end.
const (
	benchPackages = 2000
	benchDirsPer  = 10
	benchFilesPer = 10
)

var benchTree = sync.OnceValues(func() (string, error) {
	base := os.Getenv("AICAGE_HARDLINKS_BENCH_DIR")
	if base == "" {
		return makeBenchTree(filepath.Join(os.TempDir(), "aicage-hardlinks-bench-"+strconv.Itoa(os.Getpid())))
	}
	return makeBenchTree(filepath.Join(base, "aicage-hardlinks-bench-v1"))
})

// makeBenchTree makes the tree in work, unless a complete one is there.
func makeBenchTree(work string) (string, error) {
	if _, err := os.Stat(filepath.Join(work, "complete")); err == nil {
		return work, nil
	}
	os.RemoveAll(work)
	store := filepath.Join(work, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return "", err
	}
	content := []byte("module.exports = 42\n")
	n := 0
	for p := 0; p < benchPackages; p++ {
		name := "pkg" + strconv.Itoa(p)
		pkg := filepath.Join(work, "proj", "node_modules", ".pnpm", name+"@1.0.0", "node_modules", name)
		dirs := []string{filepath.Dir(filepath.Dir(pkg)), filepath.Dir(pkg), pkg}
		for d := 0; len(dirs) < benchDirsPer; d++ {
			dirs = append(dirs, filepath.Join(pkg, "lib"+strconv.Itoa(d)))
		}
		for _, d := range dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return "", err
			}
			for f := 0; f < benchFilesPer; f++ {
				file := filepath.Join(d, "f"+strconv.Itoa(f)+".js")
				n++
				if n%10 != 0 {
					if err := os.WriteFile(file, content, 0o644); err != nil {
						return "", err
					}
					continue
				}
				s := filepath.Join(store, strconv.Itoa(n%256), strconv.Itoa(n))
				if err := os.MkdirAll(filepath.Dir(s), 0o755); err != nil {
					return "", err
				}
				if err := os.WriteFile(s, content, 0o644); err != nil {
					return "", err
				}
				if err := os.Link(s, file); err != nil {
					return "", err
				}
			}
		}
	}
	return work, os.WriteFile(filepath.Join(work, "complete"), nil, 0o644)
}

var benchResults sync.Map // name → ns/op

func benchProject(b *testing.B) string {
	work, err := benchTree()
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("AICAGE_HARDLINKS_BENCH_DIR") == "" {
		b.Cleanup(func() { os.RemoveAll(work) })
	}
	return filepath.Join(work, "proj")
}

func reportDirs(b *testing.B, name string, dirs int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(dirs), "ns/dir")
	b.ReportMetric(ns/1e6*10000/float64(dirs), "ms/10k-dirs")
	benchResults.Store(name, ns)
}

// BenchmarkFind200k is a first entry (no cache), a repeat entry with
// nothing changed (the cache), and two floors: one fstat of an open fd per
// directory (the cheapest a check of each directory can be) and one lstat
// by path. It ends with the ratios.
func BenchmarkFind200k(b *testing.B) {
	proj := benchProject(b)
	cache := filepath.Join(b.TempDir(), "cache")
	var dirs int
	b.Run("first", func(b *testing.B) {
		var progressed atomic.Int32
		for b.Loop() {
			os.Remove(cache)
			rep, err := Find([]string{proj}, Options{Cache: cache, Progress: func() { progressed.Add(1) }})
			if err != nil {
				b.Fatal(err)
			}
			if len(rep.Outside) != benchPackages*benchDirsPer*benchFilesPer/10 || !rep.Full {
				b.Fatalf("found %d links (full %v)", len(rep.Outside), rep.Full)
			}
			dirs = rep.Dirs
		}
		reportDirs(b, "first", dirs)
		b.ReportMetric(float64(progressed.Load())/float64(b.N), "progress-lines/op")
	})
	// A repeat entry as "refuse" and "allow" make it (a summary is enough),
	// and as "break" makes it (every link, to break them).
	for _, summary := range []bool{true, false} {
		name := "repeat"
		if !summary {
			name = "repeat-all-links"
		}
		b.Run(name, func(b *testing.B) {
			if _, err := Find([]string{proj}, Options{Cache: cache}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(racyWindow) // let the walk's own directories age out of the racy window
			if _, err := Find([]string{proj}, Options{Cache: cache, Full: true}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rep, err := Find([]string{proj}, Options{Cache: cache, Summary: summary})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Read != 0 || rep.Full || rep.Files != benchPackages*benchDirsPer*benchFilesPer/10 {
					b.Fatalf("repeat walk read %d directories (full %v), %d links", rep.Read, rep.Full, rep.Files)
				}
			}
			reportDirs(b, name, dirs)
		})
	}
	b.Run("floor-fstat-fd", func(b *testing.B) {
		fds := openDirs(b, proj)
		var st unix.Stat_t
		for b.Loop() {
			for _, fd := range fds {
				unix.Fstat(fd, &st)
			}
		}
		reportDirs(b, "floor-fstat-fd", len(fds))
	})
	b.Run("floor-lstat-path", func(b *testing.B) {
		var paths []string
		filepath.WalkDir(proj, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				paths = append(paths, p)
			}
			return nil
		})
		var st unix.Stat_t
		for b.Loop() {
			for _, p := range paths {
				unix.Lstat(p, &st)
			}
		}
		reportDirs(b, "floor-lstat-path", len(paths))
	})
	get := func(name string) float64 { v, _ := benchResults.Load(name); f, _ := v.(float64); return f }
	if first, repeat := get("first"), get("repeat"); first > 0 && repeat > 0 {
		fmt.Printf("hardlinks: %d dirs: first %.1f ms, repeat %.2f ms (%.3f× first), repeat with every link %.2f ms; repeat/floor-fstat-fd %.2f×, repeat/floor-lstat-path %.2f×\n",
			dirs, first/1e6, repeat/1e6, repeat/first, get("repeat-all-links")/1e6, repeat/get("floor-fstat-fd"), repeat/get("floor-lstat-path"))
	}
}

func openDirs(b *testing.B, root string) []int {
	var fds []int
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
			if err == nil {
				fds = append(fds, fd)
			}
		}
		return nil
	})
	b.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	return fds
}
