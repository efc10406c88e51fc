package cage

import (
	"fmt"
	"path/filepath"
)

// shellRCFiles are files under the real home that a shell runs at start-up:
// a grant on one of them plants code that runs outside the cage.
var shellRCFiles = []string{
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout",
	".config/fish", ".inputrc", ".xprofile", ".xinitrc",
}

// sensitive lists the paths no grant may be, lie in or contain.
type sensitivePath struct {
	path     string
	why      string
	liftable bool // dangerously_allow may lift the refusal
}

func (h *Host) sensitive() []sensitivePath {
	type s = sensitivePath
	out := []s{
		{filepath.Join(h.Home, ".ssh"), "holds your SSH keys", true},
		{filepath.Join(h.Home, ".gnupg"), "holds your GnuPG keys", true},
	}
	for _, f := range shellRCFiles {
		out = append(out, s{filepath.Join(h.Home, f), "runs at shell start-up, outside the cage", true})
	}
	if h.ConfigDir != "" {
		out = append(out, s{h.ConfigDir, "is aicage's own configuration", true})
	}
	if h.DataDir != "" {
		out = append(out, s{h.DataDir, "holds aicage's trust store", false})
	}
	if h.StateDir != "" {
		out = append(out, s{h.StateDir, "holds aicage's integrity snapshots", false})
	}
	return out
}

// RefusedError is a grant that would make the cage meaningless.
type RefusedError struct {
	Path, Why, Source string
	Liftable          bool
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to grant %s (%s): it %s", e.Path, e.Source, e.Why)
}

// Hint says what the user can do.
func (e *RefusedError) Hint() string {
	if e.Liftable {
		return "remove it, or list it under [filesystem] dangerously_allow if you really mean it"
	}
	return "remove it: this path is never granted"
}

// refusal checks one resolved grant; allowed holds dangerously_allow,
// expanded and resolved.
func (h *Host) refusal(p, source string, allowed map[string]bool) error {
	display := tilde(p, h.Home)
	if p == "/" {
		return &RefusedError{display, "is the whole filesystem", source, false}
	}
	if within(h.Home, p) {
		if allowed[p] {
			return nil
		}
		return &RefusedError{display, "is or contains your whole home directory", source, true}
	}
	for _, s := range h.sensitive() {
		if !within(p, s.path) && !within(s.path, p) {
			continue
		}
		if s.liftable && allowed[p] {
			continue
		}
		what := "is or lies in " + tilde(s.path, h.Home) + ", which " + s.why
		if within(s.path, p) && s.path != p {
			what = "contains " + tilde(s.path, h.Home) + ", which " + s.why
		}
		return &RefusedError{display, what, source, s.liftable}
	}
	return nil
}
