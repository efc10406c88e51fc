package cage

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// NotFoundError is a command that is not on the outside PATH.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s: command not found", e.Name) }

// Hint says what to check.
func (e *NotFoundError) Hint() string {
	return "check the name, or install it; aicage looks it up on your PATH before entering the cage"
}

// program resolves argv[0] on the outside PATH, before the cage exists, and
// grants the install prefix of a program that lives under the real home
// (npm's global prefix, nvm, ~/.local/bin, native installers) and of the
// interpreter its #! line names — never the home itself.
func (c *compiler) program() error {
	if len(c.spec.Argv) == 0 {
		return fmt.Errorf("bug: no command")
	}
	argv := append([]string(nil), c.spec.Argv...)
	prog, err := c.lookPath(argv[0])
	if err != nil {
		return err
	}
	argv[0] = prog
	c.grantProgram(prog, "program "+filepath.Base(prog))
	if len(c.spec.Before) > 0 {
		// Lifecycle commands run in the cage, by the system shell, which
		// then becomes the command.
		script := "set -e\n" + strings.Join(c.spec.Before, "\n") + "\nexec \"$@\"\n"
		argv = append([]string{"/bin/sh", "-c", script, "aicage-lifecycle"}, argv...)
	}
	c.p.Argv = argv
	return nil
}

func (c *compiler) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			base := c.spec.Cwd
			if base == "" {
				base = c.p.Root
			}
			p = filepath.Join(base, p)
		}
		if _, err := c.host.FS.Stat(p); err != nil {
			return "", &NotFoundError{Name: name}
		}
		return p, nil
	}
	path := getenv(c.host.Env, "PATH")
	if path == "" {
		path = defaultPath
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would be looked up inside, in another cwd
		}
		p := filepath.Join(dir, name)
		if fi, err := c.host.FS.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &NotFoundError{Name: name}
}

const defaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

// grantProgram grants a program under the real home, and its interpreter.
func (c *compiler) grantProgram(prog, src string) {
	c.grantPrefix(prog, src)
	interp := c.interpreter(prog)
	if interp != "" {
		c.grantPrefix(interp, src+" (interpreter)")
	}
}

func (c *compiler) grantPrefix(prog, src string) {
	home := c.host.Home
	if home == "" || home == "/" {
		return
	}
	real, err := c.host.FS.EvalSymlinks(prog)
	if err != nil {
		return
	}
	// Only the resolved file counts: npm's bin/claude is a symlink into
	// lib/node_modules, and the bin directory's parent may hold an npmrc
	// with tokens.
	if !within(real, home) || within(real, c.p.Root) {
		return
	}
	prefix := installPrefix(real, home)
	if c.host.refusal(prefix, src, nil) != nil {
		prefix = real // never a sensitive directory: the file alone
	}
	if fi, err := c.host.FS.Stat(prefix); err == nil && fi.IsDir() && c.holdsAny(prefix, prefixSecrets) {
		// npm keeps a global npmrc (with registry tokens) in <prefix>/etc;
		// other installers keep credentials beside their binaries.
		c.grantExcept(prefix, ROX, prefixSecrets, src)
		return
	}
	c.addExisting(prefix, ROX, src)
}

// prefixSecrets are left out of an install prefix's grant.
var prefixSecrets = []string{
	"etc", ".npmrc", ".env", "*.env", "credentials", "credentials.toml", "auth.json", ".git-credentials",
	"versions/*/etc", "installs/*/*/etc",
}

// versionManagers are directories under the home whose shims run code from
// the whole manager (pyenv's shims exec libexec/pyenv, then a version).
var versionManagers = []string{".pyenv", ".rbenv", ".nodenv", ".asdf", ".local/share/mise"}

// installPrefix finds the directory a program under home was installed into:
// the package directory below node_modules, else the parent of its bin/,
// else its own directory — but never home, ~/.local or ~/.config themselves.
func installPrefix(p, home string) string {
	for _, vm := range versionManagers {
		if d := filepath.Join(home, vm); within(p, d) {
			return d
		}
	}
	parts := strings.Split(p, "/")
	for i := len(parts) - 2; i > 0; i-- {
		if parts[i] != "node_modules" {
			continue
		}
		end := i + 2
		if end < len(parts) && strings.HasPrefix(parts[i+1], "@") {
			end++
		}
		if end <= len(parts)-1 {
			return strings.Join(parts[:end], "/")
		}
	}
	dir := filepath.Dir(p)
	if filepath.Base(dir) == "bin" {
		dir = filepath.Dir(dir)
	}
	for _, broad := range []string{home, filepath.Join(home, ".local"), filepath.Join(home, ".config"), filepath.Join(home, ".local/share")} {
		if dir == broad {
			return p
		}
	}
	if !within(dir, home) {
		return p
	}
	return dir
}

// interpreter returns the program a #! line names, looked up on the outside
// PATH when it is "env NAME".
func (c *compiler) interpreter(prog string) string {
	head, err := c.host.FS.ReadHead(prog, 256)
	if err != nil || !bytes.HasPrefix(head, []byte("#!")) {
		return ""
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) != "env" {
		return fields[0]
	}
	for _, f := range fields[1:] {
		if strings.HasPrefix(f, "-") || strings.Contains(f, "=") {
			continue
		}
		if p, err := c.lookPath(f); err == nil {
			return p
		}
		return ""
	}
	return ""
}

// holdsAny reports whether an entry of dir matches, or leads to, a pattern.
func (c *compiler) holdsAny(dir string, patterns []string) bool {
	entries, err := c.host.FS.ReadDir(dir)
	if err != nil {
		return true // cannot tell: grant entry by entry
	}
	for _, e := range entries {
		if matchesAny(e.Name(), patterns) || holdsSecret(e.Name(), patterns) {
			return true
		}
	}
	return false
}
