package cage

// # Nix packages
//
// [exec] packages lists Nix store paths, symlinks into the store (a profile
// such as ~/.nix-profile, a `result` link) and installables (nixpkgs#ripgrep,
// .#tool, tools.nix#rg). ResolvePackages runs the nix CLI outside the cage,
// before Compile, and turns each entry into its store paths and their
// closure; Compile, still pure, grants every path of the closures
// read+execute and the store itself read-only, so the rest of the store can
// be read but not run. With [exec] system = false (strict mode) nothing else
// executes: not /usr, not the project, not the private home, not $TMPDIR.
//
// Closures are cached under Host.StateDir/nix, keyed by store path, which
// Compile never grants: store paths are immutable, so a store path's closure
// is asked of nix once. Installables are evaluated at each entry (what
// `.#tool` means changes with the project); only their closures are cached.
//
// # Limitations
//
// aicage evaluates installables but never builds or fetches them: a builder
// would run outside the cage, and `.#tool` is the project's own flake, which
// the cage can edit. For the same reason a package that comes from the
// project (`.#tool`, a `result` link in it) is chosen by whatever last ran
// in the cage.
//
// Landlock's execute right governs execve and the ELF interpreter execve
// loads, not mmap(PROT_EXEC): a dynamic loader inside a closure (glibc's
// ld-linux is in nearly every nixpkgs closure) can still load and run any
// readable program, as in `ld-linux-x86-64.so.2 /usr/bin/curl`. Strict mode
// keeps ordinary tools to the closures, like a strict Nix sandbox's PATH; it
// is not a wall against code set on running something else.

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Package is one [exec] packages entry: as written, and once
// ResolvePackages has run, the store paths it stands for and their closure.
type Package struct {
	Entry  string `json:"entry"`  // as written in the config
	Source string `json:"source"` // "config", "command x", "profile y"
	// Paths are the store paths the entry resolves to: one for a path, one
	// per output for an installable.
	Paths   []string `json:"paths,omitempty"`
	Closure []string `json:"closure,omitempty"` // every store path Paths reference, themselves included, sorted
	Size    int64    `json:"size,omitempty"`    // the closure's size in bytes (NAR size)
}

// Resolved reports whether ResolvePackages has filled in the closure.
func (p Package) Resolved() bool { return len(p.Closure) > 0 }

// Nix runs the nix CLI for ResolvePackages; tests replace it.
type Nix interface {
	// Run runs the program name ("nix" or "nix-store") with args in dir and
	// returns its standard output.
	Run(dir, name string, args ...string) ([]byte, error)
}

// NixMissingError is a nix program that is not on PATH.
type NixMissingError struct{ Name string }

func (e *NixMissingError) Error() string { return e.Name + " is not on PATH" }

// NixError is a nix command that failed; Stderr holds what it said.
type NixError struct {
	Stderr string
	Err    error
}

// Error is nix's own error lines, else how the command ended.
func (e *NixError) Error() string {
	var lines []string
	for _, l := range strings.Split(e.Stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "error:") || len(lines) > 0 && l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return e.Err.Error()
	}
	msg := strings.Join(lines, " ")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return msg
}

// PackageError is an [exec] packages entry that cannot be used.
type PackageError struct {
	Entry, Source string
	Why, Advice   string
}

func (e *PackageError) Error() string {
	return fmt.Sprintf("[exec] packages: %s (%s) %s", e.Entry, e.Source, e.Why)
}

// Hint says what to do.
func (e *PackageError) Hint() string { return e.Advice }

// ResolvePackages turns spec.Packages into store paths and closures, asking
// nix what it must and the cache under host.StateDir/nix what it may. It
// runs before Compile and outside the cage.
func ResolvePackages(spec Spec, host Host, nix Nix) ([]Package, error) {
	if len(spec.Packages) == 0 {
		return nil, nil
	}
	if host.FS == nil {
		host.FS = OSFS{}
	}
	r := &resolver{root: spec.Root, home: host.Home, store: storeDir(host.Env), fs: host.FS, nix: nix}
	if host.StateDir != "" {
		r.cache = filepath.Join(host.StateDir, "nix")
	}
	out := make([]Package, 0, len(spec.Packages))
	for _, p := range spec.Packages {
		rp, err := r.resolve(p)
		if err != nil {
			return nil, err
		}
		out = append(out, rp)
	}
	return out, nil
}

// storeDir is where nix keeps the store, found the way nix finds it.
func storeDir(env []string) string {
	for _, name := range []string{"NIX_STORE_DIR", "NIX_STORE"} {
		if d := getenv(env, name); filepath.IsAbs(d) {
			return filepath.Clean(d)
		}
	}
	return "/nix/store"
}

type resolver struct {
	root, home string
	store      string // the store directory as nix names it
	cache      string // "" for none
	fs         FS
	nix        Nix
}

