package seccomp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

const (
	auditArchI386 = 0x40000003
	auditArchARM  = 0x40000028

	upper = 1 << 32 // a bit the kernel drops from int and unsigned int arguments
)

var (
	retAllow  = uint32(seccompRetAllow)
	retKill   = uint32(seccompRetKillProcess)
	retNotify = uint32(seccompRetUserNotif)
)

func retErrno(e uint32) uint32 { return seccompRetErrno | e }

// seccompCase is one call as seccomp_data and the filter's expected answer.
type seccompCase struct {
	name string
	arch uint32 // 0: the table's own
	call string // a field of seccompArch, or "" with nr
	nr   uint32
	args [6]uint64
	udp  string // "": the same answer in every mode
	only string // "": on every architecture

	want uint32
	rule string // the rule that gives want; "" for allowed calls
	// whenOmitted is the answer when rule is left out; 0 means allowed.
	whenOmitted uint32
}

func sock(family, typ, proto uint64) [6]uint64 { return [6]uint64{family, typ, proto} }

var seccompCases = []seccompCase{
	// The ABI.
	{name: "i386 socket through int 0x80", arch: auditArchI386, nr: 359, args: sock(2, 1, 262), want: retKill, rule: seccompRuleABI},
	{name: "arm32 compat socket", arch: auditArchARM, nr: 281, args: sock(2, 1, 262), want: retKill, rule: seccompRuleABI},
	{name: "x32 socket", only: "amd64", call: "socket|x32", args: sock(2, 1, 262), want: retErrno(seccompENOSYS), rule: seccompRuleABI},
	{name: "plain read", call: "read", want: retAllow},

	// The terminal.
	{name: "TIOCSTI", call: "ioctl", args: [6]uint64{0, 0x5412, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCSTI},
	{name: "TIOCSTI with upper bits", call: "ioctl", args: [6]uint64{0, upper | 0x5412, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCSTI},
	{name: "TIOCSTI with every upper bit", call: "ioctl", args: [6]uint64{0, 0xffffffff_00005412, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCSTI},
	{name: "TIOCLINUX", call: "ioctl", args: [6]uint64{0, 0x541c, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCLINUX},
	{name: "TIOCLINUX with upper bits", call: "ioctl", args: [6]uint64{0, upper | 0x541c, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCLINUX},
	{name: "TIOCSETD", call: "ioctl", args: [6]uint64{0, 0x5423, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCSETD},
	{name: "TIOCSETD with upper bits", call: "ioctl", args: [6]uint64{0, upper | 0x5423, 0}, want: retErrno(seccompEPERM), rule: seccompRuleTIOCSETD},
	{name: "TCGETS", call: "ioctl", args: [6]uint64{0, 0x5401, 0}, want: retAllow},
	{name: "TIOCGWINSZ", call: "ioctl", args: [6]uint64{1, 0x5413, 0}, want: retAllow},
	{name: "TIOCSTI's number as fd and argument", call: "ioctl", args: [6]uint64{0x5412, 0x5401, 0x5412}, want: retAllow},

	// Socket families.
	{name: "unix stream", call: "socket", args: sock(1, 1, 0), want: retAllow},
	{name: "unix datagram", call: "socket", args: sock(1, 2|0x80000, 0), want: retAllow},
	{name: "unix socketpair", call: "socketpair", args: sock(1, 1|0x80000, 0), want: retAllow},
	{name: "inet socketpair", call: "socketpair", args: sock(2, 1, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "unspec", call: "socket", args: sock(0, 1, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "packet", call: "socket", args: sock(17, 3, 0x300), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "packet with inet in the upper bits", call: "socket", args: sock(upper*2|17, 3, 0x300), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "AF_ALG", call: "socket", args: sock(38, 5, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "vsock", call: "socket", args: sock(40, 1, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "bluetooth", call: "socket", args: sock(31, 3, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "AF_KEY", call: "socket", args: sock(15, 3, 2), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "AF_XDP", call: "socket", args: sock(44, 3, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "CAN", call: "socket", args: sock(29, 3, 1), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "TIPC", call: "socket", args: sock(30, 5, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "RDS", call: "socket", args: sock(21, 5, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "X25", call: "socket", args: sock(9, 5, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "AX25", call: "socket", args: sock(3, 2, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},
	{name: "AF_MAX and beyond", call: "socket", args: sock(46, 1, 0), want: retErrno(seccompEAFNOSUPPORT), rule: seccompRuleFamilies},

	// Netlink.
	{name: "netlink route raw", call: "socket", args: sock(16, 3|0x80000, 0), want: retAllow},
	{name: "netlink route datagram", call: "socket", args: sock(16, 2, 0), want: retAllow},
	{name: "netlink route with upper bits", call: "socket", args: sock(16, 3, upper), want: retAllow},
	{name: "netlink sock_diag", call: "socket", args: sock(16, 3, 4), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleNetlink},
	{name: "netlink audit", call: "socket", args: sock(16, 3, 9), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleNetlink},
	{name: "netlink uevent", call: "socket", args: sock(16, 2, 15), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleNetlink},
	{name: "netlink generic", call: "socket", args: sock(16, 3, 16), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleNetlink},

	// TCP.
	{name: "tcp", call: "socket", args: sock(2, 1, 0), want: retAllow},
	{name: "tcp6 IPPROTO_TCP", call: "socket", args: sock(10, 1, 6), want: retAllow},
	{name: "tcp cloexec nonblock", call: "socket", args: sock(2, 1|0x80000|0x800, 6), want: retAllow},
	{name: "tcp with upper bits", call: "socket", args: sock(upper|2, upper|1, upper|6), want: retAllow},
	{name: "mptcp", call: "socket", args: sock(2, 1, 262), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleStream},
	{name: "mptcp6 cloexec", call: "socket", args: sock(10, 1|0x80000, 262), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleStream},
	{name: "mptcp with upper bits", call: "socket", args: sock(2, 1, upper|262), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleStream},
	{name: "sctp stream", call: "socket", args: sock(2, 1, 132), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleStream},
	{name: "sctp seqpacket", call: "socket", args: sock(10, 5, 132), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleInetTypes},
	{name: "dccp", call: "socket", args: sock(2, 6, 33), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleInetTypes},
	{name: "raw icmp", call: "socket", args: sock(2, 3, 1), want: retErrno(seccompEPERM), rule: seccompRuleInetTypes},
	{name: "raw6 cloexec", call: "socket", args: sock(10, 3|0x80000, 58), want: retErrno(seccompEPERM), rule: seccompRuleInetTypes},
	{name: "SOCK_PACKET on inet", call: "socket", args: sock(2, 10, 0x300), want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleInetTypes},
	{name: "setsockopt TCP_FASTOPEN_CONNECT", call: "setsockopt", args: [6]uint64{3, 6, 30}, want: retAllow},

	// TCP fast open.
	{name: "sendto MSG_FASTOPEN", call: "sendto", args: [6]uint64{3, 0, 1, 0x20000000, 0, 16}, want: retErrno(seccompEOPNOTSUPP), rule: seccompRuleFastOpen},
	{name: "sendto MSG_FASTOPEN|MSG_NOSIGNAL", call: "sendto", args: [6]uint64{3, 0, 1, 0x20004000, 0, 16}, want: retErrno(seccompEOPNOTSUPP), rule: seccompRuleFastOpen},
	{name: "sendto MSG_FASTOPEN with upper bits", call: "sendto", args: [6]uint64{3, 0, 1, upper | 0x20000000, 0, 16}, want: retErrno(seccompEOPNOTSUPP), rule: seccompRuleFastOpen},
	{name: "sendmsg MSG_FASTOPEN", call: "sendmsg", args: [6]uint64{3, 0, 0x20000000}, want: retErrno(seccompEOPNOTSUPP), rule: seccompRuleFastOpen},
	{name: "sendmmsg MSG_FASTOPEN", call: "sendmmsg", args: [6]uint64{3, 0, 1, 0x20000000}, want: retErrno(seccompEOPNOTSUPP), rule: seccompRuleFastOpen},
	{name: "sendto MSG_NOSIGNAL", call: "sendto", args: [6]uint64{3, 0, 1, 0x4000, 0, 16}, want: retAllow},
	{name: "sendto of 0x20000000 bytes", call: "sendto", args: [6]uint64{3, 0, 0x20000000, 0, 0, 16}, want: retAllow},
	{name: "sendmmsg of 0x20000000 messages", call: "sendmmsg", args: [6]uint64{3, 0, 0x20000000, 0}, want: retAllow},
	{name: "sendmsg MSG_DONTWAIT", call: "sendmsg", args: [6]uint64{3, 0, 0x40}, want: retAllow},

	// UDP and other datagrams.
	{name: "udp denied", call: "socket", args: sock(2, 2, 0), udp: "deny", want: retErrno(seccompEPERM), rule: seccompRuleUDP},
	{name: "udp6 IPPROTO_UDP denied", call: "socket", args: sock(10, 2|0x80000, 17), udp: "deny", want: retErrno(seccompEPERM), rule: seccompRuleUDP},
	{name: "udp with upper bits denied", call: "socket", args: sock(2, upper|2, upper|17), udp: "deny", want: retErrno(seccompEPERM), rule: seccompRuleUDP},
	{name: "udp for dns", call: "socket", args: sock(2, 2, 0), udp: "dns", want: retAllow},
	{name: "udp6 for dns", call: "socket", args: sock(10, 2, 17), udp: "dns", want: retAllow},
	{name: "udp allowed", call: "socket", args: sock(2, 2, 0), udp: "allow", want: retAllow},
	{name: "udp6 allowed", call: "socket", args: sock(10, 2|0x800, 17), udp: "allow", want: retAllow},
	{name: "ping socket", call: "socket", args: sock(2, 2, 1), udp: "allow", want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleDgram},
	{name: "ping6 socket", call: "socket", args: sock(10, 2, 58), udp: "dns", want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleDgram},
	{name: "ping socket, udp denied", call: "socket", args: sock(2, 2, 1), udp: "deny", want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleDgram, whenOmitted: retErrno(seccompEPERM)},
	{name: "udplite", call: "socket", args: sock(2, 2, 136), udp: "allow", want: retErrno(seccompEPROTONOSUPPORT), rule: seccompRuleDgram},

	// The connect broker: with it on, these go to the supervisor; without
	// it they are allowed (the rules above still come first).
	{name: "connect", call: "connect", args: [6]uint64{3, 0x7fff0000, 16}, want: retNotify, rule: seccompRuleBroker},
	{name: "listen", call: "listen", args: [6]uint64{3, 128}, want: retNotify, rule: seccompRuleBroker},
	{name: "sendto with an address", call: "sendto", args: [6]uint64{3, 0, 1, 0, 0x7fff0000, 16}, want: retNotify, rule: seccompRuleBroker},
	{name: "sendto with an address above 4 GiB", call: "sendto", args: [6]uint64{3, 0, 1, 0, 0x7fff_00000000, 16}, want: retNotify, rule: seccompRuleBroker},
	{name: "sendto with an address, MSG_NOSIGNAL", call: "sendto", args: [6]uint64{3, 0, 1, 0x4000, 0x1000, 0}, want: retNotify, rule: seccompRuleBroker},
	{name: "sendto without an address", call: "sendto", args: [6]uint64{3, 0x1000, 1, 0, 0, 16}, want: retAllow},
	{name: "sendmsg", call: "sendmsg", args: [6]uint64{3, 0x1000, 0}, want: retNotify, rule: seccompRuleBroker},
	{name: "sendmmsg", call: "sendmmsg", args: [6]uint64{3, 0x1000, 2, 0}, want: retNotify, rule: seccompRuleBroker},

	// The supervisor's thread (guard tid 4242 in the tests): only with a guard.
	{name: "kill the guard", call: "kill", args: [6]uint64{4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "kill the guard, upper bits", call: "kill", args: [6]uint64{upper | 4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "kill another pid", call: "kill", args: [6]uint64{4243, 9}, want: retAllow},
	{name: "kill the guard's number as a group", call: "kill", args: [6]uint64{0xffffef6e, 9}, want: retAllow},
	{name: "tkill the guard", call: "tkill", args: [6]uint64{4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "tgkill the guard", call: "tgkill", args: [6]uint64{100, 4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "tgkill a thread of the guard's number's group", call: "tgkill", args: [6]uint64{4242, 100, 9}, want: retAllow},
	{name: "rt_sigqueueinfo the guard", call: "rtSigqueueinfo", args: [6]uint64{4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "rt_tgsigqueueinfo the guard", call: "rtTgsigqueueinfo", args: [6]uint64{1, 4242, 9}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "pidfd_open the guard", call: "pidfdOpen", args: [6]uint64{4242, 0}, want: retErrno(seccompEPERM), rule: seccompRuleGuard},
	{name: "pidfd_open another pid", call: "pidfdOpen", args: [6]uint64{4243, 0}, want: retAllow},
	{name: "pidfd_send_signal", call: "pidfdSendSignal", args: [6]uint64{3, 9}, want: retErrno(seccompENOSYS), rule: seccompRuleGuard},
	{name: "fcntl F_SETOWN_EX", call: "fcntl", args: [6]uint64{3, 15, 0x1000}, want: retErrno(seccompEINVAL), rule: seccompRuleGuard},
	{name: "fcntl F_SETOWN_EX, upper bits", call: "fcntl", args: [6]uint64{3, upper | 15, 0x1000}, want: retErrno(seccompEINVAL), rule: seccompRuleGuard},
	{name: "fcntl F_SETOWN", call: "fcntl", args: [6]uint64{3, 8, 4242}, want: retAllow},
	{name: "fcntl F_GETFL", call: "fcntl", args: [6]uint64{3, 3}, want: retAllow},

	// Keyrings and io_uring.
	{name: "add_key", call: "addKey", want: retErrno(seccompEPERM), rule: seccompRuleKeyrings},
	{name: "request_key", call: "requestKey", want: retErrno(seccompEPERM), rule: seccompRuleKeyrings},
	{name: "keyctl", call: "keyctl", args: [6]uint64{11, 0xfffffffc}, want: retErrno(seccompEPERM), rule: seccompRuleKeyrings},
	{name: "io_uring_setup", call: "ioURingSetup", args: [6]uint64{8}, want: retErrno(seccompENOSYS), rule: seccompRuleIOURing},
	{name: "io_uring_enter", call: "ioURingEnter", want: retErrno(seccompENOSYS), rule: seccompRuleIOURing},
	{name: "io_uring_register", call: "ioURingRegist", want: retErrno(seccompENOSYS), rule: seccompRuleIOURing},
}

// nr returns the case's syscall number on arch.
func (c seccompCase) nrOn(t *testing.T, arch *seccompArch) uint32 {
	t.Helper()
	call, x32 := strings.CutSuffix(c.call, "|x32")
	var nr uint32
	switch call {
	case "":
		return c.nr
	case "read":
		nr = map[string]uint32{"amd64": 0, "arm64": 63}[arch.goarch]
	case "setsockopt":
		nr = map[string]uint32{"amd64": 54, "arm64": 208}[arch.goarch]
	case "socket":
		nr = arch.socket
	case "socketpair":
		nr = arch.socketpair
	case "ioctl":
		nr = arch.ioctl
	case "kill":
		nr = arch.kill
	case "tkill":
		nr = arch.tkill
	case "tgkill":
		nr = arch.tgkill
	case "rtSigqueueinfo":
		nr = arch.rtSigqueueinfo
	case "rtTgsigqueueinfo":
		nr = arch.rtTgsigqueueinfo
	case "pidfdOpen":
		nr = arch.pidfdOpen
	case "pidfdSendSignal":
		nr = arch.pidfdSendSignal
	case "fcntl":
		nr = arch.fcntl
	case "connect":
		nr = arch.connect
	case "listen":
		nr = arch.listen
	case "sendto":
		nr = arch.sendto
	case "sendmsg":
		nr = arch.sendmsg
	case "sendmmsg":
		nr = arch.sendmmsg
	case "addKey":
		nr = arch.addKey
	case "requestKey":
		nr = arch.requestKey
	case "keyctl":
		nr = arch.keyctl
	case "ioURingSetup":
		nr = arch.ioURingSetup
	case "ioURingEnter":
		nr = arch.ioURingEnter
	case "ioURingRegist":
		nr = arch.ioURingRegist
	default:
		t.Fatalf("bug: unknown call %q", c.call)
	}
	if x32 {
		nr |= seccompX32Bit
	}
	return nr
}

// seccompData lays out struct seccomp_data for x/net/bpf's VM. The kernel
// loads words in native byte order (little-endian on every supported
// architecture), the VM in network order: each 32-bit word is stored big-endian
// at the offset where the kernel would find it, so that a 4-byte load at any
// offset sees what the kernel's load sees.
func seccompData(nr, arch uint32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[seccompDataNr:], nr)
	binary.BigEndian.PutUint32(b[seccompDataArch:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[seccompArgLow(i):], uint32(a))
		binary.BigEndian.PutUint32(b[seccompArgLow(i)+4:], uint32(a>>32))
	}
	return b
}

// seccompVM loads prog into the VM, after checking that the program only
// does what seccompData emulates faithfully: 4-byte loads of nr, arch and
// the halves of arguments. That the upper half is read only for a pointer
// (sendto's address, tested against NULL) is what makes a request like
// TIOCSTI|1<<32 match; the decision cases check that.
func seccompVM(t *testing.T, prog []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	insns, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("the program does not disassemble")
	}
	for i, ins := range insns {
		switch ins := ins.(type) {
		case bpf.LoadAbsolute:
			arg := ins.Off >= 16 && ins.Off < 64 && (ins.Off-16)%4 == 0
			if ins.Size != 4 || !(ins.Off == seccompDataNr || ins.Off == seccompDataArch || arg) {
				t.Fatalf("instruction %d: %v reads outside nr, arch and the halves of arguments", i, ins)
			}
		case bpf.ALUOpConstant, bpf.JumpIf, bpf.Jump, bpf.RetConstant:
		default:
			t.Fatalf("instruction %d: %v (%T) is not expected in the filter", i, ins, ins)
		}
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return vm
}

func seccompVMRun(t *testing.T, vm *bpf.VM, arch *seccompArch, c seccompCase) uint32 {
	t.Helper()
	auditArch := c.arch
	if auditArch == 0 {
		auditArch = arch.audit
	}
	got, err := vm.Run(seccompData(c.nrOn(t, arch), auditArch, c.args))
	if err != nil {
		t.Fatalf("%s: VM: %v", c.name, err)
	}
	return uint32(got)
}

func seccompRetString(r uint32) string {
	switch {
	case r == retAllow:
		return "ALLOW"
	case r == retKill:
		return "KILL_PROCESS"
	case r == retNotify:
		return "USER_NOTIF"
	case r&0xffff0000 == seccompRetErrno:
		return fmt.Sprintf("ERRNO(%d)", r&0xffff)
	}
	return fmt.Sprintf("%#x", r)
}

var seccompUDPModes = []string{"deny", "dns", "allow"}

func (c seccompCase) applies(goarch, udp string) bool {
	return (c.udp == "" || c.udp == udp) && (c.only == "" || c.only == goarch)
}

// brokered tells whether the broker, when on, gets the call once no other
// rule has decided it.
func (c seccompCase) brokered() bool {
	switch c.call {
	case "connect", "listen", "sendmsg", "sendmmsg":
		return true
	case "sendto":
		return c.args[4] != 0
	}
	return false
}

// testGuard is the thread id the guard cases protect.
const testGuard = 4242

// expect is the filter's answer with the broker on or off, a guard or
// none, and the rule omitted ("" for none) left out.
func (c seccompCase) expect(broker, guard bool, omitted string) uint32 {
	if c.rule != "" && c.rule != omitted && c.rule != seccompRuleBroker && c.rule != seccompRuleGuard {
		return c.want
	}
	if c.rule == seccompRuleGuard && guard && omitted != seccompRuleGuard {
		return c.want
	}
	if c.rule != "" && c.rule == omitted && c.whenOmitted != 0 {
		return c.whenOmitted
	}
	if broker && omitted != seccompRuleBroker && c.brokered() {
		return retNotify
	}
	return retAllow
}

// seccompMode is one shape of the filter the decision tests build.
type seccompMode struct{ broker, guard bool }

var seccompModes = []seccompMode{{false, false}, {true, false}, {true, true}, {false, true}}

func (m seccompMode) opts(udp string) Options {
	o := Options{UDP: udp, Broker: m.broker}
	if m.guard {
		o.Guard = testGuard
	}
	return o
}

func TestSeccompProgramDecisions(t *testing.T) {
	for i := range seccompArches {
		arch := &seccompArches[i]
		for _, udp := range seccompUDPModes {
			for _, mode := range seccompModes {
				broker, guard := mode.broker, mode.guard
				t.Run(fmt.Sprintf("%s/udp=%s/broker=%v/guard=%v", arch.goarch, udp, broker, guard), func(t *testing.T) {
					prog, err := seccompBuild(arch, mode.opts(udp), nil)
					if err != nil {
						t.Fatal(err)
					}
					vm := seccompVM(t, prog)
					for _, c := range seccompCases {
						if !c.applies(arch.goarch, udp) {
							continue
						}
						want := c.expect(broker, guard, "")
						if got := seccompVMRun(t, vm, arch, c); got != want {
							t.Errorf("%s: got «%s», want «%s»", c.name, seccompRetString(got), seccompRetString(want))
						}
					}
				})
			}
		}
	}
}

// TestSeccompProgramEachRuleMatters leaves each rule out in turn: the calls
// it decides must then go through (or fall to the rule behind it), and every
// other answer must stay the same.
func TestSeccompProgramEachRuleMatters(t *testing.T) {
	for i := range seccompArches {
		arch := &seccompArches[i]
		for _, rule := range seccompRuleTable {
			for _, udp := range seccompUDPModes {
				for _, mode := range seccompModes {
					broker, guard := mode.broker, mode.guard
					prog, err := seccompBuild(arch, mode.opts(udp), map[string]bool{rule.name: true})
					if err != nil {
						t.Fatal(err)
					}
					vm := seccompVM(t, prog)
					for _, c := range seccompCases {
						if !c.applies(arch.goarch, udp) {
							continue
						}
						want := c.expect(broker, guard, rule.name)
						if got := seccompVMRun(t, vm, arch, c); got != want {
							t.Errorf("%s, udp=%s, broker=%v, guard=%v, without %q: %s: got «%s», want «%s»",
								arch.goarch, udp, broker, guard, rule.name, c.name, seccompRetString(got), seccompRetString(want))
						}
					}
				}
			}
		}
	}
}

// TestSeccompRuleTableMatchesCases checks that every described rule decides
// at least one case above, and that every case names a described rule.
func TestSeccompRuleTableMatchesCases(t *testing.T) {
	described := map[string]bool{}
	for _, r := range seccompRuleTable {
		if described[r.name] {
			t.Errorf("rule %q described twice", r.name)
		}
		described[r.name] = true
	}
	decided := map[string]bool{}
	for _, c := range seccompCases {
		if c.rule != "" && !described[c.rule] {
			t.Errorf("case %q names undescribed rule %q", c.name, c.rule)
		}
		decided[c.rule] = true
	}
	for name := range described {
		if !decided[name] {
			t.Errorf("rule %q decides no case", name)
		}
	}
}

func TestSeccompProgramRejectsUnknownUDP(t *testing.T) {
	for _, udp := range []string{"", "DNS", "any"} {
		if _, err := Program(Options{UDP: udp}); err == nil {
			t.Errorf("udp = %q: no error", udp)
		}
	}
}

func TestSeccompRules(t *testing.T) {
	byName := func(rules []Rule) map[string]Rule {
		m := map[string]Rule{}
		for _, r := range rules {
			if r.Name == "" || r.Closes == "" {
				t.Errorf("rule %+v lacks a name or what it closes", r)
			}
			m[r.Name] = r
		}
		return m
	}
	for _, tc := range []struct {
		opts      Options
		udp       *Rule // nil: no UDP rule
		wantRules int
	}{
		{Options{UDP: "deny"}, &Rule{State: "enforced"}, len(seccompRuleTable) - 2},
		{Options{UDP: "dns"}, &Rule{State: "degraded",
			Why: "UDP limited to port 53: not enforced, needs Landlock ABI 10; UDP allowed to any port"}, len(seccompRuleTable) - 2},
		{Options{UDP: "dns", LandlockUDP: true}, &Rule{State: "enforced"}, len(seccompRuleTable) - 2},
		{Options{UDP: "dns", Broker: true}, &Rule{State: "enforced"}, len(seccompRuleTable) - 1},
		{Options{UDP: "dns", Broker: true, Guard: 1}, &Rule{State: "enforced"}, len(seccompRuleTable)},
		{Options{UDP: "allow"}, nil, len(seccompRuleTable) - 3},
		{Options{UDP: "sometimes"}, &Rule{State: "missing",
			Why: `udp = "sometimes": want "deny", "dns" or "allow"`}, len(seccompRuleTable) - 2},
	} {
		rules := seccompRules(tc.opts, nil)
		if len(rules) != tc.wantRules {
			t.Errorf("%+v: %d rules, want %d", tc.opts, len(rules), tc.wantRules)
		}
		m := byName(rules)
		got, ok := m[seccompRuleUDP]
		switch {
		case tc.udp == nil && ok:
			t.Errorf("%+v: UDP rule %v, want none", tc.opts, got)
		case tc.udp != nil && (got.State != tc.udp.State || got.Why != tc.udp.Why):
			t.Errorf("%+v: UDP rule «%v», want state %q why %q", tc.opts, got, tc.udp.State, tc.udp.Why)
		}
		for _, r := range rules {
			if r.Name != seccompRuleUDP && (r.State != "enforced" || r.Why != "") {
				t.Errorf("%+v: rule «%v», want enforced", tc.opts, r)
			}
		}
	}
}

func TestSeccompUnsupportedArch(t *testing.T) {
	testOnlySeccompArch = "riscv64"
	t.Cleanup(func() { testOnlySeccompArch = "" })

	err := Supported()
	if err == nil || !strings.Contains(err.Error(), "riscv64") {
		t.Fatalf("Supported() = %v, want an error naming riscv64", err)
	}
	if _, err := Program(Options{UDP: "deny"}); err == nil {
		t.Errorf("Program on riscv64: no error")
	}
	for _, r := range Rules(Options{UDP: "deny"}) {
		if r.State != "missing" || r.Why != err.Error() {
			t.Errorf("rule «%v», want missing: %v", r, err)
		}
	}
}

func TestSeccompSupportedArches(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		if _, err := seccompArchFor(goarch); err != nil {
			t.Errorf("%s: %v", goarch, err)
		}
	}
}
