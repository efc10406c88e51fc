package cage

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestRunLeavesSupervisorUncaged starts a real cage from this test process
// (the supervisor) and then checks that the lock-down stayed on the thread
// that started the command: the caged command cannot read a file outside,
// and afterwards this process still reads it, and none of its threads —
// old or created since — has no_new_privs, a seccomp filter or lost
// capabilities.
func TestRunLeavesSupervisorUncaged(t *testing.T) {
	if KernelABI() < RequiredABI {
		t.Skipf("Landlock ABI %d < %d", KernelABI(), RequiredABI)
	}
	base, err := os.MkdirTemp("/var/tmp", "aicage-spawn-") // not under /tmp: the cage grants it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root, home := filepath.Join(base, "proj"), filepath.Join(base, "home")
	secret := filepath.Join(base, "secret")
	for _, d := range []string{root, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(secret, []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := threadStates(t)
	spec := Spec{
		Root: root, StateDir: filepath.Join(root, ".aicage", "state"), Profile: "test", Cwd: root,
		Argv:       []string{"/bin/sh", "-c", "cat " + secret + " > " + filepath.Join(root, "got") + " 2>&1; exit 3"},
		ExecSystem: true,
	}
	host := Host{Home: home, Env: []string{"PATH=/usr/bin:/bin"}, ABI: KernelABI(), UID: os.Getuid(),
		DataDir: filepath.Join(home, "d"), ConfigDir: filepath.Join(home, "c"), StateDir: filepath.Join(home, "s")}
	pol, err := Compile(spec, host)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareState(pol); err != nil {
		t.Fatal(err)
	}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	status, err := Run(pol, RunOptions{Stdin: devnull, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil || status != 3 {
		t.Fatalf("Run = %d, %v; want 3", status, err)
	}
	got, _ := os.ReadFile(filepath.Join(root, "got"))
	if strings.Contains(string(got), "outside") || !strings.Contains(string(got), "ermission denied") {
		t.Fatalf("the caged command read the file outside: %q", got)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "outside\n" {
		t.Fatalf("the supervisor lost access outside: %q, %v", b, err)
	}
	after := threadStates(t)
	if before != after {
		t.Fatalf("the supervisor's threads changed:\nbefore %s\nafter  %s", before, after)
	}
}

// threadStates starts goroutines locked to threads (old ones and, as the
// runtime needs them, new ones) and returns the distinct security states
// they see: no_new_privs, seccomp mode and effective capabilities.
func threadStates(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			b, err := os.ReadFile("/proc/thread-self/status")
			if err != nil {
				t.Error(err)
				return
			}
			var state []string
			for _, line := range strings.Split(string(b), "\n") {
				for _, k := range []string{"NoNewPrivs:", "Seccomp:", "CapEff:", "CapBnd:"} {
					if strings.HasPrefix(line, k) {
						state = append(state, strings.Join(strings.Fields(line), " "))
					}
				}
			}
			mu.Lock()
			seen[strings.Join(state, ", ")] = true
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	return strings.Join(out, " | ")
}
