package e2e

// The [exec] packages tests need a Nix store whose closures they know.
// Each test process builds its own, under workRoot/nix, through
// NIX_STORE_DIR, NIX_STATE_DIR and NIX_LOG_DIR: Debian's single-user nix
// (nix-bin 2.8) cannot use the root-owned /nix as uid 65534 without a
// daemon, and the tests must neither depend on the machine's store nor
// change it. aicage finds the store the way nix does, so it follows. The
// derivations are local (builder /bin/sh, no sandbox, no substituters):
// nothing is downloaded.
//
// The packages' programs are a statically linked build of cagetest: a
// closure holds no dynamic loader here, and strict mode would (rightly)
// refuse to run /lib's.

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	commands["nixstore"] = cmdNixStore
}

// staticHelper is cagetest built without cgo, in binDir so that the
// unprivileged re-run, which cannot build, finds it there.
const staticHelper = "cagetest-static"

// errNoHelper: the unprivileged re-run found no static helper (the root
// run builds it); the scripts skip on [!exec:cagetest-static].
var errNoHelper = errors.New("no static cagetest")

var (
	helperOnce sync.Once
	helperErr  error
	storeOnce  sync.Once
	storeEnv   map[string]string
	storeErr   error
)

// buildStaticHelper builds cagetest-static into binDir once.
func buildStaticHelper() error {
	helperOnce.Do(func() {
		out := filepath.Join(binDir, staticHelper)
		if _, err := os.Stat(out); err == nil {
			return
		}
		if os.Getenv(unprivEnv) != "" {
			helperErr = errNoHelper
			return
		}
		cmd := exec.Command("go", "build", "-o", out, "./internal/cagetest")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			helperErr = fmt.Errorf("building %s: %v\n%s", staticHelper, err, b)
		}
	})
	return helperErr
}

// nixstore: build the test store once per process and point the script
// at it: NIX_STORE_DIR & co. for nix and aicage; STORE; DEP (a store path
// PKG refers to); PKG (bin/nixtool, etc/dep); OTHER (bin/othertool, outside
// PKG's closure); LOADER (lib/ld.so, the system's dynamic loader);
// NIXFILE (the .nix file, with attributes dep, pkg, other, loader and
// unbuilt); NIXFLAKE (a flake.nix with packages dep and unbuilt); NIXBIN
// (where nix is installed); BINDIR (aicage's directory).
func cmdNixStore(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: nixstore")
	}
	if err := buildStaticHelper(); errors.Is(err, errNoHelper) {
		ts.Logf("%s is missing: the suite builds it when it runs as root or as an ordinary user", staticHelper)
		return
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	storeOnce.Do(func() { storeEnv, storeErr = buildNixStore() })
	ts.Check(storeErr)
	for k, v := range storeEnv {
		ts.Setenv(k, v)
	}
	// aicage's nix calls add store paths too (a flake's source).
	ts.Defer(func() { writableDirs(storeEnv["STORE"]) })
}

// writableDirs makes the directories under dir writable by their owner:
// store paths are read-only, and the work directory must stay removable by
// whoever runs the suite.
func writableDirs(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
}

const testNix = `let
  tool = builtins.path { path = /. + "%[1]s"; name = "cagetest"; };
  mk = name: script: attrs: builtins.derivation ({
    inherit name;
    system = "%[3]s";
    builder = "/bin/sh";
    args = [ "-c" ("PATH=/usr/bin:/bin; set -e; " + script) ];
  } // attrs);
in rec {
  dep = mk "aicage-dep" "mkdir -p $out/share; echo NIX-DEP-CONTENT > $out/share/msg" {};
  pkg = mk "aicage-pkg" "mkdir -p $out/bin $out/etc; cp $tool $out/bin/nixtool; chmod 555 $out/bin/nixtool; echo $dep > $out/etc/dep" { inherit dep tool; };
  other = mk "aicage-other" "mkdir -p $out/bin; cp $tool $out/bin/othertool; chmod 555 $out/bin/othertool" { inherit tool; };
  loader = mk "aicage-loader" "mkdir -p $out/lib; cp -L %[2]s $out/lib/ld.so; chmod 555 $out/lib/ld.so" {};
  unbuilt = mk "aicage-unbuilt" "mkdir $out" {};
}
`

// testFlake is a flake for a project: its dep is testNix's, so .#dep is
// $DEP; unbuilt is never built.
const testFlake = `{
  outputs = { self }: let
    mk = name: script: builtins.derivation {
      inherit name;
      system = "%[1]s";
      builder = "/bin/sh";
      args = [ "-c" ("PATH=/usr/bin:/bin; set -e; " + script) ];
    };
  in {
    packages.%[1]s.dep = mk "aicage-dep" "mkdir -p $out/share; echo NIX-DEP-CONTENT > $out/share/msg";
    packages.%[1]s.unbuilt = mk "aicage-unbuilt-flake" "mkdir $out";
  };
}
`

