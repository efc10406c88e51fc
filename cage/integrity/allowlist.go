package integrity

import (
	"strings"
)

// The allowlist of git config keys the cage may change. Everything else is
// forbidden: a forbidden key that is added is removed, one that is changed
// or removed gets its snapshot values back. The list holds what git itself
// writes during ordinary work (clone, remote, branch, push -u, submodule,
// sparse-checkout, maintenance, gh) plus a few keys that only hold data.
// It is an allowlist on purpose: git keeps adding keys that run programs
// (gc.recentObjectsHook is a recent one), and a denylist would miss the next.
//
// Keys are written "section.key" or "section.*.key", where "*" stands for any
// non-empty subsection. A check, when present, judges each new value.
var allowedKeys = map[string]valueCheck{
	// Written by git init and clone, and by sparse-checkout: flags only.
	// core.worktree is not here: it points checkouts at any directory, and
	// a later "git checkout" outside would write files there.
	"core.repositoryformatversion": nil,
	"core.filemode":                nil,
	"core.bare":                    nil,
	"core.logallrefupdates":        nil,
	"core.ignorecase":              nil,
	"core.precomposeunicode":       nil,
	"core.symlinks":                nil,
	"core.sparsecheckout":          nil,
	"core.sparsecheckoutcone":      nil,
	"index.sparse":                 nil,
	// Line endings: data, often set per repository.
	"core.autocrlf": nil,
	"core.eol":      nil,
	"core.safecrlf": nil,

	// Read when the repository is opened: only the extensions git knows,
	// none of which names a program. worktreeconfig makes git read
	// config.worktree, which is protected like config.
	"extensions.objectformat":       nil,
	"extensions.compatobjectformat": nil,
	"extensions.partialclone":       remoteRef,
	"extensions.preciousobjects":    nil,
	"extensions.refstorage":         nil,
	"extensions.worktreeconfig":     nil,
	"extensions.noop":               nil,
	"extensions.noop-v1":            nil,

	// Identity and everyday preferences: data.
	"user.name":            nil,
	"user.email":           nil,
	"author.name":          nil,
	"author.email":         nil,
	"committer.name":       nil,
	"committer.email":      nil,
	"init.defaultbranch":   nil,
	"pull.rebase":          nil,
	"pull.ff":              nil,
	"push.default":         nil,
	"push.autosetupremote": nil,
	"fetch.prune":          nil,
	"maintenance.auto":     nil,
	"maintenance.strategy": nil,
	"advice.*":             nil, // every advice.* key is a boolean

	// git remote, clone, fetch --filter, gh repo set-default.
	"remote.pushdefault":          remoteRef,
	"remote.*.url":                networkURL,
	"remote.*.pushurl":            networkURL,
	"remote.*.fetch":              nil,
	"remote.*.push":               nil,
	"remote.*.tagopt":             nil,
	"remote.*.mirror":             nil,
	"remote.*.prune":              nil,
	"remote.*.skipdefaultupdate":  nil,
	"remote.*.skipfetchall":       nil,
	"remote.*.promisor":           nil,
	"remote.*.partialclonefilter": nil,
	"remote.*.gh-resolved":        nil,

	// git branch -u, push -u, checkout --track, branch --edit-description.
	"branch.*.remote":      remoteRef,
	"branch.*.pushremote":  remoteRef,
	"branch.*.merge":       nil,
	"branch.*.rebase":      nil,
	"branch.*.description": nil,

	// git submodule add, init, sync, deinit.
	"submodule.*.url":    networkURL,
	"submodule.*.active": nil,
	"submodule.*.update": submoduleUpdate,
	"submodule.active":   nil,
	"submodule.recurse":  nil,
}

// remoteRefKeys name a remote; they are judged after the URLs, against the
// remotes that survive.
var remoteRefKeys = map[string]bool{
	"remote.pushdefault":      true,
	"branch.*.remote":         true,
	"branch.*.pushremote":     true,
	"extensions.partialclone": true,
}

// valueCheck judges a value of an allowed key that the snapshot did not
// have for that key.
type valueCheck func(v cfgValue, j *judgement) bool

// keyPattern is the allowlist spelling of a full key name: "remote.*.url"
// for "remote.origin.url", "advice.*" for "advice.detachedhead". An empty
// subsection ("core..fsmonitor") matches nothing.
func keyPattern(name string) string {
	section, rest, ok := strings.Cut(name, ".")
	if !ok || section == "" || rest == "" {
		return ""
	}
	i := strings.LastIndexByte(rest, '.')
	switch {
	case i < 0 && section == "advice":
		return "advice.*"
	case i < 0:
		return name
	case i == 0:
		return ""
	}
	return section + ".*." + rest[i+1:]
}

// allowedKey finds the allowlist entry for a full key name.
func allowedKey(name string) (valueCheck, bool) {
	c, ok := allowedKeys[keyPattern(name)]
	return c, ok
}

func isURLKey(name string) bool {
	return (strings.HasPrefix(name, "remote.") || strings.HasPrefix(name, "submodule.")) &&
		(strings.HasSuffix(name, ".url") || strings.HasSuffix(name, ".pushurl"))
}

// networkURL accepts URLs that reach another machine through a transport
// built into git, and URLs the snapshot already had. It refuses local paths
// and file:// (pushing to a local repository runs that repository's hooks,
// which the cage can write), ext:: and fd:: and every "<helper>::" or
// unknown scheme (each runs a program named git-remote-<helper>).
func networkURL(v cfgValue, j *judgement) bool {
	return !v.noValue && (j.oldURLs[v.v] || isNetworkURL(v.v))
}

func isNetworkURL(u string) bool {
	if u == "" || strings.HasPrefix(u, "-") {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] < 0x20 || u[i] == 0x7f {
			return false
		}
	}
	if i := strings.Index(u, "::"); i >= 0 && !strings.Contains(u[:i], "/") {
		if j := strings.Index(u, "://"); j < 0 || i < j {
			return false // <helper>::<address>
		}
	}
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		switch strings.ToLower(scheme) {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
			host := rest
			if at := strings.LastIndexByte(strings.SplitN(rest, "/", 2)[0], '@'); at >= 0 {
				host = rest[at+1:]
			}
			return host != "" && !strings.HasPrefix(host, "-") && !strings.HasPrefix(host, "/")
		}
		return false
	}
	// scp-like "[user@]host:path": a colon with no slash before it.
	colon := strings.IndexByte(u, ':')
	if colon <= 0 || strings.ContainsAny(u[:colon], "/[]") {
		return false
	}
	host := u[:colon]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	return host != "" && !strings.HasPrefix(host, "-")
}

// remoteRef accepts "." (this repository), a remote the file defines with a
// URL, a network URL, or a value the snapshot had. Anything else git would
// take as a path or URL: "branch.main.remote = ../evil.git" makes every
// push run ../evil.git's hooks.
func remoteRef(v cfgValue, j *judgement) bool {
	if v.noValue {
		return false
	}
	if v.v == "." || isNetworkURL(v.v) {
		return true
	}
	return validRemoteNick(v.v) && j.remotes[v.v]
}

func validRemoteNick(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\")
}

// submoduleUpdate refuses "!command", which git submodule update runs.
func submoduleUpdate(v cfgValue, _ *judgement) bool {
	switch v.v {
	case "checkout", "rebase", "merge", "none":
		return !v.noValue
	}
	return false
}
