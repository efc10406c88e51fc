// Package seccomp builds and installs the cage's seccomp filter.
//
// Landlock can only grant; a few holes stay open whatever the ruleset says.
// The seccomp filter closes those that a look at one system call's arguments
// can close, before Landlock restricts and the command is exec'd:
//
//   - ioctl TIOCSTI, TIOCLINUX and TIOCSETD on the inherited terminal: typing
//     into the user's shell, which runs it after the cage exits
//     (CVE-2017-5226). The request is an unsigned int in the kernel: only its
//     low 32 bits are compared, or a value with upper bits set walks past
//     (CVE-2019-10063 in flatpak, CVE-2019-7303 in snapd).
//   - socket protocols that Landlock's TCP port rules do not see: MPTCP
//     (landlock-lsm/linux#54) and SCTP (#40). Only classic TCP is left.
//   - MSG_FASTOPEN on sendto, sendmsg and sendmmsg: an implicit connect that
//     Landlock's connect hook never sees (landlock-lsm/linux#41).
//     TCP_FASTOPEN_CONNECT is not filtered: its address goes through
//     connect(2), which Landlock checks, and disconnecting clears it.
//   - UDP when the policy denies it (Landlock has UDP rules from ABI 10 only).
//   - raw and packet sockets and every family but AF_UNIX, AF_INET, AF_INET6
//     and AF_NETLINK; netlink only for NETLINK_ROUTE, which glibc's
//     getaddrinfo and getifaddrs and Go's net.Interfaces need.
//   - the kernel keyrings, shared by every process of the user and outside
//     Landlock's reach; and io_uring, whose operations never pass through
//     this filter (IORING_OP_SOCKET, IORING_OP_SENDMSG with MSG_FASTOPEN).
//   - resource limits and scheduling of other processes: prlimit64,
//     setpriority, ioprio_set and the sched_set* calls check only that the
//     target has the same uid, and Landlock does not hook them, so a cage
//     could set an outside process's RLIMIT_CPU (SIGKILL when it is
//     reached), RLIMIT_NOFILE or its priority. Only pid 0 (the caller) is
//     allowed: a filter sees a number, not whose process it is, so the
//     caller's own pid or a tid is refused too (pid_t is an int: only the
//     low 32 bits are compared). glibc, musl and Go name the caller as 0.
//     kcmp, migrate_pages, move_pages and process_madvise need ptrace
//     access, which Landlock refuses outside the cage's domain (for
//     process_madvise only once the capabilities are dropped, as the cage
//     does; it also needs CAP_SYS_NICE): the kernel closes them, and the
//     tests show it.
//   - syscalls of another ABI, whose numbers mean other calls: i386 ones
//     (int 0x80) on x86_64 and arm32 ones on arm64 kill the process; x32
//     ones get ENOSYS, what kernels built without x32 answer.
//
// Everything else is allowed: this is a deny list of known holes, not a
// syscall allow list. Refusals return an errno chosen so that programs fall
// back cleanly (EPROTONOSUPPORT for MPTCP makes Go dial plain TCP, ENOSYS for
// io_uring is what kernels without it say); only a foreign ABI kills.
//
// # Limitations
//
// The filter looks at registers, never at memory: it cannot limit UDP to
// port 53 (udp = "dns" needs Landlock ABI 10 for that), nor see what a
// terminal does with escape sequences written to it.
package seccomp

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"
)

