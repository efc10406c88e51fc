package cage

// installSeccomp installs the filter that closes what Landlock leaves open
// (see seccomp.go), unless the supervisor dropped it under --best-effort on
// an architecture the filter does not know, and said so.
func (p *Policy) installSeccomp() error {
	if p.NoSeccomp {
		return nil
	}
	prog, err := SeccompProgram(p.seccompOptions())
	if err != nil {
		return err
	}
	return InstallSeccomp(prog)
}

func (p *Policy) seccompOptions() SeccompOptions {
	return SeccompOptions{UDP: p.UDP, LandlockUDP: p.ABI >= 10}
}

// seccompProtections describes the filter's rules for status and doctor.
func seccompProtections(abi int, udp string) []Protection {
	if udp == "" {
		udp = "deny"
	}
	var out []Protection
	for _, r := range SeccompRules(SeccompOptions{UDP: udp, LandlockUDP: abi >= 10}) {
		p := Protection{Name: "seccomp: " + r.Name, State: r.State, Why: r.Why}
		if r.Closes != "" {
			p.Name += " (" + r.Closes + ")"
		}
		out = append(out, p)
	}
	return out
}
