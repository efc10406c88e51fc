package seccomp

// Escapes that reach other processes through their pid: the filter's
// rules for limits and scheduling (TestSeccompOtherProcesses), and the
// calls that the kernel already refuses to a Landlock domain because they
// need ptrace access (TestSeccompPtraceCallsRefusedByLandlock). The targets
// are sleepers started by the test, outside the child, as the child's user;
// their state is read by the test itself.

import (
	"bufio"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompTargetsEnv passes the targets' pids (and, for process_madvise,
// an address mapped in the first) to the child.
const seccompTargetsEnv = "AICAGE_TEST_SECCOMP_TARGETS"

func init() {
	seccompEscapes["process"] = seccompEscapeProcess
	seccompEscapes["ptrace-calls"] = seccompEscapePtraceCalls
}

func seccompTargets() []int {
	var out []int
	for _, f := range strings.Fields(os.Getenv(seccompTargetsEnv)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

const (
	ioprioClassIdle = 3 << 13 // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)
	ioprioWhoProc   = 1
)

// seccompEscapeProcess throttles one target per call.
func seccompEscapeProcess(_ seccompChildSpec, r *seccompChildResult) {
	p := seccompTargets()
	r.step("prlimit64 self as 0", unix.Prlimit(0, unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}, nil))
	r.step("prlimit64 self by pid", unix.Prlimit(os.Getpid(), unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}, nil))
	r.step("prlimit64", unix.Prlimit(p[0], unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 64, Max: 64}, nil))
	r.step("setpriority", unix.Setpriority(unix.PRIO_PROCESS, p[1], 19))
	_, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProc, uintptr(p[2]), ioprioClassIdle)
	r.step("ioprio_set", errnoErr(e))
	param := [1]int32{0}
	_, _, e = unix.Syscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(p[3]), unix.SCHED_IDLE, uintptr(unsafe.Pointer(&param)))
	r.step("sched_setscheduler", errnoErr(e))
	var one unix.CPUSet
	one.Set(0)
	r.step("sched_setaffinity", unix.SchedSetaffinity(p[4], &one))
	r.step("sched_setattr", unix.SchedSetAttr(p[5], &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH, Nice: 19}, 0))
	_, _, e = unix.Syscall(unix.SYS_SCHED_SETPARAM, uintptr(p[5]), uintptr(unsafe.Pointer(&param)), 0)
	r.step("sched_setparam", errnoErr(e))
	r.step("setpriority self as 0", unix.Setpriority(unix.PRIO_PROCESS, 0, 1))
}

// seccompDropCapsEnv makes the ptrace-calls child empty its capability
// sets first, as the cage does for root.
const seccompDropCapsEnv = "AICAGE_TEST_SECCOMP_DROPCAPS"

// seccompEscapePtraceCalls tries the calls that need ptrace access to
// the first target.
func seccompEscapePtraceCalls(_ seccompChildSpec, r *seccompChildResult) {
	p := seccompTargets()
	if os.Getenv(seccompDropCapsEnv) != "" {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if !r.step("capset", unix.Capset(&hdr, &data[0])) {
			return
		}
	}
	target, addr := p[0], uintptr(p[len(p)-1])
	const kcmpVM = 1
	_, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(os.Getpid()), uintptr(target), kcmpVM, 0, 0, 0)
	r.step("kcmp", errnoErr(e))
	if pidfd, err := unix.PidfdOpen(target, 0); r.step("pidfd_open", err) {
		iov := [2]uintptr{addr, 4096} // struct iovec in the target's memory
		_, _, e := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(pidfd), uintptr(unsafe.Pointer(&iov)), 1, unix.MADV_COLD, 0, 0)
		r.step("process_madvise", errnoErr(e))
		unix.Close(pidfd)
	}
	nodes := [1]uint64{1}
	_, _, e = unix.Syscall6(unix.SYS_MIGRATE_PAGES, uintptr(target), 64, uintptr(unsafe.Pointer(&nodes)), uintptr(unsafe.Pointer(&nodes)), 0, 0)
	r.step("migrate_pages", errnoErr(e))
	pages := [1]uintptr{addr}
	status := [1]int32{}
	_, _, e = unix.Syscall6(unix.SYS_MOVE_PAGES, uintptr(target), 1, uintptr(unsafe.Pointer(&pages)), 0, uintptr(unsafe.Pointer(&status)), 0)
	r.step("move_pages", errnoErr(e))
}

