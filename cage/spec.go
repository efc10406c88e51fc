package cage

import (
	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/proxy"
)

// Spec is the input of Compile: one project's configuration after the
// project package has decoded it, resolved its profile chain and merged the
// per-command sections. Every list is already merged (baseline lists are
// added by Compile, never by the caller); Sources say where each entry came
// from so that `aicage status` can explain it.
type Spec struct {
	Root     string   // project root, absolute
	StateDir string   // .aicage/state, or $XDG_STATE_HOME/aicage/projects/<id> without a config
	Profile  string   // profile name, exported as AICAGE_PROFILE
	Argv     []string // the command; argv[0] is resolved on the outside PATH by Compile
	Cwd      string   // working directory asked for; Compile keeps it when inside Root
	Shell    bool     // interactive shell (aicage shell)
	// Before are shell commands ([lifecycle] on_create, on_enter) run inside
	// the cage, in order, before the command; the command runs only if they
	// all succeed.
	Before []string

	Paths []PathEntry // [filesystem] ro/rox/rw/rwx from profiles, config and command
	// Hardlinks is [filesystem] hardlinks: what entry does with files in the
	// writable trees that have names outside them ("refuse", "break",
	// "allow"; "" means "refuse").
	Hardlinks string
	// DangerouslyAllow lists paths that may be granted although they would
	// make the cage meaningless (~/.ssh, the real home, ...).
	DangerouslyAllow []string

	HomeCopy []Entry // [home] copy: real path copied into the private home at each entry
	HomeLink []Entry // [home] link: symlinked into the private home and granted rw

	Connect []Port // [network] connect: TCP ports
	Bind    []Port // [network] bind: TCP ports
	UDP     string // "deny" | "dns" | "allow"
	// Unix are [network] unix: socket paths (exact or globs, "~" expanded)
	// the cage may connect to besides its own directories.
	Unix []Entry
	// Hosts are [network] hosts: loopback, LAN and link-local addresses
	// the cage may reach.
	Hosts []broker.HostRule
	// Egress is [network] egress: "proxy" sends every outside connection
	// through the supervisor's proxy, which allows Domains only; "direct"
	// (or "") keeps the port rules.
	Egress  string
	Domains []proxy.Domain
	// Credentials are [credentials.NAME]: keys kept outside the cage.
	Credentials []Credential

	Env      []EnvVar // [env] pass/files/set, resolved by the caller in precedence order (later wins)
	SSHAgent bool     // [ssh] agent: forward $SSH_AUTH_SOCK

	ExecSystem bool // [exec] system: /usr, /bin, /lib… executable
	// Packages are [exec] packages; ResolvePackages fills in their closures
	// before Compile, which grants them (strict mode when !ExecSystem).
	Packages []Package

	Protect []Entry // [protect] paths, relative to Root or absolute

	BestEffort bool // go on when the kernel lacks a protection, reporting each one
}

// Access is a set of filesystem rights as the config spells them.
type Access string

const (
	RO  Access = "ro"
	ROX Access = "rox"
	RW  Access = "rw"
	RWX Access = "rwx"
	// LS lists a directory's names and nothing more; only the baseline uses it.
	LS Access = "ls"
)

// PathEntry is one [filesystem] grant as written: Path may start with "~" or
// "$ORIG_HOME" (the real home) or be relative to the project root.
type PathEntry struct {
	Path   string
	Access Access
	Source string // "profile aiAgent", "config", "command claude", ...
}

// Entry is a path with where it came from.
type Entry struct {
	Path   string
	Source string
}

// Port is a TCP port with where it came from.
type Port struct {
	Port   int    `json:"port"`
	Source string `json:"source"`
}

// EnvVar is one variable for the cage's environment.
type EnvVar struct {
	Name, Value string
	Source      string
}
