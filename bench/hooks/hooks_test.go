// Package hooksbench measures what the shell hook costs at a prompt, next
// to direnv's hook measured in the same run:
//
//	go test -bench . -benchtime 2s ./bench/hooks/
//
// Each case runs the hook's prompt function b.N times in one bash process
// and times the loop inside bash ($EPOCHREALTIME), so that starting bash is
// not counted; ns/op is the cost of one prompt. "unchanged" is a prompt
// where $PWD did not change (aicage's hook starts no process); "changed"
// alternates between two directories without a project (aicage's hook runs
// 'aicage hook decide' once). direnv's hook runs 'direnv export bash' at
// every prompt. The unchanged case must cost under a tenth of direnv's.
package hooksbench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	world     struct {
		bin, dir string
		env      []string
		err      error
	}
)

// setup builds aicage and makes an isolated home with two directories
// that belong to no project (and hold no .envrc).
func setup(b *testing.B) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aicage-bench-hooks-")
		if err != nil {
			world.err = err
			return
		}
		world.dir = dir
		world.bin = filepath.Join(dir, "bin", "aicage")
		cmd := exec.Command("go", "build", "-o", world.bin, "../../cmd/aicage")
		if out, err := cmd.CombinedOutput(); err != nil {
			world.err = fmt.Errorf("building aicage: %v\n%s", err, out)
			return
		}
		home := filepath.Join(dir, "home")
		for _, d := range []string{"a", "b", "home/.config"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				world.err = err
				return
			}
		}
		world.env = []string{
			"HOME=" + home,
			"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
			"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
			"XDG_STATE_HOME=" + filepath.Join(home, ".local/state"),
			"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
			"PATH=" + filepath.Dir(world.bin) + ":/usr/local/bin:/usr/bin:/bin",
			"LANG=C.UTF-8",
		}
	})
	if world.err != nil {
		b.Fatal(world.err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		b.Skip("bash is not installed")
	}
}

// loop is the bash code that times n prompts of hook; install defines it.
func loop(install, hook string, changed bool, n int) string {
	step := hook
	if changed {
		step = `if ((i & 1)); then cd "$A"; else cd "$B"; fi; ` + hook
	}
	return install + `
cd "$A"; ` + hook + ` # the first prompt decides for the start directory
s=$EPOCHREALTIME
for ((i = 0; i < ` + strconv.Itoa(n) + `; i++)); do ` + step + `; done
e=$EPOCHREALTIME
echo "$s $e"
`
}

// measure runs the code and returns the time of one prompt, in ns.
func measure(b *testing.B, code string, n int) float64 {
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", code)
	cmd.Dir = world.dir
	cmd.Env = append(world.env, "A="+filepath.Join(world.dir, "a"), "B="+filepath.Join(world.dir, "b"))
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("bash: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		b.Fatalf("bash printed %q", out)
	}
	s, err1 := strconv.ParseFloat(f[0], 64)
	e, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("bash printed %q", out)
	}
	return (e - s) * 1e9 / float64(n)
}

const (
	aicageInstall = `eval "$(aicage hook bash)"`
	direnvInstall = `eval "$(direnv hook bash)"`
)

// BenchmarkPrompt reports ns/op per prompt for each hook and case, and
// the ratio of aicage's to direnv's.
func BenchmarkPrompt(b *testing.B) {
	setup(b)
	_, direnvErr := exec.LookPath("direnv")
	results := map[string]float64{}
	for _, changed := range []bool{false, true} {
		kind := "unchanged"
		if changed {
			kind = "changed"
		}
		if direnvErr == nil {
			b.Run(kind+"/direnv", func(b *testing.B) {
				ns := measure(b, loop(direnvInstall, "_direnv_hook", changed, b.N), b.N)
				results[kind+"/direnv"] = ns
				b.ReportMetric(ns, "ns/op")
			})
		}
		b.Run(kind+"/aicage", func(b *testing.B) {
			ns := measure(b, loop(aicageInstall, "_aicage_hook", changed, b.N), b.N)
			results[kind+"/aicage"] = ns
			b.ReportMetric(ns, "ns/op")
			if d := results[kind+"/direnv"]; d > 0 {
				b.ReportMetric(ns/d, "x-direnv")
			}
		})
	}
	if direnvErr != nil {
		b.Logf("direnv is not installed: no ratios")
		return
	}
	// printed, not logged: a parent benchmark's log shows only with -v
	for _, kind := range []string{"unchanged", "changed"} {
		a, d := results[kind+"/aicage"], results[kind+"/direnv"]
		fmt.Printf("%-9s prompt: aicage %11.0f ns, direnv %11.0f ns, aicage/direnv = %.5f\n", kind, a, d, a/d)
	}
	if r := results["unchanged/aicage"] / results["unchanged/direnv"]; r >= 0.1 {
		b.Errorf("a prompt where $PWD did not change costs %.3f of direnv's, want under 0.1", r)
	}
}
