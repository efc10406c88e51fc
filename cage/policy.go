package cage

import (
	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/proxy"
)

// Policy is the compiled cage: everything the starting thread needs to lock
// itself down and exec the command, and everything `aicage status` shows.
// It is a plain value, recorded as JSON in the private home for status.
type Policy struct {
	ABI        int  // the Landlock ABI to use (the kernel's, capped at what aicage knows)
	BestEffort bool // protections the kernel lacks are dropped, not refused
	NoSeccomp  bool // the filter was dropped (--best-effort on an unknown architecture)

	Root     string // project root
	StateDir string
	Home     string // the private home
	TmpDir   string
	RealHome string
	Profile  string

	Rules   []Rule // filesystem grants, paths resolved, files told from directories
	Connect []Port // TCP connect ports
	Bind    []Port // TCP bind ports
	UDP     string // "deny" | "dns" | "allow"

	// Hardlinks is [filesystem] hardlinks, applied at entry ("" is "refuse").
	Hardlinks string `json:",omitempty"`
	// Broker is what the connect broker allows; nil leaves connections to
	// Landlock's port rules alone.
	Broker *broker.Policy `json:",omitempty"`
	// Egress is the proxy mode's allowlist; nil in direct mode.
	Egress *Egress `json:",omitempty"`
	// Credentials are injected by the supervisor's endpoint.
	Credentials []Credential `json:",omitempty"`

	Argv []string // argv[0] is the resolved program
	Dir  string   // working directory inside the cage
	Env  []string

	HomeCopy []CopyOp // copied into the private home at each entry
	HomeLink []LinkOp // symlinked into the private home
	Protect  []string // extra protected paths, absolute

	Skipped []Skipped // grants that were not applied, with why

	Packages []Package `json:",omitempty"` // [exec] packages with their closures, for status
}

// Credential is one [credentials.NAME] as configured; the secret itself is
// read at entry by the caller and never enters a Policy.
type Credential struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Upstream    string `json:"upstream"`
	UpstreamEnv string `json:"upstream_env,omitempty"`
	Header      string `json:"header"`
	BaseURLEnv  string `json:"base_url_env"`
	KeyEnv      string `json:"key_env"`
}

// Egress is [network] egress = "proxy": the cage reaches the outside only
// through the supervisor's proxy, for these names.
type Egress struct {
	Domains []proxy.Domain `json:"domains"`
}

// Rule grants Access on one path; LS (listing a directory, no file in it)
// exists for /etc, which is granted entry by entry.
type Rule struct {
	Path   string `json:"path"`
	Access Access `json:"access"`
	Dir    bool   `json:"dir"`
	Dev    bool   `json:"dev"` // device ioctls allowed (terminals only)
	// NoRefer withholds rename and link across directories (Landlock's
	// refer right) from a writable directory.
	NoRefer bool   `json:"no_refer,omitempty"`
	Source  string `json:"source"`
	// Beneath, when set, is the project root this path lies in and must be
	// reached from without following any symlink: the cage can write
	// there, so a symlink it planted (.aicage/state/home → the real home)
	// must never widen the next session's grants.
	Beneath string `json:"beneath,omitempty"`
}

// CopyOp copies a real file or directory into the private home.
type CopyOp struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source"`
}

// LinkOp makes Link (in the private home) a symlink to Target (a real path).
type LinkOp struct {
	Target string `json:"target"`
	Link   string `json:"link"`
	Source string `json:"source"`
}

// Skipped is a configured grant that was not applied.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}