// Options is what the filter depends on in the policy.
type Options struct {
	// UDP is the policy's [network] udp: "deny", "dns" or "allow".
	UDP string
	// LandlockUDP tells that the Landlock ruleset limits UDP ports (ABI 10
	// and later), which only then makes udp = "dns" an enforced limit; the
	// filter itself lets UDP through for "dns" either way.
	LandlockUDP bool
	// Broker sends connect(2), sendto(2) with an address, every sendmsg(2)
	// and sendmmsg(2), and listen(2) to the supervisor's connect broker
	// (SECCOMP_RET_USER_NOTIF), which decides and performs them.
	Broker bool
	// Guard is the thread id of the supervisor's thread that starts the
	// command, which stays in the command's Landlock domain (0: none).
	// Landlock lets a domain signal its own members, and a fatal signal
	// to that thread ends the whole supervisor, so the filter refuses every
	// call that signals one thread by id when the id is Guard: kill, tkill,
	// tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open; and the two
	// whose target it cannot see: pidfd_send_signal (ENOSYS, as on kernels
	// before 5.1, so programs fall back to kill) and fcntl F_SETOWN_EX
	// (EINVAL; a signal-driven file's owner by thread id).
	Guard uint32
}

// SeccompRule describes one protection of the filter for `aicage status` and
// `aicage doctor`.
type Rule struct {
	Name   string `json:"name"`
	Closes string `json:"closes"` // what the rule refuses, and why it matters
	State  string `json:"state"`  // "enforced", "degraded" or "missing"
	Why    string `json:"why,omitempty"`
}

// String is the rule as one line: "name: state" or "name: state: why".
func (r Rule) String() string {
	if r.Why == "" {
		return r.Name + ": " + r.State
	}
	return r.Name + ": " + r.State + ": " + r.Why
}

// Names of the rules, also the keys that tests use to leave one out.
const (
	seccompRuleABI       = "syscall ABI"
	seccompRuleTIOCSTI   = "ioctl TIOCSTI"
	seccompRuleTIOCLINUX = "ioctl TIOCLINUX"
	seccompRuleTIOCSETD  = "ioctl TIOCSETD"
	seccompRuleFamilies  = "socket families"
	seccompRuleNetlink   = "netlink protocols"
	seccompRuleInetTypes = "raw inet sockets"
	seccompRuleStream    = "TCP protocols"
	seccompRuleDgram     = "datagram protocols"
	seccompRuleFastOpen  = "TCP fast open"
	seccompRuleUDP       = "UDP"
	seccompRuleKeyrings  = "kernel keyrings"
	seccompRuleIOURing   = "io_uring"
	seccompRuleBroker    = "connect broker"
	seccompRuleGuard     = "supervisor thread"
	seccompRuleLimits    = "other processes' limits"
	seccompRuleSched     = "other processes' scheduling"
)

// seccompRuleTable is the description of every rule, in the order status
// shows them.
var seccompRuleTable = []struct{ name, closes string }{
	{seccompRuleABI, "syscalls of another ABI, whose numbers mean other calls than those this filter checks: i386 (int 0x80) on x86_64 and arm32 on arm64 kill the process, x32 gets ENOSYS"},
	{seccompRuleTIOCSTI, "typing commands into the outside terminal with ioctl TIOCSTI, run by your shell after the cage exits (CVE-2017-5226), including requests with upper bits set (CVE-2019-10063, CVE-2019-7303)"},
	{seccompRuleTIOCLINUX, "pasting the console selection into a virtual console with ioctl TIOCLINUX (CVE-2023-28100)"},
	{seccompRuleTIOCSETD, "changing the outside terminal's line discipline with ioctl TIOCSETD, and the kernel bugs behind it (CVE-2017-2636, CVE-2023-6546)"},
	{seccompRuleFamilies, "packet, vsock, AF_ALG, AF_XDP, bluetooth, CAN and every socket family but unix, IPv4, IPv6 and netlink, which Landlock does not restrict"},
	{seccompRuleNetlink, "netlink protocols other than NETLINK_ROUTE (sock_diag lists every socket on the machine, uevent, audit, generic)"},
	{seccompRuleInetTypes, "raw IPv4 and IPv6 sockets and every inet socket type but stream and datagram: hand-made packets to any host and port"},
	{seccompRuleStream, "MPTCP and SCTP stream sockets, which Landlock's TCP port rules do not apply to (landlock-lsm/linux#54, #40)"},
	{seccompRuleDgram, "ICMP echo (ping) and UDP-Lite datagram sockets: traffic to any host that no port rule covers"},
	{seccompRuleFastOpen, "MSG_FASTOPEN on sendto, sendmsg and sendmmsg: a TCP connect that Landlock's port rules never see (landlock-lsm/linux#41)"},
	{seccompRuleUDP, ""}, // depends on the options, see seccompUDPRule
	{seccompRuleKeyrings, "add_key, request_key and keyctl: the kernel keyrings hold secrets shared by every process of your user, out of Landlock's reach"},
	{seccompRuleIOURing, "io_uring, whose operations never pass through this filter (sockets, sends with MSG_FASTOPEN), refused with ENOSYS so programs fall back"},
	{seccompRuleGuard, "signals to the supervisor's thread that started the command, which shares the cage's Landlock domain: a fatal one would end the supervisor and its integrity watch"},
	{seccompRuleBroker, "connect, addressed sends and listen handed to the supervisor, which judges its own copy of the address and performs the call: named unix sockets outside the cage, loopback, LAN and metadata addresses, UDP beyond the resolvers, listen() autobind"},
	{seccompRuleLimits, "prlimit64 on any pid but 0 (the caller): an outside process's RLIMIT_CPU, RLIMIT_NOFILE or RLIMIT_AS, which Landlock does not restrict; the caller's own pid is refused too"},
	{seccompRuleSched, "setpriority, ioprio_set, sched_setparam, sched_setscheduler, sched_setaffinity and sched_setattr on anything but the caller (pid 0, PRIO_PROCESS 0): throttling outside processes"},
}

