package cage

import (
	"fmt"
	"path/filepath"
	"strings"
)

// What Compile does with [exec] packages (see nix.go): grant the closures,
// find commands in the packages' bin/ first, put those on PATH, and in
// strict mode take execute away from everything else.

// strictMode reports whether only the packages' closures may execute.
func (c *compiler) strictMode() bool {
	return !c.spec.ExecSystem && len(c.spec.Packages) > 0
}

// packages grants every store path of every closure read+execute and each
// store directory read-only, and looks argv[0] up in the packages' bin/
// before the outside PATH.
func (c *compiler) packages() error {
	c.p.Packages = c.spec.Packages
	for _, pkg := range c.spec.Packages {
		if !pkg.Resolved() {
			return fmt.Errorf("bug: package %s was not resolved (ResolvePackages runs before Compile)", pkg.Entry)
		}
		src := "package " + pkg.Entry
		for _, sp := range pkg.Closure {
			store := filepath.Dir(sp)
			if err := c.host.refusal(store, src+" (its store)", nil); err != nil {
				return err
			}
			c.addExisting(store, RO, "nix store")
			if !c.addExisting(sp, ROX, src) {
				c.skip(sp, "store path does not exist", src)
			}
		}
	}
	argv := c.spec.Argv
	if len(argv) > 0 && !strings.Contains(argv[0], "/") {
		if p := c.inPackages(argv[0]); p != "" {
			c.spec.Argv = append([]string{p}, argv[1:]...)
		}
	}
	return nil
}

// binDirs are the packages' bin/ directories that exist, in order.
func (c *compiler) binDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	for _, pkg := range c.spec.Packages {
		for _, sp := range pkg.Paths {
			bin := filepath.Join(sp, "bin")
			if fi, err := c.host.FS.Stat(bin); err == nil && fi.IsDir() && !seen[bin] {
				seen[bin] = true
				dirs = append(dirs, bin)
			}
		}
	}
	return dirs
}

// inPackages finds an executable name in the packages' bin/, or "".
func (c *compiler) inPackages(name string) string {
	for _, dir := range c.binDirs() {
		p := filepath.Join(dir, name)
		if fi, err := c.host.FS.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// packagePath puts the packages' bin/ in front of path.
func (c *compiler) packagePath(path string) string {
	dirs := c.binDirs()
	if len(dirs) == 0 {
		return path
	}
	if path == "" {
		return strings.Join(dirs, ":")
	}
	return strings.Join(dirs, ":") + ":" + path
}

// strict takes execute away from every grant outside the closures, except
// aicage itself (one file, so `aicage status` works inside; the kernel cages
// whatever it runs all the same). Grants the config asked to be executable
// are reported as skipped, and so is a command that will not run.
func (c *compiler) strict() {
	if !c.strictMode() {
		return
	}
	keep := map[string]bool{}
	for _, pkg := range c.spec.Packages {
		for _, sp := range pkg.Closure {
			if r, err := c.host.FS.EvalSymlinks(sp); err == nil {
				keep[r] = true
			}
		}
	}
	if self, err := c.host.FS.EvalSymlinks(c.host.Self); err == nil && c.host.Self != "" {
		keep[self] = true
	}
	for i := range c.p.Rules {
		r := &c.p.Rules[i]
		if keep[r.Path] || !strings.Contains(string(r.Access), "x") {
			continue
		}
		r.Access = Access(strings.TrimSuffix(string(r.Access), "x")) // rox → ro, rwx → rw
		if r.Source != "baseline" {
			c.skip(r.Path, "not executable: with [exec] system = false only the packages' closures run", r.Source)
		}
	}
	c.strictShell()
	if prog := c.p.Argv[0]; !c.inClosure(prog, keep) {
		c.skip(prog, "will not run: with [exec] system = false only the packages' closures run; list the package that provides it", "command")
	}
}

// strictShell runs lifecycle commands with the packages' sh: /bin/sh does
// not execute in strict mode.
func (c *compiler) strictShell() {
	if len(c.spec.Before) == 0 || c.p.Argv[0] != "/bin/sh" {
		return
	}
	if sh := c.inPackages("sh"); sh != "" {
		c.p.Argv[0] = sh
	}
}

// inClosure reports whether prog resolves into one of the closures.
func (c *compiler) inClosure(prog string, keep map[string]bool) bool {
	r, err := c.host.FS.EvalSymlinks(prog)
	if err != nil {
		return false
	}
	for p := range keep {
		if within(r, p) {
			return true
		}
	}
	return false
}
