package seccomp

// The calls that take another process's pid, as cases of the decision
// tests in seccomp_test.go (appended there by init, once per architecture,
// since the numbers differ).

func init() {
	for _, arch := range seccompArches {
		seccompCases = append(seccompCases, seccompProcessCases(arch)...)
	}
}

func seccompProcessCases(arch seccompArch) []seccompCase {
	eperm := retErrno(seccompEPERM)
	c := func(name string, nr uint32, args [6]uint64, want uint32, rule string) seccompCase {
		return seccompCase{name: arch.goarch + " " + name, only: arch.goarch, nr: nr, args: args, want: want, rule: rule}
	}
	rlim := [6]uint64{0, 7, 0x7ffc0000, 0} // RLIMIT_NOFILE, a new limit
	other := func(pid uint64) [6]uint64 { a := rlim; a[0] = pid; return a }
	cases := []seccompCase{
		c("prlimit64 on itself (pid 0)", arch.prlimit64, rlim, retAllow, ""),
		c("prlimit64 get on itself", arch.prlimit64, [6]uint64{0, 7, 0, 0x7ffc0000}, retAllow, ""),
		c("prlimit64 on pid 0 with upper bits", arch.prlimit64, other(upper), retAllow, ""),
		c("prlimit64 on another pid", arch.prlimit64, other(4242), eperm, seccompRuleLimits),
		c("prlimit64 on pid 1", arch.prlimit64, other(1), eperm, seccompRuleLimits),
		c("prlimit64 on another pid with upper bits", arch.prlimit64, other(upper|4242), eperm, seccompRuleLimits),
		c("prlimit64 on pid -1", arch.prlimit64, other(0xffffffff), eperm, seccompRuleLimits),
		c("prlimit64 reading another pid", arch.prlimit64, [6]uint64{4242, 7, 0, 0x7ffc0000}, eperm, seccompRuleLimits),

		c("setpriority of itself", arch.setpriority, [6]uint64{0, 0, 10}, retAllow, ""),
		c("setpriority of itself, upper bits", arch.setpriority, [6]uint64{upper, upper, 10}, retAllow, ""),
		c("setpriority of another pid", arch.setpriority, [6]uint64{0, 4242, 19}, eperm, seccompRuleSched),
		c("setpriority of a process group", arch.setpriority, [6]uint64{1, 0, 19}, eperm, seccompRuleSched),
		c("setpriority of every process of the user", arch.setpriority, [6]uint64{2, 0, 19}, eperm, seccompRuleSched),
		c("ioprio_set of itself", arch.ioprioSet, [6]uint64{1, 0, 3 << 13}, retAllow, ""),
		c("ioprio_set of another pid", arch.ioprioSet, [6]uint64{1, 4242, 3 << 13}, eperm, seccompRuleSched),
		c("ioprio_set of another pid, upper bits in which", arch.ioprioSet, [6]uint64{upper | 1, 4242, 3 << 13}, eperm, seccompRuleSched),
		c("ioprio_set of the user's processes", arch.ioprioSet, [6]uint64{3, 0, 3 << 13}, eperm, seccompRuleSched),
		c("ioprio_set of the process group", arch.ioprioSet, [6]uint64{2, 0, 3 << 13}, eperm, seccompRuleSched),
	}
	for _, s := range []struct {
		name string
		nr   uint32
	}{
		{"sched_setparam", arch.schedSetparam}, {"sched_setscheduler", arch.schedSetscheduler},
		{"sched_setaffinity", arch.schedSetaffinity}, {"sched_setattr", arch.schedSetattr},
	} {
		cases = append(cases,
			c(s.name+" of itself", s.nr, [6]uint64{0, 5, 0x7ffc0000}, retAllow, ""),
			c(s.name+" of itself, upper bits", s.nr, [6]uint64{upper, 5, 0x7ffc0000}, retAllow, ""),
			c(s.name+" of another pid", s.nr, [6]uint64{4242, 5, 0x7ffc0000}, eperm, seccompRuleSched),
			c(s.name+" of another pid, upper bits", s.nr, [6]uint64{upper | 4242, 5, 0x7ffc0000}, eperm, seccompRuleSched))
	}
	return cases
}
