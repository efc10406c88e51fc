package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/hooks"
	"github.com/aicage/aicage/project"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:            "shell",
		Usage:           "an interactive shell in the cage ($SHELL, or shell = … in the config)",
		SkipFlagParsing: true,
		Action:          shellAction,
	})
}

func shellAction(c *cli.Context) error {
	f, args, err := parseRunArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fail(errors.New("shell takes no arguments"), "use 'aicage run -- CMD' to run a command")
	}
	req := request{flags: f, shell: true}
	hs := &hookShell{tmpFd: -1, dirFd: -1}
	if out, ok := os.LookupEnv(hooks.OutEnv); ok {
		dirs := os.Getenv(hooks.DirsEnv)
		os.Unsetenv(hooks.OutEnv)
		os.Unsetenv(hooks.DirsEnv)
		if hs, err = newHookShell(out); err != nil {
			return err
		}
		hs.dirs = dirStack(dirs)
		req.noPrompt = true // the hook never prompts
	}
	hs.look = shellLook()
	req.prepare, req.finish = hs.prepare, hs.finish
	defer keepTitle(hs.look)()
	return enter(c, req)
}

// A bash, zsh or fish that 'aicage shell' starts gets init files in a
// fresh directory under the cage's $TMPDIR (see package hooks): the
// private home's rc file, then a copy of the user's rc for cages, then the
// cage's mark on the prompt and the terminal's title.
//
// A shell that the hook started (AICAGE_HOOK_OUT is set) gets the inner
// half of the hook there too. When it leaves the project it writes where
// it went there and exits; once the cage is gone, finish checks that this
// is a plain absolute path and copies it to the hook's file outside.
//
// The cage can write in its $TMPDIR, now and in earlier sessions, so every
// file there is reached through directory fds, without following a
// symlink, and read with a size limit; the cage never gets to write where
// the outer shell reads.

const maxWhereSize = 1 + unix.PathMax // "L" or "X", then a path

// hookShell is one 'aicage shell': started by the hook when out is set.
type hookShell struct {
	look  hooks.Look
	out   string // the hook's file, outside the cage
	root  string // the project root as the outer shell names it
	cwd   string
	tmpFd int // the cage's $TMPDIR
	dirFd int // the init directory in it, or -1
	dir   string
	files []string
	roots []string // the project root, logical and resolved
	dirs  []string // the outer shell's directory stack
}

// newHookShell checks, before anything runs, that the project is one the
// hook may enter: the hook must never make aicage prompt.
func newHookShell(out string) (*hookShell, error) {
	if !filepath.IsAbs(out) {
		return nil, fail(fmt.Errorf("%s=%q is not an absolute path", hooks.OutEnv, out))
	}
	h, err := projectHost()
	if err != nil {
		return nil, err
	}
	f, err := project.Discover(h.Cwd)
	if err != nil {
		return nil, failProject(err)
	}
	if f == nil {
		return nil, fail(fmt.Errorf("no %s here: the hook enters only configured projects", project.ConfigName))
	}
	st, err := project.NewTrustStore(h.TrustDir()).State(f.Path, f.Data)
	if err != nil {
		return nil, fail(err)
	}
	if st != project.Trusted {
		return nil, fail(fmt.Errorf("%s is blocked", f.Path), hintAllow)
	}
	return &hookShell{out: out, root: f.Root, cwd: h.Cwd, tmpFd: -1, dirFd: -1}, nil
}

const maxDirStack = 64