// seccompArch is one architecture's system call numbers. The filter compares
// them with seccomp_data.nr after checking seccomp_data.arch.
type seccompArch struct {
	goarch string
	audit  uint32 // AUDIT_ARCH_*
	x32    bool   // refuse numbers with __X32_SYSCALL_BIT (x86_64 only)

	socket, socketpair, ioctl                 uint32
	connect, listen                           uint32
	kill, tkill, tgkill, fcntl                uint32
	rtSigqueueinfo, rtTgsigqueueinfo          uint32
	pidfdOpen, pidfdSendSignal                uint32
	sendto, sendmsg, sendmmsg                 uint32
	addKey, requestKey, keyctl                uint32
	ioURingSetup, ioURingEnter, ioURingRegist uint32

	prlimit64, setpriority, ioprioSet                  uint32
	schedSetparam, schedSetscheduler, schedSetaffinity uint32
	schedSetattr                                       uint32
}

// seccompArches are the supported architectures. Both are little-endian,
// which seccompArgLow relies on, and share the asm-generic values of the
// ioctl, socket and errno constants below; an architecture that does not
// (mips, powerpc, sparc) needs more than a row here.
var seccompArches = []seccompArch{
	{
		goarch: "amd64", audit: 0xc000003e, x32: true, // AUDIT_ARCH_X86_64
		socket: 41, socketpair: 53, ioctl: 16,
		connect: 42, listen: 50,
		kill: 62, tkill: 200, tgkill: 234, fcntl: 72,
		rtSigqueueinfo: 129, rtTgsigqueueinfo: 297,
		pidfdOpen: 434, pidfdSendSignal: 424,
		sendto: 44, sendmsg: 46, sendmmsg: 307,
		addKey: 248, requestKey: 249, keyctl: 250,
		ioURingSetup: 425, ioURingEnter: 426, ioURingRegist: 427,
		prlimit64: 302, setpriority: 141, ioprioSet: 251,
		schedSetparam: 142, schedSetscheduler: 144, schedSetaffinity: 203, schedSetattr: 314,
	},
	{
		goarch: "arm64", audit: 0xc00000b7, // AUDIT_ARCH_AARCH64
		socket: 198, socketpair: 199, ioctl: 29,
		connect: 203, listen: 201,
		kill: 129, tkill: 130, tgkill: 131, fcntl: 25,
		rtSigqueueinfo: 138, rtTgsigqueueinfo: 240,
		pidfdOpen: 434, pidfdSendSignal: 424,
		sendto: 206, sendmsg: 211, sendmmsg: 269,
		addKey: 217, requestKey: 218, keyctl: 219,
		ioURingSetup: 425, ioURingEnter: 426, ioURingRegist: 427,
		prlimit64: 261, setpriority: 140, ioprioSet: 30,
		schedSetparam: 118, schedSetscheduler: 119, schedSetaffinity: 122, schedSetattr: 274,
	},
}

