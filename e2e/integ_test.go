package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the integrity scripts (integ_*.txtar, issue 6). They run
// outside the cage, in the test process.
func init() {
	commands["integstore"] = cmdIntegStore
	commands["sametree"] = cmdSameTree
}

// integstore VAR: set $VAR to the integrity store of the project $PROJ, the
// one directory $XDG_STATE_HOME/aicage/integrity/proj-* (aicage names it
// after the project's base name and a hash of its path). Fails when there
// is none or more than one.
func cmdIntegStore(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: integstore VAR")
	}
	dir := filepath.Join(ts.Getenv("XDG_STATE_HOME"), "aicage", "integrity")
	matches, err := filepath.Glob(filepath.Join(dir, filepath.Base(ts.Getenv("PROJ"))+"-*"))
	ts.Check(err)
	if len(matches) != 1 {
		ts.Fatalf("want one integrity store in %s, found %q", dir, matches)
	}
	ts.Setenv(args[0], matches[0])
}

// sametree A B: the trees A and B hold the same names with the same type,
// permission bits, content and symlink targets; negated, they differ.
// A difference is logged.
func cmdSameTree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sametree A B")
	}
	a, b := treeOf(ts, ts.MkAbs(args[0])), treeOf(ts, ts.MkAbs(args[1]))
	var diffs []string
	for name, x := range a {
		if y, ok := b[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", name, args[0]))
		} else if x != y {
			diffs = append(diffs, fmt.Sprintf("%s: %s vs %s", name, x, y))
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", name, args[1]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		ts.Logf("%s and %s differ:\n  %s", args[0], args[1], strings.Join(diffs, "\n  "))
	}
	if (len(diffs) == 0) == neg {
		ts.Fatalf("%s and %s: same %v, want %v", args[0], args[1], len(diffs) == 0, !neg)
	}
}

// treeOf describes every node under root by its relative name: type and
// permission bits, then the content or the symlink target.
func treeOf(ts *testscript.TestScript, root string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d bytes sha256 %x", len(data), sha256.Sum256(data))
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + t
		}
		out[rel] = desc
		return nil
	})
	ts.Check(err)
	return out
}

// BenchmarkIntegrityWrite10k measures what the integrity watcher costs a
// build: `aicage run -- sh -c '<write 10,000 files>'` in a git project (the
// watcher guards .git/hooks, .git/config and .git/info) against the same in
// a project with no .git and no [protect] paths, where it has next to
// nothing to guard. aicage has no switch to turn the watcher off, on
// purpose, so the plain project stands in for "without". Each run is the
// whole `aicage run`, start-up and the watcher's Start and Close included.
// "build" writes into build/out, as builds do: neither watcher watches
// there. "root" writes into the project root itself, which the watcher of
// the git project does not watch (it watches .git, .git/hooks, .git/info
// and their files) but the watcher of the plain project does (a .git may
// appear there), so that there it is the plain project that receives an
// event for every file.
//
// Reported: ms-git and ms-plain (median wall time of one run), ratio
// (git/plain; 1.00 means the watcher costs nothing measurable) and
// ms-startup-git and ms-startup-plain (`aicage run -- true`), so that the
// cost of the writes themselves can be told from the fixed cost of a
// session.
//
//	go test ./e2e/ -run '^$' -bench BenchmarkIntegrityWrite10k -benchtime 5x
func BenchmarkIntegrityWrite10k(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	for _, where := range []string{"build", "root"} {
		b.Run(where, func(b *testing.B) {
			// AICAGE_E2E_BENCH_DIR puts the projects elsewhere, e.g. on
			// tmpfs (/dev/shm, which no cage grants), where the disk's
			// journal does not add its noise to the ratio.
			under := workRoot
			if d := os.Getenv("AICAGE_E2E_BENCH_DIR"); d != "" {
				under = d
			}
			base, err := os.MkdirTemp(under, "bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(base)
			env := benchEnv(b, base)
			gitProj, plainProj := filepath.Join(base, "git"), filepath.Join(base, "plain")
			for _, d := range []string{gitProj, plainProj} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			benchRun(b, env, gitProj, "git", "init", "-q", "-b", "main")
			benchRun(b, env, gitProj, "git", "-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-q", "--allow-empty", "-m", "init")
			dir := "build/out"
			if where == "root" {
				dir = "."
			}
			script := `mkdir -p ` + dir + ` && cd ` + dir + ` && i=0; while [ $i -lt 10000 ]; do echo "package main" > f$i.go; i=$((i+1)); done`
			write := func(proj string) time.Duration {
				benchClean(b, proj, dir)
				start := time.Now()
				benchRun(b, env, proj, filepath.Join(binDir, "aicage"), "run", "--", "sh", "-c", script)
				return time.Since(start)
			}
			startup := func(proj string) time.Duration {
				start := time.Now()
				benchRun(b, env, proj, filepath.Join(binDir, "aicage"), "run", "--", "true")
				return time.Since(start)
			}
			// warm up both (page cache, the first store)
			write(gitProj)
			write(plainProj)
			b.ResetTimer()
			var withGit, plain, upGit, upPlain []time.Duration
			for i := 0; i < b.N; i++ {
				// plain, git, git, plain: drift in the machine's load cancels out
				plain = append(plain, write(plainProj))
				withGit = append(withGit, write(gitProj), write(gitProj))
				plain = append(plain, write(plainProj))
				upGit = append(upGit, startup(gitProj))
				upPlain = append(upPlain, startup(plainProj))
			}
			b.StopTimer()
			// medians: the machine is shared, and one slow run must not
			// decide the ratio
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(median(withGit)), "ms-git")
			b.ReportMetric(ms(median(plain)), "ms-plain")
			b.ReportMetric(float64(median(withGit))/float64(median(plain)), "ratio")
			b.ReportMetric(ms(median(upGit)), "ms-startup-git")
			b.ReportMetric(ms(median(upPlain)), "ms-startup-plain")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchEnv is the environment of setup, for a benchmark: a fake home in
// base, the built binaries on $PATH.
func benchEnv(b *testing.B, base string) []string {
	home := filepath.Join(base, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		b.Fatal(err)
	}
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local/state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin",
		"GIT_CONFIG_NOSYSTEM=1",
	}
}

func benchRun(b *testing.B, env []string, dir, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	} else if bytes.Contains(out, []byte("restored")) {
		b.Fatalf("%s %s: the watcher restored something:\n%s", name, strings.Join(args, " "), out)
	}
}

// benchClean removes the last run's files and flushes dirty pages, so that
// every run starts from the same state. It is not timed.
func benchClean(b *testing.B, proj, dir string) {
	b.StopTimer()
	defer b.StartTimer()
	if dir == "." {
		names, _ := filepath.Glob(filepath.Join(proj, "f*.go"))
		for _, n := range names {
			os.Remove(n)
		}
	} else if err := os.RemoveAll(filepath.Join(proj, dir)); err != nil {
		b.Fatal(err)
	}
	syscall.Sync()
}
