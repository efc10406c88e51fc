// Command bench measures what aicage costs next to what a user would pick
// instead, side by side in one run, and prints a table of medians and
// ratios:
//
//	go run ./bench            # as root it installs hyperfine, bubblewrap, firejail
//
// 1. Entry: `aicage run -- /bin/true` in a trusted git project with the
// aiAgent profile, next to a bare /bin/true, bwrap with an equivalent
// policy, firejail, and landrun when it is on PATH; and three floors that
// say what the machine allows: the aicage binary starting and printing its
// version, and the smallest Go and C programs that fork, exec /bin/true
// and wait for it.
// 2. The shell hook's per-prompt cost next to `direnv export bash`
// (bench/hooks).
// 3. Work inside the cage: `git status` on a generated repository of 50,000
// files, and a stat walk over it, caged and uncaged, each repeated inside
// one cage so that entry is not counted.
// 4. The supervisor's resident memory during a session.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	runs   = flag.Int("runs", 200, "hyperfine runs for the entry benchmarks")
	files  = flag.Int("files", 50000, "files in the generated repository")
	keep   = flag.Bool("keep", false, "keep the work directory")
	rounds = flag.Int("rounds", 4, "alternating rounds of the work-inside benchmarks")
	only   = flag.Bool("entry", false, "run the entry benchmark and its phase trace only")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// world is the benchmark's isolated machine: a home, XDG dirs and a
// trusted project, none of it under /tmp (the cage grants /tmp).
type world struct {
	dir, bin, home, proj, big string
	env                       []string
	// floorGo and floorC start /bin/true and wait for it, and nothing
	// else: what any supervisor written in Go (or C) costs on this machine.
	floorGo, floorC string
}

const floorGoSrc = `package main

import (
	"os"
	"syscall"
)

func main() {
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Exit(1)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
}
`

const floorCSrc = `#include <sys/wait.h>
#include <unistd.h>
int main(void) {
	pid_t p = fork();
	if (p == 0) { char *a[] = {"true", 0}; execv("/bin/true", a); _exit(127); }
	int s; waitpid(p, &s, 0); return 0;
}
`

// buildFloors builds the two floor programs; the C one only when a C
// compiler is installed.
func (w *world) buildFloors() {
	src := filepath.Join(w.dir, "floor")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module floor\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte(floorGoSrc), 0o644)
	w.floorGo = filepath.Join(w.dir, "bin", "floor-go")
	c := exec.Command("go", "build", "-o", w.floorGo, ".")
	c.Dir = src
	if out, err := c.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: building the Go floor: %v\n%s", err, out)
	}
	if have("cc") {
		os.WriteFile(filepath.Join(src, "floor.c"), []byte(floorCSrc), 0o644)
		out := filepath.Join(w.dir, "bin", "floor-c")
		if exec.Command("cc", "-O2", "-o", out, filepath.Join(src, "floor.c")).Run() == nil {
			w.floorC = out
		}
	}
}

func run() error {
	installTools()
	w, err := newWorld()
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(w.dir)
	}
	host, _ := os.Hostname()
	out, _ := exec.Command("uname", "-r").Output()
	fmt.Printf("machine: %s, Linux %s, %d cores; %s\n", host, strings.TrimSpace(string(out)), numCPU(), time.Now().Format(time.DateOnly))
	before := loadAvg()
	fmt.Printf("load average before: %.2f\n\n", before)
	var rows []row
	entry, err := w.entry()
	if err != nil {
		return err
	}
	// The verdict rests on the entry job, which hyperfine runs one process
	// at a time: the bench itself keeps about one core busy, so the load
	// it may add is one.
	afterEntry := loadAvg()
	rows = append(rows, entry...)
	phases := w.trace()
	if *only {
		limit := 0.5 * float64(numCPU())
		busy := before > limit || afterEntry-1 > limit
		printTable(rows, !busy)
		fmt.Print(phases)
		fmt.Printf("\nload average before %.2f, after the entry job %.2f (%d cores)\n", before, afterEntry, numCPU())
		if busy {
			fmt.Println("the machine was busy: no verdict; these numbers are not to be quoted")
		}
		return nil
	}
	rows = append(rows, hooks()...)
	work, err := w.work()
	if err != nil {
		return err
	}
	rows = append(rows, work...)
	rows = append(rows, w.memory())
	conn, err := w.connect()
	if err != nil {
		return err
	}
	rows = append(rows, conn...)
	after := loadAvg()
	limit := 0.5 * float64(numCPU())
	busy := before > limit || afterEntry-1 > limit
	printTable(rows, !busy)
	fmt.Print(phases)
	fmt.Printf("\nload average before %.2f, after the entry job %.2f, at the end %.2f (%d cores)\n", before, afterEntry, after, numCPU())
	if busy {
		fmt.Println("the machine was busy (load above 0.5 per core before, or above that plus the bench's own one after the entry job): no verdict; these numbers are not to be quoted")
	}
	return nil
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// row is one line of the table: a measurement and what it is compared to.
type row struct {
	group, name string
	median      float64 // seconds, or bytes for memory
	base        float64 // the group's baseline, same unit
	unit        string
	note        string
}