// testOnlySeccompArch replaces runtime.GOARCH when not empty.
var testOnlySeccompArch string

// SetTestOnlyArch makes the filter believe it runs on goarch, so that the
// end-to-end tests can show aicage refusing an architecture it has no
// syscall table for. It can only make aicage refuse, never weaken a filter.
func SetTestOnlyArch(goarch string) { testOnlySeccompArch = goarch }

func seccompGOARCH() string {
	if testOnlySeccompArch != "" {
		return testOnlySeccompArch
	}
	return runtime.GOARCH
}

func seccompArchFor(goarch string) (*seccompArch, error) {
	for i := range seccompArches {
		if seccompArches[i].goarch == goarch {
			return &seccompArches[i], nil
		}
	}
	return nil, fmt.Errorf("the seccomp filter has no syscall table for %s (only amd64 and arm64)", goarch)
}

// Supported returns nil when the filter can be installed here: a known
// architecture and a kernel with seccomp filters. aicage refuses to start
// otherwise, unless --best-effort.
func Supported() error {
	if _, err := seccompArchFor(seccompGOARCH()); err != nil {
		return err
	}
	return seccompKernelSupport()
}

// Program builds the filter for the running architecture.
func Program(opts Options) ([]bpf.RawInstruction, error) {
	arch, err := seccompArchFor(seccompGOARCH())
	if err != nil {
		return nil, err
	}
	return seccompBuild(arch, opts, nil)
}

// Rules describes every rule of the filter for opts on this host:
// all "missing" where Supported fails. udp = "allow" asks for no UDP
// protection and has no UDP rule.
func Rules(opts Options) []Rule {
	return seccompRules(opts, Supported())
}

func seccompRules(opts Options, unsupported error) []Rule {
	var out []Rule
	for _, d := range seccompRuleTable {
		r := Rule{Name: d.name, Closes: d.closes, State: "enforced"}
		if d.name == seccompRuleBroker && !opts.Broker || d.name == seccompRuleGuard && opts.Guard == 0 {
			continue
		}
		if d.name == seccompRuleUDP {
			var ok bool
			if r, ok = seccompUDPRule(opts); !ok {
				continue
			}
		}
		if unsupported != nil && r.State != "missing" {
			r.State, r.Why = "missing", unsupported.Error()
		}
		out = append(out, r)
	}
	return out
}

// seccompUDPRule describes the UDP rule; ok is false for udp = "allow",
// which asks for no protection.
func seccompUDPRule(opts Options) (r Rule, ok bool) {
	r = Rule{Name: seccompRuleUDP, State: "enforced"}
	switch opts.UDP {
	case "deny":
		r.Closes = "UDP to any host and port (udp = \"deny\"; Landlock on this kernel has no UDP rules)"
	case "dns":
		r.Closes = "UDP to ports other than 53 (udp = \"dns\")"
		if opts.Broker {
			r.Closes = "UDP to anything but port 53 of the resolvers in /etc/resolv.conf (udp = \"dns\", decided by the connect broker)"
		} else if !opts.LandlockUDP {
			r.State = "degraded"
			r.Why = "UDP limited to port 53: not enforced, needs Landlock ABI 10; UDP allowed to any port"
		}
	case "allow":
		return r, false
	default:
		r.Closes = "UDP"
		r.State, r.Why = "missing", seccompUDPError(opts.UDP).Error()
	}
	return r, true
}