func (r *resolver) resolve(p Package) (Package, error) {
	var err error
	if args := r.installable(p.Entry); args != nil {
		p.Paths, err = r.evaluate(p, args)
	} else {
		p.Paths, err = r.storePath(p)
	}
	if err != nil {
		return p, err
	}
	sizes := map[string]int64{}
	for _, top := range p.Paths {
		c, err := r.closure(top)
		if err != nil {
			return p, r.nixFailed(p, err, "does not resolve",
				"check the store with 'nix-store --verify-path "+top+"'")
		}
		for _, e := range c {
			sizes[e.Path] = e.Size
		}
	}
	p.Closure, p.Size = nil, 0
	for path, size := range sizes {
		p.Closure = append(p.Closure, path)
		p.Size += size
	}
	sort.Strings(p.Closure)
	return p, nil
}

// installable returns nix path-info's arguments for an entry that is an
// installable, nil for one that is a path: "FILE.nix#ATTR" and "FILE.nix"
// are Nix files, anything else with "#" is a flake reference, and a bare
// word that names nothing in the project (nixpkgs, github:o/r) is one too.
func (r *resolver) installable(entry string) []string {
	if file, attr, ok := cutLast(entry, "#"); ok {
		if strings.HasSuffix(file, ".nix") {
			return []string{"--file", expand(file, r.home, r.root), attr}
		}
		return []string{entry}
	}
	if strings.HasSuffix(entry, ".nix") {
		return []string{"--file", expand(entry, r.home, r.root)}
	}
	for _, prefix := range []string{"/", "~", "$ORIG_HOME", "./", "../"} {
		if strings.HasPrefix(entry, prefix) {
			return nil
		}
	}
	if _, err := r.fs.Lstat(expand(entry, r.home, r.root)); err == nil {
		return nil
	}
	return []string{entry}
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// storePath finds the store path an entry that is a path lies in,
// following links (profiles, result).
func (r *resolver) storePath(p Package) ([]string, error) {
	real, err := r.fs.EvalSymlinks(expand(p.Entry, r.home, r.root))
	if err != nil {
		return nil, &PackageError{p.Entry, p.Source, "does not exist",
			"build it (nix build, nix-env -i), fix the path, or remove the entry"}
	}
	top := r.top(real)
	if top == "" {
		return nil, &PackageError{p.Entry, p.Source, "is not in the Nix store (" + r.store + ")",
			"list a store path, a link into the store such as ~/.nix-profile or result, or an installable such as nixpkgs#ripgrep"}
	}
	return []string{top}, nil
}

// top returns the store path p lies in, as nix names it, or "".
func (r *resolver) top(p string) string {
	stores := []string{r.store}
	if real, err := r.fs.EvalSymlinks(r.store); err == nil && real != r.store {
		stores = append(stores, real)
	}
	for _, s := range stores {
		rest, ok := strings.CutPrefix(p, s+"/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if name != "" && !strings.HasPrefix(name, ".") {
			return r.store + "/" + name
		}
	}
	return ""
}

// nixArgs are the options of every nix (not nix-store) call: the CLI is
// still experimental in Nix 2.x, and evaluation must not build anything
// (import from derivation runs a builder outside the cage).
var nixArgs = []string{
	"--extra-experimental-features", "nix-command flakes",
	"--option", "allow-import-from-derivation", "false",
}

// evaluate asks nix for an installable's output paths; they must exist
// already, since aicage never builds.
func (r *resolver) evaluate(p Package, args []string) ([]string, error) {
	cmd := append(append(append([]string(nil), nixArgs...), "path-info", "--no-write-lock-file"), args...)
	out, err := r.nix.Run(r.root, "nix", cmd...)
	if err != nil {
		var ne *NixError
		if errors.As(err, &ne) && strings.Contains(ne.Stderr, "is not valid") {
			return nil, &PackageError{p.Entry, p.Source, "is not built: " + err.Error(),
				"build it outside the cage first, e.g. 'nix build " + p.Entry + "'; aicage evaluates installables but never builds them"}
		}
		return nil, r.nixFailed(p, err, "does not evaluate",
			"check it with 'nix path-info "+p.Entry+"' (nix-command and flakes enabled)")
	}
	paths := fields(out)
	if len(paths) == 0 {
		return nil, &PackageError{p.Entry, p.Source, "evaluates to no store path", "check it with 'nix path-info " + p.Entry + "'"}
	}
	for _, sp := range paths {
		if r.top(sp) != sp {
			return nil, &PackageError{p.Entry, p.Source, "evaluates to " + sp + ", which is not a store path in " + r.store,
				"check it with 'nix path-info " + p.Entry + "'"}
		}
	}
	return paths, nil
}

func (r *resolver) nixFailed(p Package, err error, why, hint string) error {
	var nm *NixMissingError
	if errors.As(err, &nm) {
		return &PackageError{p.Entry, p.Source, "needs " + nm.Name + ", which is not on PATH",
			"install Nix (Debian: apt-get install nix-bin) and put it on PATH, or remove the entry"}
	}
	return &PackageError{p.Entry, p.Source, why + ": " + err.Error(), hint}
}

func fields(b []byte) []string { return strings.Fields(string(b)) }