func newWorld() (*world, error) {
	dir, err := os.MkdirTemp("/var/tmp", "aicage-bench-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir, bin: filepath.Join(dir, "bin", "aicage"), home: filepath.Join(dir, "home"),
		proj: filepath.Join(dir, "proj"), big: filepath.Join(dir, "big")}
	for _, d := range []string{w.home, w.proj, w.big} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if out, err := exec.Command("go", "build", "-o", w.bin, "./cmd/aicage").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building aicage (run from the repository root): %v\n%s", err, out)
	}
	// The same without cgo: a static binary, no dynamic loader at start.
	static := exec.Command("go", "build", "-o", w.bin+"-static", "./cmd/aicage")
	static.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := static.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building aicage with CGO_ENABLED=0: %v\n%s", err, out)
	}
	w.buildFloors()
	w.env = []string{"HOME=" + w.home, "PATH=" + filepath.Dir(w.bin) + ":/usr/local/bin:/usr/bin:/bin",
		"XDG_CONFIG_HOME=" + w.home + "/.config", "XDG_DATA_HOME=" + w.home + "/.local/share",
		"XDG_STATE_HOME=" + w.home + "/.local/state", "LANG=C.UTF-8", "TERM=dumb"}
	// The entry project is a git repository, as users' projects are: the
	// integrity snapshot of .git is part of what entry costs.
	if out, err := exec.Command("git", "init", "-q", w.proj).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init: %v\n%s", err, out)
	}
	config := "profile = \"aiAgent\"\n"
	for _, p := range []string{w.proj, w.big} {
		if err := os.WriteFile(filepath.Join(p, ".aicage.toml"), []byte(config), 0o644); err != nil {
			return nil, err
		}
		if err := w.cmd(p, w.bin, "allow").Run(); err != nil {
			return nil, fmt.Errorf("aicage allow: %w", err)
		}
	}
	return w, nil
}

func (w *world) cmd(dir string, argv ...string) *exec.Cmd {
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Env = dir, w.env
	return c
}

// entry times entering a cage that runs /bin/true, with each peer set up
// to grant what aicage's aiAgent profile grants (system read+execute, /etc
// read-only, the project read-write, TCP out).
func (w *world) entry() ([]row, error) {
	cmds := []named{
		{"bare /bin/true", "/bin/true"},
		{"aicage run -- /bin/true", shq(w.bin) + " run -- /bin/true"},
		{"… built with CGO_ENABLED=0", shq(w.bin+"-static") + " run -- /bin/true"},
		{"floor: aicage --version", shq(w.bin) + " --version"},
		{"floor: Go fork+exec+wait true", shq(w.floorGo)},
	}
	if w.floorC != "" {
		cmds = append(cmds, named{"floor: C fork+exec+wait true", shq(w.floorC)})
	}
	if have("bwrap") {
		cmds = append(cmds, named{"bwrap (same grants)", "bwrap --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp --bind " + shq(w.proj) + " " + shq(w.proj) + " --chdir " + shq(w.proj) + " --unshare-all --share-net --die-with-parent --new-session --clearenv /bin/true"})
	}
	if have("firejail") {
		cmds = append(cmds, named{"firejail (whitelist project)", "firejail --quiet --noprofile --whitelist=" + shq(w.proj) + " --private-tmp /bin/true"})
	}
	if have("landrun") {
		cmds = append(cmds, named{"landrun (same grants)", "landrun --rox /usr,/bin,/lib,/lib64,/sbin --ro /etc,/proc,/sys,/dev --rwx " + shq(w.proj) + " --rw /tmp --connect-tcp 443,22 /bin/true"})
	}
	med, err := w.hyperfine(w.proj, *runs, cmds)
	if err != nil {
		return nil, err
	}
	var rows []row
	for i, c := range cmds {
		rows = append(rows, row{group: "1. entry", name: c.name, median: med[i], base: med[0], unit: "s"})
	}
	return rows, nil
}