func seccompUDPError(udp string) error {
	return fmt.Errorf("udp = %q: want \"deny\", \"dns\" or \"allow\"", udp)
}

// Values from the kernel's uapi headers (asm-generic, see seccompArches).
const (
	seccompRetKillProcess = 0x80000000
	seccompRetErrno       = 0x00050000
	seccompRetUserNotif   = 0x7fc00000
	seccompRetAllow       = 0x7fff0000

	seccompEPERM           = 1
	seccompEINVAL          = 22
	seccompENOSYS          = 38
	seccompEPROTONOSUPPORT = 93
	seccompEOPNOTSUPP      = 95
	seccompEAFNOSUPPORT    = 97

	seccompX32Bit = 0x40000000

	seccompTIOCSTI   = 0x5412
	seccompTIOCLINUX = 0x541c
	seccompTIOCSETD  = 0x5423

	seccompAFUnix    = 1
	seccompAFInet    = 2
	seccompAFInet6   = 10
	seccompAFNetlink = 16

	seccompSockStream   = 1
	seccompSockDgram    = 2
	seccompSockRaw      = 3
	seccompSockTypeMask = 0xf // what the kernel keeps after SOCK_NONBLOCK and SOCK_CLOEXEC

	seccompIPProtoTCP   = 6
	seccompIPProtoUDP   = 17
	seccompNetlinkRoute = 0

	seccompMsgFastOpen = 0x20000000

	seccompFSetOwnEx        = 15
	seccompPrioProcess      = 0 // setpriority's PRIO_PROCESS
	seccompIOPrioWhoProcess = 1 // ioprio_set's IOPRIO_WHO_PROCESS
)

// Offsets in struct seccomp_data.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
)

// seccompArgHigh is the offset of the upper 32 bits of argument i, for
// the pointers the filter tests against NULL.
func seccompArgHigh(i int) uint32 { return seccompArgLow(i) + 4 }

// seccompArgLow is the offset of the low 32 bits of argument i: every
// argument the filter looks at is an int or unsigned int in the kernel, which
// ignores the upper half, so the filter must ignore it too.
func seccompArgLow(i int) uint32 { return 16 + 8*uint32(i) }