// seccompSleepers starts n processes as u, killed at the end of the test.
func seccompSleepers(t *testing.T, u seccompUser, n int) []int {
	t.Helper()
	var pids []int
	for i := 0; i < n; i++ {
		cmd := osexec.Command("sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		pids = append(pids, cmd.Process.Pid)
	}
	return pids
}

// seccompProcState is what the throttling calls would change, read from
// outside.
type seccompProcState struct {
	nofile  string
	prio    int
	ioprio  uintptr
	policy  uintptr
	cpus    int
	policy5 uintptr
}

func seccompReadState(t *testing.T, p []int) seccompProcState {
	t.Helper()
	var s seccompProcState
	// From /proc: prlimit64 on another user's process needs
	// CAP_SYS_RESOURCE, which the test's root may lack (containers).
	s.nofile = seccompProcLimit(t, p[0], "Max open files")
	var err error
	if s.prio, err = unix.Getpriority(unix.PRIO_PROCESS, p[1]); err != nil {
		t.Fatal(err)
	}
	var e syscall.Errno
	if s.ioprio, _, e = unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProc, uintptr(p[2]), 0); e != 0 {
		t.Fatal(e)
	}
	if s.policy, _, e = unix.Syscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(p[3]), 0, 0); e != 0 {
		t.Fatal(e)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(p[4], &set); err != nil {
		t.Fatal(err)
	}
	s.cpus = set.Count()
	if s.policy5, _, e = unix.Syscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(p[5]), 0, 0); e != 0 {
		t.Fatal(e)
	}
	return s
}

var seccompProcessSteps = []string{"prlimit64", "setpriority", "ioprio_set", "sched_setscheduler", "sched_setaffinity", "sched_setattr", "sched_setparam"}

func TestSeccompOtherProcesses(t *testing.T) {
	seccompRequireSupport(t)
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			throttle := func(omit []string) (seccompChildResult, seccompProcState, seccompProcState) {
				p := seccompSleepers(t, u, 6)
				t.Setenv(seccompTargetsEnv, fmtInts(p))
				before := seccompReadState(t, p)
				res := run.child(t, seccompChildSpec{Escape: "process", Omit: omit})
				return res, before, seccompReadState(t, p)
			}

			control, before, after := throttle([]string{seccompRuleLimits, seccompRuleSched})
			for _, s := range seccompProcessSteps {
				control.mustStep(t, s, 0)
			}
			control.mustStep(t, "prlimit64 self by pid", 0)
			if after.nofile == before.nofile || after.prio == before.prio || after.ioprio == before.ioprio ||
				after.policy == before.policy || after.policy5 == before.policy5 {
				t.Fatalf("control: the targets did not change: before %+v, after %+v", before, after)
			}
			if runtime.NumCPU() > 1 && after.cpus == before.cpus {
				t.Fatalf("control: sched_setaffinity did not change the target's CPUs (%d)", after.cpus)
			}
			t.Logf("without the rules, as %s: RLIMIT_NOFILE %v → %v, priority %d → %d, ioprio %#x → %#x, policy %d → %d, CPUs %d → %d, policy %d → %d",
				u.name, before.nofile, after.nofile, before.prio, after.prio, before.ioprio, after.ioprio,
				before.policy, after.policy, before.cpus, after.cpus, before.policy5, after.policy5)

			res, before, after := throttle(nil)
			for _, s := range seccompProcessSteps {
				res.mustStep(t, s, unix.EPERM)
			}
			res.mustStep(t, "prlimit64 self by pid", unix.EPERM)
			res.mustStep(t, "prlimit64 self as 0", 0)
			res.mustStep(t, "setpriority self as 0", 0)
			if after != before {
				t.Errorf("under the filter the targets changed: before %+v, after %+v", before, after)
			}
		})
	}
}

// seccompProcLimit is a line of /proc/PID/limits, soft and hard.
func seccompProcLimit(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			return strings.Join(strings.Fields(rest), " ")
		}
	}
	t.Fatalf("no %q in /proc/%d/limits", name, pid)
	return ""
}

func fmtInts(p []int) string {
	var s []string
	for _, n := range p {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, " ")
}

