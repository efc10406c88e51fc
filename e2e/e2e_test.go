// Package e2e holds black-box tests: they build the aicage binary and run
// real cages on this kernel through testscript scripts in testdata/script.
// Every escape a script tries is judged by its effect outside the cage.
//
// When the suite runs as root, TestScriptsUnprivileged runs every script
// again as uid/gid 65534, since root is not how users run aicage.
package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// binDirEnv names a directory that already holds the built binaries (set
// when the suite re-runs itself as an unprivileged user, who cannot build).
const binDirEnv = "AICAGE_E2E_BIN"

var binDir string

// workRoot holds the scripts' work directories. It must not be under /tmp:
// the cage grants /tmp read-write (tools hard-code it), so a fake home
// there would be readable from inside and every secret test would be moot.
var workRoot string

// workBase is where workRoot is made.
const workBase = "/var/tmp"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	binDir = os.Getenv(binDirEnv)
	if binDir == "" {
		dir, err := os.MkdirTemp("", "aicage-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binDir = dir
	}
	root, err := os.MkdirTemp(workBase, "aicage-e2e-work-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	workRoot = root
	return m.Run()
}

// build compiles aicage and the escape helper into dir, readable by anyone.
func build(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for name, pkg := range map[string]string{"aicage": "../cmd/aicage", "cagetest": "./internal/cagetest"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", pkg, err)
		}
	}
	return nil
}

func TestScripts(t *testing.T) {
	testscript.Run(t, params("testdata/script"))
}

func params(dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		WorkdirRoot:         workRoot,
		Setup:               setup,
		Cmds:                commands,
		Condition:           condition,
		RequireExplicitExec: true,
	}
}

// setup gives each script a fake real home with a secret in ~/.ssh, XDG
// dirs inside it, and an empty project with the escape helper in .bin.
func setup(env *testscript.Env) error {
	work := env.WorkDir
	home := filepath.Join(work, "home")
	proj := filepath.Join(work, "proj")
	for _, d := range []string{filepath.Join(home, ".ssh"), filepath.Join(proj, ".bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_canary"), []byte("CANARY-SSH-SECRET\n"), 0o600); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(binDir, "cagetest"), filepath.Join(proj, ".bin", "cagetest")); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local/share"))
	env.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local/state"))
	env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	env.Setenv("PROJ", proj)
	env.Setenv("PATH", filepath.Join(proj, ".bin")+":"+binDir+":/usr/local/bin:/usr/bin:/bin")
	env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	return nil
}

// copyFile copies an executable. It holds syscall.ForkLock while the copy
// is open for writing: a process forked meanwhile by a parallel script
// would inherit the write fd until its exec, and exec'ing the copy would
// fail with "text file busy" (golang/go#22315).
func copyFile(from, to string) error {
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Getuid() == 0, nil
	}
	if ok, found := shellCondition(cond); found {
		return ok, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// shellCondition answers [has:NAME]: whether a program is installed.
func shellCondition(cond string) (ok, found bool) {
	const prefix = "has:"
	if len(cond) <= len(prefix) || cond[:len(prefix)] != prefix {
		return false, false
	}
	_, err := exec.LookPath(cond[len(prefix):])
	return err == nil, true
}