// seccompBuild assembles the filter for arch. Rules named in omit are left
// out; only tests do that, to show that each rule is what stops its escape.
func seccompBuild(arch *seccompArch, opts Options, omit map[string]bool) ([]bpf.RawInstruction, error) {
	switch opts.UDP {
	case "deny", "dns", "allow":
	default:
		return nil, seccompUDPError(opts.UDP)
	}
	on := func(rule string) bool { return !omit[rule] }
	a := newSeccompAsm()

	a.load(seccompDataArch)
	if on(seccompRuleABI) {
		a.jeq(arch.audit, "", a.ret(seccompRetKillProcess))
	}
	a.load(seccompDataNr)
	if arch.x32 && on(seccompRuleABI) {
		a.jset(seccompX32Bit, a.errno(seccompENOSYS), "")
	}
	a.jeq(arch.socket, "socket", "")
	a.jeq(arch.socketpair, "socketpair", "")
	if on(seccompRuleTIOCSTI) || on(seccompRuleTIOCLINUX) || on(seccompRuleTIOCSETD) {
		a.jeq(arch.ioctl, "ioctl", "")
	}
	broker := opts.Broker && on(seccompRuleBroker)
	if on(seccompRuleFastOpen) || broker {
		a.jeq(arch.sendto, "sendto", "")
		a.jeq(arch.sendmmsg, "sendmmsg", "")
		a.jeq(arch.sendmsg, "sendmsg", "")
	}
	if broker {
		a.jeq(arch.connect, a.ret(seccompRetUserNotif), "")
		a.jeq(arch.listen, a.ret(seccompRetUserNotif), "")
	}
	guard := opts.Guard != 0 && on(seccompRuleGuard)
	if guard {
		for _, c := range []struct {
			nr  uint32
			arg string
		}{
			{arch.kill, "guard0"}, {arch.tkill, "guard0"}, {arch.rtSigqueueinfo, "guard0"}, {arch.pidfdOpen, "guard0"},
			{arch.tgkill, "guard1"}, {arch.rtTgsigqueueinfo, "guard1"},
		} {
			a.jeq(c.nr, c.arg, "")
		}
		a.jeq(arch.pidfdSendSignal, a.errno(seccompENOSYS), "")
		a.jeq(arch.fcntl, "fcntl", "")
	}
	if on(seccompRuleKeyrings) {
		for _, nr := range []uint32{arch.addKey, arch.requestKey, arch.keyctl} {
			a.jeq(nr, a.errno(seccompEPERM), "")
		}
	}
	if on(seccompRuleIOURing) {
		for _, nr := range []uint32{arch.ioURingSetup, arch.ioURingEnter, arch.ioURingRegist} {
			a.jeq(nr, a.errno(seccompENOSYS), "")
		}
	}
	seccompProcessJumps(a, arch, on)
	a.emit(bpf.RetConstant{Val: seccompRetAllow})

	seccompSocketBlocks(a, opts, on)
	seccompIoctlBlock(a, on)
	if on(seccompRuleFastOpen) || broker {
		seccompSendBlocks(a, on(seccompRuleFastOpen), broker)
	}
	if guard {
		for _, b := range []struct {
			label string
			arg   int
		}{{"guard0", 0}, {"guard1", 1}} {
			a.label(b.label)
			a.load(seccompArgLow(b.arg)) // a pid_t
			a.jeq(opts.Guard, a.errno(seccompEPERM), a.allow())
		}
		a.label("fcntl")
		a.load(seccompArgLow(1)) // the command, an unsigned int
		a.jeq(seccompFSetOwnEx, a.errno(seccompEINVAL), a.allow())
	}
	seccompProcessBlocks(a, on)
	return a.assemble()
}

// seccompSendBlocks refuses MSG_FASTOPEN and, with the broker, hands the
// sends that can carry a destination to it: sendto with an address (the
// pointer is tested in both halves), and every sendmsg and sendmmsg, whose
// msg_name lies in memory the filter cannot read — and that another thread
// could change between a look and the kernel's own read, so the broker
// performs those sends itself.
func seccompSendBlocks(a *seccompAsm, fastOpen, broker bool) {
	notify := a.allow()
	if broker {
		notify = a.ret(seccompRetUserNotif)
	}
	for _, b := range []struct {
		label string
		flags int
	}{{"sendto", 3}, {"sendmmsg", 3}, {"sendmsg", 2}} {
		a.label(b.label)
		next := notify
		if b.label == "sendto" {
			next = b.label + " address"
		}
		if fastOpen {
			// Flags are an unsigned int: the low half of the argument.
			a.load(seccompArgLow(b.flags))
			a.jset(seccompMsgFastOpen, a.errno(seccompEOPNOTSUPP), next)
		} else {
			a.jump(next)
		}
	}
	a.label("sendto address")
	if !broker {
		a.emit(bpf.RetConstant{Val: seccompRetAllow})
		return
	}
	a.load(seccompArgLow(4))
	a.jeq(0, "", notify)
	a.load(seccompArgHigh(4))
	a.jeq(0, a.allow(), notify)
}

// seccompProcessJumps sends the calls that take another process's pid to
// the blocks that allow only the caller.
func seccompProcessJumps(a *seccompAsm, arch *seccompArch, on func(string) bool) {
	if on(seccompRuleLimits) {
		a.jeq(arch.prlimit64, "pid0", "")
	}
	if on(seccompRuleSched) {
		for _, nr := range []uint32{arch.schedSetparam, arch.schedSetscheduler, arch.schedSetaffinity, arch.schedSetattr} {
			a.jeq(nr, "pid0", "")
		}
		a.jeq(arch.setpriority, "prio", "")
		a.jeq(arch.ioprioSet, "ioprio", "")
	}
}

