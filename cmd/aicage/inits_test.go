package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestNoHeavyInits: every start of aicage pays for its packages' inits,
// so aicage's own do next to nothing at init (a regexp compiled there
// costs tens of allocations; make it lazy with sync.OnceValue). Measured
// on this test binary, which links the same packages, with
// GODEBUG=inittrace=1.
func TestNoHeavyInits(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	line := regexp.MustCompile(`(?m)^init (github\.com/aicage/\S+) @\S+ ms, \S+ ms clock, (\d+) bytes, (\d+) allocs$`)
	found := 0
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		found++
		allocs, _ := strconv.Atoi(m[3])
		if allocs > 64 {
			t.Errorf("init of %s: %s allocs, %s bytes: move the work out of init (sync.OnceValue)", m[1], m[3], m[2])
		}
	}
	if found == 0 {
		t.Fatalf("no init trace of aicage's packages in:\n%s", out)
	}
}
