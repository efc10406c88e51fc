package cage

import (
	"net"
	"testing"
)

// The probes must decide on a kernel with Landlock network rules, and the
// Landlock domain of their thread must stay on that thread: afterwards this
// process binds and connects to any port as before.
func TestProbeHoleDecidesAndStaysOnItsThread(t *testing.T) {
	if KernelABI() < 4 {
		t.Skipf("Landlock ABI %d has no TCP rules: the probes give no credit", KernelABI())
	}
	for _, name := range []string{"tfo", "mptcp", "sctp"} {
		h := probeHole(name)
		t.Logf("%s: state %d (%s)", name, h.state, h.why)
		if h.state == holeUnknown {
			t.Errorf("%s: the probe could not tell: %s", name, h.why)
		}
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening after the probes: %v", err)
	}
	defer l.Close()
	for range 20 { // on whichever threads the scheduler picks
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatalf("connecting after the probes: %v (the probe's Landlock domain escaped its thread)", err)
		}
		c.Close()
	}
}

func TestKernelCredit(t *testing.T) {
	t.Setenv("AICAGE", "")
	saved := holeProbed
	defer func() { holeProbed = saved }()
	for _, c := range []struct {
		rule  string
		holes map[string]hole
		want  string
	}{
		{"TCP fast open", map[string]hole{"tfo": {state: holeRefused}},
			"closed by the kernel's Landlock; the filter refuses it too"},
		{"TCP fast open", map[string]hole{"tfo": {state: holeOpen}}, ""},
		{"TCP fast open", map[string]hole{"tfo": {state: holeUnknown}}, ""},
		{"TCP fast open", map[string]hole{"tfo": {state: holeAbsent, why: "net.ipv4.tcp_fastopen has no client bit"}},
			"not in this kernel (net.ipv4.tcp_fastopen has no client bit); the filter refuses it too"},
		{"TCP protocols", map[string]hole{"mptcp": {state: holeRefused}, "sctp": {state: holeAbsent, why: "no SCTP"}},
			"MPTCP: closed by the kernel's Landlock, SCTP: not in this kernel (no SCTP); the filter refuses them too"},
		{"TCP protocols", map[string]hole{"mptcp": {state: holeOpen}, "sctp": {state: holeAbsent, why: "no SCTP"}}, ""},
		{"io_uring", nil, ""},
	} {
		holeProbed = c.holes
		if got := kernelCredit(c.rule); got != c.want {
			t.Errorf("kernelCredit(%q) with %v: got «%s», want «%s»", c.rule, c.holes, got, c.want)
		}
	}
	holeProbed = map[string]hole{"tfo": {state: holeRefused}}
	t.Setenv("AICAGE", "1")
	if got := kernelCredit("TCP fast open"); got != "" {
		t.Errorf("in a cage: got «%s», want no credit (the filter would answer the probe)", got)
	}
}