// seccompProcessBlocks allow pid 0 only: pid_t and the which/who pairs are
// ints, so only the low halves are compared.
func seccompProcessBlocks(a *seccompAsm, on func(string) bool) {
	if !on(seccompRuleLimits) && !on(seccompRuleSched) {
		return
	}
	a.label("pid0")
	a.load(seccompArgLow(0))
	a.jeq(0, a.allow(), a.errno(seccompEPERM))
	if !on(seccompRuleSched) {
		return
	}
	a.label("prio")
	a.load(seccompArgLow(0))
	a.jeq(seccompPrioProcess, "who0", a.errno(seccompEPERM))
	a.label("ioprio")
	a.load(seccompArgLow(0))
	a.jeq(seccompIOPrioWhoProcess, "", a.errno(seccompEPERM))
	a.label("who0")
	a.load(seccompArgLow(1))
	a.jeq(0, a.allow(), a.errno(seccompEPERM))
}

func seccompSocketBlocks(a *seccompAsm, opts Options, on func(string) bool) {
	a.label("socketpair") // only unix sockets come in pairs
	if on(seccompRuleFamilies) {
		a.load(seccompArgLow(0))
		a.jeq(seccompAFUnix, a.allow(), a.errno(seccompEAFNOSUPPORT))
	} else {
		a.emit(bpf.RetConstant{Val: seccompRetAllow})
	}

	a.label("socket")
	a.load(seccompArgLow(0))
	a.jeq(seccompAFInet, "inet", "")
	a.jeq(seccompAFInet6, "inet", "")
	if on(seccompRuleNetlink) {
		a.jeq(seccompAFNetlink, "netlink", "")
	}
	if on(seccompRuleFamilies) {
		a.jeq(seccompAFUnix, a.allow(), "")
		a.jeq(seccompAFNetlink, a.allow(), a.errno(seccompEAFNOSUPPORT))
	} else {
		a.emit(bpf.RetConstant{Val: seccompRetAllow})
	}

	if on(seccompRuleNetlink) {
		// SOCK_RAW and SOCK_DGRAM are the same to netlink: only the protocol counts.
		a.label("netlink")
		a.load(seccompArgLow(2))
		a.jeq(seccompNetlinkRoute, a.allow(), a.errno(seccompEPROTONOSUPPORT))
	}

	a.label("inet")
	a.load(seccompArgLow(1))
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: seccompSockTypeMask})
	a.jeq(seccompSockStream, "stream", "")
	a.jeq(seccompSockDgram, "dgram", "")
	if on(seccompRuleInetTypes) {
		// EPERM is what an unprivileged raw socket gets from the kernel.
		a.jeq(seccompSockRaw, a.errno(seccompEPERM), a.errno(seccompEPROTONOSUPPORT))
	} else {
		a.emit(bpf.RetConstant{Val: seccompRetAllow})
	}

	a.label("stream")
	if on(seccompRuleStream) {
		a.load(seccompArgLow(2))
		a.jeq(0, a.allow(), "")
		a.jeq(seccompIPProtoTCP, a.allow(), a.errno(seccompEPROTONOSUPPORT))
	} else {
		a.emit(bpf.RetConstant{Val: seccompRetAllow})
	}

	a.label("dgram")
	udp := a.allow()
	if opts.UDP == "deny" && on(seccompRuleUDP) {
		udp = a.errno(seccompEPERM)
	}
	if on(seccompRuleDgram) {
		a.load(seccompArgLow(2))
		a.jeq(0, udp, "")
		a.jeq(seccompIPProtoUDP, udp, a.errno(seccompEPROTONOSUPPORT))
	} else {
		a.jump(udp)
	}
}