func buildNixStore() (map[string]string, error) {
	nixBuild, err := exec.LookPath("nix-build")
	if err != nil {
		return nil, fmt.Errorf("nix-build: %w", err)
	}
	interp, err := interpreter("/bin/sh")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workRoot, "nix")
	env := map[string]string{
		"NIX_STORE_DIR": filepath.Join(dir, "store"),
		"NIX_STATE_DIR": filepath.Join(dir, "var"),
		"NIX_LOG_DIR":   filepath.Join(dir, "log"),
		// no cache.nixos.org (no network), no build users (single-user)
		"NIX_CONFIG": "substituters =\nsandbox = false\nbuild-users-group =\n",
		"STORE":      filepath.Join(dir, "store"),
		"NIXFILE":    filepath.Join(dir, "pkgs.nix"),
		"NIXBIN":     filepath.Dir(nixBuild),
		"BINDIR":     binDir,
	}
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
		return nil, err
	}
	system, ok := map[string]string{"amd64": "x86_64-linux", "arm64": "aarch64-linux"}[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no Nix system name for %s", runtime.GOARCH)
	}
	src := fmt.Sprintf(testNix, filepath.Join(binDir, staticHelper), interp, system)
	if err := os.WriteFile(env["NIXFILE"], []byte(src), 0o644); err != nil {
		return nil, err
	}
	env["NIXFLAKE"] = filepath.Join(dir, "flake.nix")
	if err := os.WriteFile(env["NIXFLAKE"], []byte(fmt.Sprintf(testFlake, system)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(nixBuild, "--no-out-link", env["NIXFILE"], "-A", "dep", "-A", "pkg", "-A", "other", "-A", "loader")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home")}
	for _, k := range []string{"NIX_STORE_DIR", "NIX_STATE_DIR", "NIX_LOG_DIR", "NIX_CONFIG"} {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nix-build: %v\n%s", err, stderr.String())
	}
	for _, p := range strings.Fields(string(out)) {
		_, name, _ := strings.Cut(filepath.Base(p), "-aicage-") // <hash>-aicage-<name>
		env[strings.ToUpper(name)] = p
	}
	for _, k := range []string{"DEP", "PKG", "OTHER", "LOADER"} {
		if env[k] == "" {
			return nil, fmt.Errorf("nix-build built %q, want dep, pkg, other and loader", out)
		}
	}
	return env, writableDirs(env["STORE"])
}

// interpreter is the dynamic loader an ELF program names.
func interpreter(prog string) (string, error) {
	f, err := elf.Open(prog)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", fmt.Errorf("%s has no dynamic loader", prog)
}

// TestNixScripts runs the nix_ scripts alone (go test -run Nix); in a run
// that selects TestScripts, that runs them with the others.
func TestNixScripts(t *testing.T) {
	if runSelects("TestScripts") {
		t.Skip("TestScripts runs the nix_ scripts")
	}
	files, err := filepath.Glob("testdata/script/nix_*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no nix_ scripts (%v)", err)
	}
	p := params("")
	p.Dir, p.Files = "", files
	testscript.Run(t, p)
}

// TestNixScriptsUnprivileged runs them again as uid/gid 65534, as
// TestScriptsUnprivileged does for every script.
func TestNixScriptsUnprivileged(t *testing.T) {
	switch {
	case os.Getuid() != 0:
		t.Skip("already unprivileged: TestNixScripts covers it")
	case runSelects("TestScriptsUnprivileged"):
		t.Skip("TestScriptsUnprivileged runs the nix_ scripts")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (util-linux)")
	}
	if _, err := exec.LookPath("nix-store"); err != nil {
		t.Skip("nix is not installed (Debian: apt-get install nix-bin)")
	}
	if err := buildStaticHelper(); err != nil {
		t.Fatal(err)
	}
	shared, err := os.MkdirTemp(workBase, "aicage-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(shared, "e2e.test")
	if err := copyFile(os.Args[0], self); err != nil {
		t.Fatal(err)
	}
	if err := copyTree("testdata", filepath.Join(shared, "testdata")); err != nil {
		t.Fatal(err)
	}
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups", self, "-test.run=^TestNixScripts$"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(setpriv, args...)
	cmd.Dir = shared
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + shared, binDirEnv + "=" + binDir, unprivEnv + "=1"}
	out, err := cmd.CombinedOutput()
	t.Logf("as uid 65534:\n%s", strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the nix_ scripts failed as uid 65534: %v", err)
	}
}

// runSelects reports whether -test.run selects the top-level test name.
func runSelects(name string) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	top, _, _ := strings.Cut(f.Value.String(), "/")
	ok, err := regexp.MatchString(top, name)
	return err == nil && ok
}
