package cage

import "fmt"

// RequiredABI is the lowest Landlock ABI that gives every protection aicage
// promises by default: filesystem, TCP ports (4), device ioctls (5), and the
// signal and abstract-socket scopes (6). Below it aicage refuses to start
// unless --best-effort is given.
const RequiredABI = 6

// Protection is one thing the cage promises, and whether this kernel keeps
// the promise.
type Protection struct {
	Name     string `json:"name"`
	State    string `json:"state"` // "enforced", "degraded" or "missing"
	Why      string `json:"why,omitempty"`
	MinABI   int    `json:"min_abi,omitempty"`
	Required bool   `json:"required"` // missing ⇒ refuse to start without --best-effort
}

type landlockFeature struct {
	name     string
	abi      int
	required bool
	missing  string // what happens without it
}

var landlockFeatures = []landlockFeature{
	{"filesystem access (read, write, execute)", 1, true, "any file the user can reach is reachable"},
	{"rename and link across directories inside grants", 2, false, "every cross-directory rename is refused (git mv fails)"},
	{"file truncation", 3, true, "read-only files can be truncated"},
	{"TCP connect and bind ports", 4, true, "any TCP port can be reached"},
	{"device ioctls outside terminals", 5, true, "ioctls on granted device files are not restricted"},
	{"signals to processes outside the cage", 6, true, "the cage can signal your other processes"},
	{"abstract unix sockets served outside the cage", 6, true, "the cage can connect to abstract sockets outside"},
	{namedUnixSockets, 9, false, "the cage can connect to any named unix socket it can name (docker, dbus, X11)"},
	{landlockUDP, 10, false, "UDP is limited only by the seccomp filter (deny or allow, not per port)"},
}

// LandlockProtections lists the Landlock-backed protections on a kernel that
// offers abi.
func LandlockProtections(abi int) []Protection {
	var out []Protection
	for _, f := range landlockFeatures {
		p := Protection{Name: f.name, MinABI: f.abi, Required: f.required, State: "enforced"}
		if abi < f.abi {
			p.State = "missing"
			if abi == 0 {
				p.Why = fmt.Sprintf("the kernel has no Landlock; %s", f.missing)
			} else {
				p.Why = fmt.Sprintf("needs Landlock ABI %d, this kernel has %d; %s", f.abi, abi, f.missing)
			}
		}
		out = append(out, p)
	}
	return out
}

// ABIError is a kernel whose Landlock is too old for the cage.
type ABIError struct {
	ABI     int
	Missing []Protection
}

func (e *ABIError) Error() string {
	if e.ABI == 0 {
		return "this kernel has no Landlock: the cage cannot be enforced"
	}
	return fmt.Sprintf("this kernel's Landlock ABI %d lacks %d protections the cage needs (ABI %d): %s",
		e.ABI, len(e.Missing), RequiredABI, e.Missing[0].Name)
}

// Hint says what to do.
func (e *ABIError) Hint() string {
	return "run 'aicage doctor' for details; use a kernel with Landlock ABI 6 or later (Linux 6.12+), or pass --best-effort to run with what this one has"
}

// CheckABI refuses a kernel that lacks a required protection unless
// bestEffort; it returns the protections that will be dropped.
func CheckABI(abi int, bestEffort bool) ([]Protection, error) {
	var missing []Protection
	for _, p := range LandlockProtections(abi) {
		if p.State != "enforced" && p.Required {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && !bestEffort {
		return nil, &ABIError{ABI: abi, Missing: missing}
	}
	return missing, nil
}

// landlockGaps are what Landlock does not restrict on any ABI aicage knows,
// and nothing unprivileged closes: said plainly rather than implied away.
var landlockGaps = []Protection{
	{Name: "file metadata outside the grants (chmod, utimes, xattrs of your own files)", State: "missing",
		Why: "Landlock does not restrict metadata changes; contents stay unreadable and unwritable"},
}

// supervisorProtections are kept by the command's set-up and the supervisor,
// on any kernel that has Landlock at all.
var supervisorProtections = []Protection{
	{Name: "processes left behind are killed when the command exits (child subreaper)", State: "enforced"},
	{Name: "the command is killed if the supervisor is killed", State: "degraded",
		Why: "the command gets SIGKILL (parent-death signal), but processes it started are adopted by init and live on"},
	{Name: "the supervisor cannot be traced, read (/proc/PID/environ, mem) or signalled from inside", State: "enforced",
		Why: "the supervisor is not dumpable, and the seccomp filter refuses signals to its thread in the cage's domain"},
	{Name: "file descriptors inherited from outside are closed before exec", State: "enforced"},
	{Name: "capabilities dropped, also when run as root (bounding set, securebits)", State: "enforced"},
	{Name: "no_new_privs: setuid and file-capability binaries gain nothing", State: "enforced"},
	{Name: "environment starts empty ([env] pass names what crosses)", State: "enforced"},
	{Name: "git hooks, git config keys that run programs, .git/info and [protect] paths restored when changed from inside", State: "enforced"},
	{Name: "files in the writable trees hard-linked from outside (pnpm's store, uv's cache, cp -al) refused at entry ([filesystem] hardlinks)", State: "degraded",
		Why: "a link made from outside to a file the last walk saw alone is found by the next full walk (within 24 hours, or 'aicage unlink-hardlinks'); /tmp is not checked"},
	{Name: "new git repositories made inside the project (git init in a subdirectory, clones)", State: "missing",
		Why: "only the git dirs present at entry are guarded; run git in them outside with care"},
}

// Names of the protections the connect broker keeps.
const (
	namedUnixSockets = "named unix sockets outside the grants"
	landlockUDP      = "UDP ports"
	brokerAddresses  = "TCP and UDP to loopback, LAN and link-local addresses (the cloud metadata service) unless listed in [network] hosts"
	brokerListen     = "listening on an ephemeral TCP port (listen() without bind())"
)

// brokerProtections are what the connect broker keeps when it runs
// (brokered), and what is open without it.
func brokerProtections(abi int, brokered bool) []Protection {
	if brokered {
		return []Protection{
			{Name: brokerAddresses, State: "enforced", Why: "brokered: the supervisor judges every connect and addressed send (seccomp user notification)"},
			{Name: brokerListen, State: "enforced", Why: "brokered: listen() on a socket with no bound port is refused"},
		}
	}
	why := "no connect broker (it needs the seccomp filter, seccomp user notification and pidfd_getfd, Linux 5.6+)"
	return []Protection{
		{Name: brokerAddresses, State: "missing", Why: why + "; Landlock's port rules know no addresses"},
		{Name: brokerListen, State: "missing", Why: why + "; Landlock checks bind(), not the kernel's autobind on listen(): a caged server can accept inbound connections on a random port"},
	}
}

// Protections lists every protection and its state on a kernel offering
// abi, for a policy whose UDP setting is udp, with or without the connect
// broker.
func Protections(abi int, udp string, brokered bool) []Protection {
	out := LandlockProtections(abi)
	for i := range out {
		if !brokered || out[i].State == "enforced" {
			continue
		}
		switch out[i].Name {
		case namedUnixSockets:
			out[i].State, out[i].Why = "enforced", "brokered: the supervisor judges every connect and addressed send (seccomp user notification)"
		case landlockUDP:
			out[i].State, out[i].Why = "enforced", "brokered: the supervisor judges every UDP destination ([network] udp)"
		}
	}
	out = append(out, brokerProtections(abi, brokered)...)
	out = append(out, seccompProtections(abi, udp, brokered)...)
	out = append(out, supervisorProtections...)
	if abi > 0 {
		out = append(out, landlockGaps...)
	}
	return out
}