func seccompIoctlBlock(a *seccompAsm, on func(string) bool) {
	a.label("ioctl")
	a.load(seccompArgLow(1)) // the request: unsigned int cmd
	for _, c := range []struct {
		rule string
		cmd  uint32
	}{
		{seccompRuleTIOCSTI, seccompTIOCSTI},
		{seccompRuleTIOCLINUX, seccompTIOCLINUX},
		{seccompRuleTIOCSETD, seccompTIOCSETD},
	} {
		if on(c.rule) {
			a.jeq(c.cmd, a.errno(seccompEPERM), "")
		}
	}
	a.emit(bpf.RetConstant{Val: seccompRetAllow})
}

// seccompAsm assembles classic BPF with forward jumps to named labels. The
// return instructions that jumps name with ret, errno and allow are placed
// once each, at the end.
type seccompAsm struct {
	prog   []bpf.Instruction
	jumps  []seccompJump
	labels map[string]int
	rets   []uint32
}

type seccompJump struct {
	at      int
	yes, no string // "" is the next instruction
	always  bool   // an unconditional jump to yes
	cond    bpf.JumpTest
	val     uint32
}

func newSeccompAsm() *seccompAsm { return &seccompAsm{labels: map[string]int{}} }

func (a *seccompAsm) emit(i bpf.Instruction) { a.prog = append(a.prog, i) }

func (a *seccompAsm) label(name string) { a.labels[name] = len(a.prog) }

func (a *seccompAsm) load(off uint32) { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *seccompAsm) jeq(val uint32, yes, no string) { a.cond(bpf.JumpEqual, val, yes, no) }

func (a *seccompAsm) jset(bits uint32, yes, no string) { a.cond(bpf.JumpBitsSet, bits, yes, no) }

func (a *seccompAsm) cond(c bpf.JumpTest, val uint32, yes, no string) {
	a.jumps = append(a.jumps, seccompJump{at: len(a.prog), yes: yes, no: no, cond: c, val: val})
	a.emit(nil) // placeholder, filled in by assemble
}

func (a *seccompAsm) jump(to string) {
	a.jumps = append(a.jumps, seccompJump{at: len(a.prog), yes: to, always: true})
	a.emit(nil)
}

// ret names the return of val, to be placed at the end.
func (a *seccompAsm) ret(val uint32) string {
	name := fmt.Sprintf("ret %#x", val)
	for _, v := range a.rets {
		if v == val {
			return name
		}
	}
	a.rets = append(a.rets, val)
	return name
}

func (a *seccompAsm) errno(e uint32) string { return a.ret(seccompRetErrno | e) }

func (a *seccompAsm) allow() string { return a.ret(seccompRetAllow) }

func (a *seccompAsm) assemble() ([]bpf.RawInstruction, error) {
	for _, v := range a.rets {
		a.label(fmt.Sprintf("ret %#x", v))
		a.emit(bpf.RetConstant{Val: v})
	}
	skip := func(from int, to string) (uint8, error) {
		if to == "" {
			return 0, nil
		}
		at, ok := a.labels[to]
		if !ok {
			return 0, fmt.Errorf("bug: seccomp filter jumps to unknown label %q", to)
		}
		d := at - from - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("bug: seccomp filter jump to %q out of range (%d)", to, d)
		}
		return uint8(d), nil
	}
	for _, j := range a.jumps {
		yes, err := skip(j.at, j.yes)
		if err != nil {
			return nil, err
		}
		if j.always {
			a.prog[j.at] = bpf.Jump{Skip: uint32(yes)}
			continue
		}
		no, err := skip(j.at, j.no)
		if err != nil {
			return nil, err
		}
		a.prog[j.at] = bpf.JumpIf{Cond: j.cond, Val: j.val, SkipTrue: yes, SkipFalse: no}
	}
	if len(a.prog) > seccompMaxInsns {
		return nil, errors.New("bug: seccomp filter longer than the kernel's limit")
	}
	return bpf.Assemble(a.prog)
}

// seccompMaxInsns is the kernel's BPF_MAXINSNS.
const seccompMaxInsns = 4096
