package cage

import (
	"fmt"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// KernelABI asks the kernel which Landlock ABI it offers (0: none).
func KernelABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

var landlockConfigs = []landlock.Config{
	{}, landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5,
	landlock.V6, landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11,
}

const (
	readFile = ll.AccessFSReadFile
	readDir  = ll.AccessFSReadDir
	execute  = ll.AccessFSExecute
	// writeFile are the write rights that make sense on a file.
	writeFile = ll.AccessFSWriteFile | ll.AccessFSTruncate
	// writeDir are the write rights of a directory; make_char and
	// make_block are never granted.
	writeDir = writeFile | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile |
		ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSock |
		ll.AccessFSMakeFifo | ll.AccessFSMakeSym | ll.AccessFSRefer |
		ll.AccessFSResolveUnix
)

// rights maps a rule to Landlock access rights.
func (r Rule) rights() landlock.AccessFSSet {
	if r.Access == LS {
		return landlock.AccessFSSet(readDir)
	}
	var s uint64 = readFile
	if r.Dir {
		s |= readDir
	}
	switch r.Access {
	case ROX:
		s |= execute
	case RW:
		s |= writeFile
		if r.Dir {
			s |= writeDir
		}
	case RWX:
		s |= writeFile | execute
		if r.Dir {
			s |= writeDir
		}
	}
	if r.Dev {
		s |= ll.AccessFSIoctlDev
	}
	return landlock.AccessFSSet(s)
}

// landlockRules builds the single ruleset: filesystem, network and, through
// the config, the IPC scopes. One ruleset, never layers: separate layers
// break rename and link across directories (refer) and lose the scopes.
func (p *Policy) landlockRules() (landlock.Config, []landlock.Rule, error) {
	if p.ABI < 1 || p.ABI >= len(landlockConfigs) {
		return landlock.Config{}, nil, fmt.Errorf("bug: no Landlock config for ABI %d", p.ABI)
	}
	cfg := landlockConfigs[p.ABI]
	handled := cfg.HandledAccessFS
	var rules []landlock.Rule
	for _, r := range p.Rules {
		rules = append(rules, landlock.PathAccess(r.rights()&handled, r.Path).IgnoreIfMissing())
	}
	if p.ABI >= 10 {
		// Landlock restricts UDP from ABI 10: "allow" leaves it unhandled,
		// "dns" allows sending to port 53 from an ephemeral port, "deny"
		// adds no rule.
		const udp = ll.AccessNetBindUDP | ll.AccessNetConnectSendUDP
		switch p.UDP {
		case "allow":
			cfg.HandledAccessNet &^= udp
		case "dns":
			rules = append(rules, landlock.BindUDP(0), landlock.ConnectSendUDP(53))
		}
	}
	if p.ABI >= 4 {
		for _, port := range p.Connect {
			rules = append(rules, landlock.ConnectTCP(uint16(port.Port)))
		}
		for _, port := range p.Bind {
			rules = append(rules, landlock.BindTCP(uint16(port.Port)))
		}
	}
	return cfg, rules, nil
}

// restrictLandlock applies the ruleset to every thread of this process.
func (p *Policy) restrictLandlock() error {
	cfg, rules, err := p.landlockRules()
	if err != nil {
		return err
	}
	if err := cfg.Restrict(rules...); err != nil {
		return fmt.Errorf("applying Landlock ruleset (ABI %d): %w", p.ABI, err)
	}
	return nil
}