type named struct{ name, cmd string }

// hyperfine runs the commands and returns their medians in seconds.
func (w *world) hyperfine(dir string, n int, cmds []named) ([]float64, error) {
	res, err := w.runHyperfine(dir, 10, n, cmds)
	if err != nil {
		return nil, err
	}
	var med []float64
	for _, r := range res {
		med = append(med, r.Median)
	}
	return med, nil
}

// hfResult is one command's result in hyperfine's JSON export.
type hfResult struct {
	Median float64   `json:"median"`
	Times  []float64 `json:"times"`
}

// runHyperfine runs the commands n times each after warmup runs, without a
// shell in between (-N), and returns hyperfine's results in order.
func (w *world) runHyperfine(dir string, warmup, n int, cmds []named) ([]hfResult, error) {
	out := filepath.Join(w.dir, "hyperfine.json")
	args := []string{"hyperfine", "-N", "--warmup", strconv.Itoa(warmup), "--runs", strconv.Itoa(n), "--export-json", out, "--style", "none"}
	for _, c := range cmds {
		args = append(args, c.cmd)
	}
	if b, err := w.cmd(dir, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hyperfine: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var res struct {
		Results []hfResult `json:"results"`
	}
	if err := json.Unmarshal(data, &res); err != nil || len(res.Results) != len(cmds) {
		return nil, fmt.Errorf("hyperfine: reading %s: %v", out, err)
	}
	return res.Results, nil
}

// hooks runs the hook benchmark of bench/hooks and reads its ns/op.
func hooks() []row {
	out, err := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "2000x", "./bench/hooks/").CombinedOutput()
	if err != nil {
		return []row{{group: "2. shell hook per prompt", name: "(failed: " + firstLine(out) + ")"}}
	}
	ns := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && f[3] == "ns/op" {
			v, _ := strconv.ParseFloat(f[2], 64)
			name := strings.TrimPrefix(f[0], "Benchmark")
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i]
			}
			ns[name] = v / 1e9
		}
	}
	names := make([]string, 0, len(ns))
	for n := range ns {
		names = append(names, n)
	}
	sort.Strings(names)
	base := 0.0
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), "direnv") {
			base = ns[n]
		}
	}
	var rows []row
	for _, n := range names {
		rows = append(rows, row{group: "2. shell hook per prompt", name: n, median: ns[n], base: base, unit: "s", note: "vs direnv"})
	}
	return rows
}

// work times git status and a stat walk over a 50,000-file repository,
// ten times in one process tree, caged and uncaged. The two alternate in
// rounds (uncaged, caged, uncaged, …) so that a change in the machine's
// load hits both alike; the medians are over every run of every round.
func (w *world) work() ([]row, error) {
	if err := w.generate(); err != nil {
		return nil, err
	}
	loop := func(cmd string) string { return "for i in 1 2 3 4 5 6 7 8 9 10; do " + cmd + " >/dev/null; done" }
	var rows []row
	for _, job := range []named{{"git status ×10", "git status --porcelain"}, {"stat walk ×10", "find . -type f -newer .aicage.toml"}} {
		var uncaged, caged []float64
		for round := 0; round < *rounds; round++ {
			for i, c := range []named{
				{"uncaged", "sh -c " + shq(loop(job.cmd))},
				{"caged", shq(w.bin) + " run -- sh -c " + shq(loop(job.cmd))},
			} {
				times, err := w.hyperfineTimes(w.big, 2, c)
				if err != nil {
					return nil, err
				}
				if i == 0 {
					uncaged = append(uncaged, times...)
				} else {
					caged = append(caged, times...)
				}
			}
		}
		u, c := median(uncaged), median(caged)
		rows = append(rows,
			row{group: "3. work inside", name: job.name + " uncaged", median: u, base: u, unit: "s"},
			row{group: "3. work inside", name: job.name + " caged", median: c, base: u, unit: "s"})
	}
	return rows, nil
}

