package cage

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
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
	if r.NoRefer {
		s &^= ll.AccessFSRefer
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
		if r.Beneath != "" {
			continue // added by fd in landlockRuleset
		}
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

// landlockRuleset builds the ruleset and returns its fd (close-on-exec)
// and the flags for landlock_restrict_self. It may run on any thread: it
// only opens the granted paths.
func (p *Policy) landlockRuleset() (fd int, flags uint32, err error) {
	cfg, rules, err := p.landlockRules()
	if err != nil {
		return -1, 0, err
	}
	fd, flags, err = cfg.NewRulesetFD(rules...)
	if err != nil {
		return -1, 0, fmt.Errorf("building the Landlock ruleset (ABI %d): %w", p.ABI, err)
	}
	for _, r := range p.Rules {
		if r.Beneath == "" {
			continue
		}
		if err := addBeneathRule(fd, r, cfg.HandledAccessFS); err != nil {
			unix.Close(fd)
			return -1, 0, err
		}
	}
	return fd, flags, nil
}

// addBeneathRule opens r.Path from r.Beneath refusing every symlink on the
// way, and adds the rule by that fd, so a symlink the cage planted in its
// own state directory cannot redirect the grant, not even in a race with a
// session already running.
func addBeneathRule(rulesetFD int, r Rule, handled landlock.AccessFSSet) error {
	rel, err := filepath.Rel(r.Beneath, r.Path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("bug: %s is not below %s", r.Path, r.Beneath)
	}
	root, err := unix.Open(r.Beneath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the project root %s: %w", r.Beneath, err)
	}
	defer unix.Close(root)
	dir, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return &StateError{Path: r.Path, Err: err}
	}
	defer unix.Close(dir)
	attr := ll.PathBeneathAttr{AllowedAccess: uint64(r.rights() & handled), ParentFd: dir}
	if err := ll.LandlockAddPathBeneathRule(rulesetFD, &attr, 0); err != nil {
		return fmt.Errorf("adding the Landlock rule for %s: %w", r.Path, err)
	}
	return nil
}

// landlockRestrictThread applies the ruleset to the calling thread only:
// the command is forked from this (locked) thread right after, so
// restricting every Go thread (go-landlock's Restrict, which stops the
// world for each call) would only cost time, and would cage the
// supervisor.
func landlockRestrictThread(fd int, flags uint32) error {
	if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
		return fmt.Errorf("applying the Landlock ruleset: %w", err)
	}
	return nil
}
