package project

import (
	"github.com/aicage/aicage/cage"
	"path/filepath"
	"sort"
	"strings"
)

// Host is what the project package knows of the machine outside the cage.
// Everything is passed in, so that tests can hand it fake homes.
type Host struct {
	Home       string   // the real home: "~" and "$ORIG_HOME" expand to it
	Cwd        string   // the working directory aicage was started in
	Env        []string // the outside environment, KEY=VALUE
	ConfigHome string   // $XDG_CONFIG_HOME, default ~/.config
	DataHome   string   // $XDG_DATA_HOME, default ~/.local/share
	StateHome  string   // $XDG_STATE_HOME, default ~/.local/state
	Self       string   // the aicage binary (optional): never writable from a cage
}

// NewHost fills the XDG directories from env, with the XDG defaults under
// home; relative XDG values are ignored, as the XDG spec says.
func NewHost(home, cwd string, env []string) Host {
	xdg := func(name, def string) string {
		if v := lookupEnv(env, name); filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
		return filepath.Join(home, def)
	}
	return Host{
		Home:       filepath.Clean(home),
		Cwd:        cwd,
		Env:        env,
		ConfigHome: xdg("XDG_CONFIG_HOME", ".config"),
		DataHome:   xdg("XDG_DATA_HOME", ".local/share"),
		StateHome:  xdg("XDG_STATE_HOME", ".local/state"),
	}
}

// AicageDirs returns aicage's own directories: user profiles live under
// config, the trust store under data, state and snapshots under state.
// None of them may ever be granted to a cage.
func (h Host) AicageDirs() (config, data, state string) {
	return filepath.Join(h.ConfigHome, "aicage"), filepath.Join(h.DataHome, "aicage"), filepath.Join(h.StateHome, "aicage")
}

// TrustDir is the trust store.
func (h Host) TrustDir() string { return filepath.Join(h.DataHome, "aicage", "trust") }

// ProfilesDir holds the user's profiles, one NAME.toml each.
func (h Host) ProfilesDir() string { return filepath.Join(h.ConfigHome, "aicage", "profiles") }

// lookupEnv finds name in env; the last entry wins, as in execve.
func lookupEnv(env []string, name string) string {
	v, _ := lookupEnvOK(env, name)
	return v
}

func lookupEnvOK(env []string, name string) (string, bool) {
	v, found := "", false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v, found = val, true
		}
	}
	return v, found
}

func expand(p, home, root string) string { return cage.Expand(p, home, root) }

func within(p, dir string) bool { return cage.Within(p, dir) }

func tilde(p, home string) string { return cage.Tilde(p, home) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
