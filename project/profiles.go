package project

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultProfile is used when the config names none, and without a config.
const DefaultProfile = "aiAgent"

func ptr[T any](v T) *T { return &v }

// builtins are the profiles aicage ships. Every later layer adds to their
// lists; none can take an entry away.
var builtins = map[string]*ProfileDef{
	"offline": {Sections: Sections{
		Network: Network{UDP: ptr("deny")},
		SSH:     SSH{Agent: ptr(false)},
	}},
	"aiAgent": {Sections: Sections{
		Network: Network{Connect: []int{443, 22}, UDP: ptr("dns")},
		SSH:     SSH{Agent: ptr(true)},
	}},
	"devNet": {Extends: "aiAgent", Sections: Sections{
		// Local dev servers: this machine's loopback on the connect ports
		// (the connect broker refuses loopback unless listed).
		Network: Network{Connect: []int{80, 3000, 5000, 8080}, Bind: []int{3000, 5000, 8000, 8080},
			Hosts: []string{"127.0.0.1", "::1"}},
	}},
}

// BuiltinProfiles lists the built-in profiles, strictest first.
func BuiltinProfiles() []string { return []string{"offline", "aiAgent", "devNet"} }

func isBuiltin(name string) bool { _, ok := builtins[name]; return ok }

// layer is one set of sections merged into the result, with where it came
// from: a profile, the config's top level, or a command.
type layer struct {
	source string // "profile aiAgent", "config", "command claude", …
	w      where  // where its values were written; zero for built-ins
	s      *Sections
}

// chain resolves a profile and everything it extends, base first. ref is
// where the name was asked for; errors point there.
func chain(cfg *Config, h Host, name string, ref loc) ([]layer, error) {
	var layers []layer
	var seen []string
	for name != "" {
		if i := indexOf(seen, name); i >= 0 {
			cycle := strings.Join(append(seen[i:], name), " → ")
			return nil, ref.errorf("remove one of the extends in the cycle", "extends cycle: %s", cycle)
		}
		seen = append(seen, name)
		l, extends, at, err := lookupProfile(cfg, h, name, ref)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
		name, ref = extends, at
	}
	for i, j := 0, len(layers)-1; i < j; i, j = i+1, j-1 {
		layers[i], layers[j] = layers[j], layers[i]
	}
	return layers, nil
}

// lookupProfile finds one profile: in the config's [profiles], among the
// built-ins, or in the user's profiles directory, in that order.
func lookupProfile(cfg *Config, h Host, name string, ref loc) (layer, string, loc, error) {
	if cfg != nil {
		if p, ok := cfg.Profiles[name]; ok {
			w := where{file: cfg.File, pos: cfg.pos, prefix: []string{"profiles", name}}
			return layer{source: "profile " + name, w: w, s: &p.Sections}, p.Extends, w.at("extends"), nil
		}
	}
	file := filepath.Join(h.ProfilesDir(), name+".toml")
	if p, ok := builtins[name]; ok {
		if _, err := os.Lstat(file); err == nil {
			return layer{}, "", loc{}, &Error{File: file, Msg: fmt.Sprintf("profile %s is built in and cannot be redefined", name), Hint: "rename the file and extend the built-in with extends = \"" + name + "\""}
		}
		return layer{source: "profile " + name, s: &p.Sections}, p.Extends, loc{key: "built-in profile " + name}, nil
	}
	if !validName(name) {
		return layer{}, "", loc{}, ref.errorf("", "%q is not a valid profile name", name)
	}
	p, pos, err := readUserProfile(file)
	if isNotExist(err) {
		known := availableProfiles(cfg, h)
		return layer{}, "", loc{}, ref.errorf(
			fmt.Sprintf("profiles here: %s; or create %s", strings.Join(known, ", "), tilde(file, h.Home)),
			"unknown profile %q%s", name, didYouMean(name, known))
	}
	if err != nil {
		return layer{}, "", loc{}, err
	}
	w := where{file: file, pos: pos}
	src := fmt.Sprintf("profile %s (from %s)", name, tilde(file, h.Home))
	return layer{source: src, w: w, s: &p.Sections}, p.Extends, w.at("extends"), nil
}

// readUserProfile strictly decodes a user profile file. Unlike a project's
// config it may be a symlink (dotfile managers make them): it lives where
// no cage can write.
func readUserProfile(file string) (*ProfileDef, *positions, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, nil, &Error{File: file, Msg: "is not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(data) > maxConfigSize {
		return nil, nil, &Error{File: file, Msg: fmt.Sprintf("is larger than %d bytes", maxConfigSize)}
	}
	var p ProfileDef
	pos, err := decodeStrict(file, data, &p)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSections(where{file: file, pos: pos}, &p.Sections); err != nil {
		return nil, nil, err
	}
	return &p, pos, nil
}

// AvailableProfiles lists every profile name that could be used here, cfg
// (nil without a config) included: the built-ins strictest first, the
// config's, then the user's profile files.
func AvailableProfiles(cfg *Config, h Host) []string { return availableProfiles(cfg, h) }

// availableProfiles lists every profile name that could be used here.
func availableProfiles(cfg *Config, h Host) []string {
	names := BuiltinProfiles()
	if cfg != nil {
		names = append(names, sortedKeys(cfg.Profiles)...)
	}
	entries, _ := os.ReadDir(h.ProfilesDir())
	var user []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && validName(n) && !contains(names, n) {
			user = append(user, n)
		}
	}
	sort.Strings(user)
	return append(names, user...)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