// seccompMappedAddr is the start of the first mapping of pid.
func seccompMappedAddr(t *testing.T, pid int) uint64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatalf("no mapping in /proc/%d/maps", pid)
	}
	start, _, _ := strings.Cut(sc.Text(), "-")
	a, err := strconv.ParseUint(start, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSeccompPtraceCallsRefusedByLandlock backs the choice to leave kcmp,
// migrate_pages, move_pages and process_madvise out of the filter. The
// first three need ptrace access to their target, which Landlock refuses
// outside the cage's domain, with no seccomp filter at all. process_madvise
// is refused by Landlock too once the capabilities are gone, as in the
// cage; with them (root, no capability drop) it reached the target on
// Linux 6.18, and it also needs CAP_SYS_NICE for another process. A filter could
// not tell it apart anyway: it names its target by a pidfd. The controls
// show each call reaching the target where the kernel allows it.
func TestSeccompPtraceCallsRefusedByLandlock(t *testing.T) {
	seccompRequireSupport(t)
	landlocked := []string{"kcmp", "migrate_pages", "move_pages"}
	all := append(landlocked, "process_madvise")
	for _, u := range seccompUsers(t) {
		t.Run(u.name, func(t *testing.T) {
			run := seccompRun{user: u, bin: seccompBinary(t, u)}
			p := seccompSleepers(t, u, 1)
			t.Setenv(seccompTargetsEnv, strconv.Itoa(p[0])+" "+strconv.FormatUint(seccompMappedAddr(t, p[0]), 10))

			control := run.child(t, seccompChildSpec{Escape: "ptrace-calls", NoFilter: true})
			for _, c := range all {
				if e := control.errno(t, c); e != 0 {
					t.Logf("as %s without Landlock the kernel refuses %s already: %v", u.name, c, e)
				} else if c != "process_madvise" {
					t.Logf("as %s without Landlock %s reaches the target", u.name, c)
				}
			}
			for _, c := range landlocked {
				control.mustStep(t, c, 0)
			}

			res := run.child(t, seccompChildSpec{Escape: "ptrace-calls", NoFilter: true, Landlock: true})
			if !res.Landlock {
				t.Skip("no Landlock on this kernel")
			}
			for _, c := range landlocked {
				res.mustStep(t, c, unix.EPERM)
			}
			if e := res.errno(t, "process_madvise"); e == 0 {
				t.Logf("as %s under Landlock, with capabilities, process_madvise(MADV_COLD) reaches the target", u.name)
			}

			// As in the cage: Landlock and no capabilities.
			t.Setenv(seccompDropCapsEnv, "1")
			res = run.child(t, seccompChildSpec{Escape: "ptrace-calls", NoFilter: true, Landlock: true})
			res.mustStep(t, "capset", 0)
			for _, c := range all {
				// EACCES is mm_access refusing the ptrace check.
				if e := res.errno(t, c); e != unix.EPERM && e != unix.EACCES {
					t.Errorf("%s under Landlock without capabilities: got «%v», want «%v» or «%v»", c, errnoString(e), unix.EPERM, unix.EACCES)
				}
			}
		})
	}
}

func TestSeccompProcessTableMatchesKernelHeaders(t *testing.T) {
	arch, err := seccompArchFor(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"prlimit64", uint64(arch.prlimit64), unix.SYS_PRLIMIT64},
		{"setpriority", uint64(arch.setpriority), unix.SYS_SETPRIORITY},
		{"ioprio_set", uint64(arch.ioprioSet), unix.SYS_IOPRIO_SET},
		{"sched_setparam", uint64(arch.schedSetparam), unix.SYS_SCHED_SETPARAM},
		{"sched_setscheduler", uint64(arch.schedSetscheduler), unix.SYS_SCHED_SETSCHEDULER},
		{"sched_setaffinity", uint64(arch.schedSetaffinity), unix.SYS_SCHED_SETAFFINITY},
		{"sched_setattr", uint64(arch.schedSetattr), unix.SYS_SCHED_SETATTR},
		{"PRIO_PROCESS", seccompPrioProcess, unix.PRIO_PROCESS},
	} {
		if c.got != c.want {
			t.Errorf("%s: table has %d, the headers %d", c.name, c.got, c.want)
		}
	}
}