// hyperfineTimes runs one command n times (after one warm-up) and returns
// each run's time in seconds.
func (w *world) hyperfineTimes(dir string, n int, c named) ([]float64, error) {
	res, err := w.runHyperfine(dir, 1, n, []named{c})
	if err != nil {
		return nil, err
	}
	return res[0].Times, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// generate makes the repository once: files in 500 directories, committed.
func (w *world) generate() error {
	for i := 0; i < *files; i++ {
		d := filepath.Join(w.big, fmt.Sprintf("d%03d", i%500))
		if i < 500 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.txt", i)), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
			return err
		}
	}
	for _, argv := range [][]string{{"git", "init", "-q"}, {"git", "add", "-A"},
		{"git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "files"}} {
		if out, err := w.cmd(w.big, argv...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return nil
}

// memory reads the supervisor's resident set while a session runs.
func (w *world) memory() row {
	r := row{group: "4. supervisor memory", name: "VmRSS during a session", unit: "B", base: 15 << 20, note: "vs the 15 MB target"}
	c := w.cmd(w.proj, w.bin, "run", "--", "sleep", "2")
	if err := c.Start(); err != nil {
		r.name += " (failed to start)"
		return r
	}
	time.Sleep(time.Second)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
	c.Wait()
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			r.median = kb * 1024
		}
	}
	return r
}

// printTable prints the rows, and the verdict lines when verdict.
func printTable(rows []row, verdict bool) {
	fmt.Printf("%-26s %-34s %12s %9s\n", "group", "what", "median", "ratio")
	group := ""
	for _, r := range rows {
		g := r.group
		if g == group {
			g = ""
		}
		group = r.group
		ratio := "-"
		if r.base > 0 && r.median > 0 {
			ratio = fmt.Sprintf("%.2f×", r.median/r.base)
		}
		val := "-"
		switch {
		case r.median == 0:
		case r.unit == "B":
			val = fmt.Sprintf("%.1f MB", r.median/(1<<20))
		case r.median < 1e-3:
			val = fmt.Sprintf("%.1f µs", r.median*1e6)
		default:
			val = fmt.Sprintf("%.2f ms", r.median*1e3)
		}
		fmt.Printf("%-26s %-34s %12s %9s  %s\n", g, r.name, val, ratio, r.note)
	}
	if !verdict {
		return
	}
	med := map[string]float64{}
	for _, r := range rows {
		med[r.name] = r.median
	}
	if a := med["aicage run -- /bin/true"]; a > 0 {
		fmt.Printf("\naicage entry overhead over bare /bin/true: %.2f ms median\n", (a-med["bare /bin/true"])*1e3)
		for _, peer := range []string{"bwrap (same grants)", "firejail (whitelist project)", "landrun (same grants)"} {
			if m := med[peer]; m > 0 {
				fmt.Printf("aicage / %s: %.2f×\n", peer, a/m)
			}
		}
	}
}

// installTools installs the peers from Debian's archive when run as root.
func installTools() {
	var missing []string
	for bin, pkg := range map[string]string{"hyperfine": "hyperfine", "bwrap": "bubblewrap", "firejail": "firejail", "git": "git", "direnv": "direnv"} {
		if !have(bin) {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 || os.Getuid() != 0 {
		return
	}
	sort.Strings(missing)
	fmt.Fprintf(os.Stderr, "bench: installing %s\n", strings.Join(missing, " "))
	exec.Command("apt-get", "update", "-qq").Run()
	c := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	c.Run()
}

func have(bin string) bool { _, err := exec.LookPath(bin); return err == nil }

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func firstLine(b []byte) string { s, _, _ := strings.Cut(string(b), "\n"); return s }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "\nprocessor") + 1
}