// dirStack takes the absolute, clean directories of a directory stack,
// one a line.
func dirStack(s string) []string {
	var dirs []string
	for _, d := range strings.Split(s, "\n") {
		if len(dirs) < maxDirStack && filepath.IsAbs(d) && filepath.Clean(d) == d {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// prepare writes the init files and points the shell at them.
func (hs *hookShell) prepare(pol *cage.Policy) (err error) {
	defer func() {
		if err != nil {
			hs.cleanup() // finish will not run
		}
	}()
	prog := pol.Argv[len(pol.Argv)-1] // after any lifecycle wrapper
	shell := hooks.ShellOf(prog)
	var hook *hooks.Hook
	if hs.out != "" {
		hook = &hooks.Hook{Root: hs.root, Dirs: hs.dirs}
		hs.roots = []string{hs.root, pol.Root}
	}
	if shell == "" {
		if hook != nil {
			warningf("no aicage hook for %s: type 'exit' to leave the cage (cd alone will not)", filepath.Base(prog))
		}
		return nil
	}
	rc, err := userRC(shell)
	if err != nil {
		return err
	}
	if hook == nil && rc == "" && !hs.look.Mark && !hs.look.Title {
		return nil
	}
	if err := hs.makeDir(pol); err != nil {
		return err
	}
	in, err := hooks.Init(shell, filepath.Join(pol.TmpDir, hs.dir), hooks.Options{Look: hs.look, Hook: hook, RC: rc})
	if err != nil {
		return err
	}
	for name, content := range in.Files {
		if err := writeBeneath(hs.dirFd, name, content); err != nil {
			return fmt.Errorf("writing the hook's init file: %w", err)
		}
		hs.files = append(hs.files, name)
	}
	pol.Argv = append(pol.Argv, in.Args...)
	env := in.Env
	if r, err := filepath.EvalSymlinks(hs.cwd); hs.cwd != "" && err == nil && r == pol.Dir {
		env = append(env, "PWD="+hs.cwd) // keep the path the user came by
	}
	pol.Env = setEnv(pol.Env, env)
	return nil
}

// makeDir makes a fresh init directory under the cage's $TMPDIR, reached
// from the project root (resolved, or as the user named it) without
// following a symlink below it.
func (hs *hookShell) makeDir(pol *cage.Policy) error {
	root, rel := "", ""
	for _, r := range []string{pol.Root, hs.root} {
		if x, err := filepath.Rel(r, pol.TmpDir); r != "" && err == nil && filepath.IsLocal(x) {
			root, rel = r, x
			break
		}
	}
	if root == "" {
		return fmt.Errorf("bug: the cage's $TMPDIR %s is not in the project %s", pol.TmpDir, pol.Root)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", root, err)
	}
	defer unix.Close(rootFd)
	hs.tmpFd, err = openBeneath(rootFd, rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w (a symlink there is not followed; remove it)", pol.TmpDir, err)
	}
	for range 8 {
		b := make([]byte, 8)
		rand.Read(b)
		name := "aicage-hook-" + hex.EncodeToString(b)
		if err = unix.Mkdirat(hs.tmpFd, name, 0o700); errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return fmt.Errorf("creating a directory in %s: %w", pol.TmpDir, err)
		}
		hs.dir = name
		hs.dirFd, err = openBeneath(hs.tmpFd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		return err
	}
	return fmt.Errorf("creating a directory in %s: %w", pol.TmpDir, err)
}

// finish hands the way out to the outer shell, then cleans up. A missing
// or malformed answer leaves the outer shell where it is.
func (hs *hookShell) finish(*cage.Policy) error {
	defer hs.cleanup()
	if hs.dirFd < 0 || hs.out == "" {
		return nil
	}
	kind, dir, err := hs.readWhere()
	if err != nil {
		warningf("ignoring where the caged shell went: %v", err)
		return nil
	}
	if kind == 0 {
		return nil
	}
	if kind == 'L' && hs.inProject(dir) {
		kind = 'X' // it did not leave: stay out, do not enter again
	}
	if kind == 'X' && !hs.inProject(dir) {
		return nil
	}
	if err := writeOut(hs.out, string(kind)+dir); err != nil {
		warningf("telling the shell hook where to go: %v", err)
	}
	return nil
}

// readWhere reads the inner hook's answer: kind 0 when there is none.
func (hs *hookShell) readWhere() (kind byte, dir string, err error) {
	fd, err := openBeneath(hs.dirFd, hooks.WhereFile, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ENOENT) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	f := os.NewFile(uintptr(fd), hooks.WhereFile)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", hooks.WhereFile)
	}
	b := make([]byte, maxWhereSize+1)
	n, _ := f.Read(b)
	if n == 0 {
		return 0, "", nil
	}
	if n > maxWhereSize {
		return 0, "", fmt.Errorf("%s is too long", hooks.WhereFile)
	}
	kind, dir = b[0], string(b[1:n])
	switch {
	case kind != 'L' && kind != 'X':
		return 0, "", fmt.Errorf("%s does not start with L or X", hooks.WhereFile)
	case !filepath.IsAbs(dir) || filepath.Clean(dir) != dir:
		return 0, "", fmt.Errorf("%q is not a clean absolute path", dir)
	case !utf8.ValidString(dir) || strings.IndexFunc(dir, unicode.IsControl) >= 0:
		// the outer shell may print it (cd's error): no terminal escapes
		return 0, "", fmt.Errorf("%q holds control characters or is not UTF-8", dir)
	}
	return kind, dir, nil
}

func (hs *hookShell) inProject(dir string) bool {
	for _, r := range hs.roots {
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

func (hs *hookShell) cleanup() {
	if hs.dirFd >= 0 {
		for _, name := range append(hs.files, hooks.WhereFile) {
			unix.Unlinkat(hs.dirFd, name, 0)
		}
		unix.Close(hs.dirFd)
		unix.Unlinkat(hs.tmpFd, hs.dir, unix.AT_REMOVEDIR)
	}
	if hs.tmpFd >= 0 {
		unix.Close(hs.tmpFd)
	}
}

// openBeneath opens name below dirFd without following any symlink.
func openBeneath(dirFd int, name string, flags int, mode uint32) (int, error) {
	return unix.Openat2(dirFd, name, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// writeBeneath creates name in dirFd; O_EXCL never follows a symlink.
func writeBeneath(dirFd int, name, content string) error {
	fd, err := openBeneath(dirFd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeOut writes the answer into the hook's file, which must be a
// regular file of this user's (the hook made it).
func writeOut(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a regular file of yours", path)
	}
	_, err = f.WriteString(s)
	return err
}

// setEnv sets each KEY=VALUE of vars in env, replacing an earlier value.
func setEnv(env, vars []string) []string {
	for _, kv := range vars {
		k, _, _ := strings.Cut(kv, "=")
		out := env[:0:0]
		for _, e := range env {
			if ek, _, _ := strings.Cut(e, "="); ek != k {
				out = append(out, e)
			}
		}
		env = append(out, kv)
	}
	return env
}
