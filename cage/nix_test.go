package cage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// nixHost is testHost with a Nix store: pkg refers to dep, other is a
// store path outside every closure, and a profile and a result link lead
// into the store.
func nixHost() Host {
	h := testHost()
	f := h.FS.(fakeFS)
	for k, v := range map[string]string{
		"/nix/store/aaa-pkg/bin/tool":              "ELF",
		"/nix/store/aaa-pkg/bin/sh":                "ELF",
		"/nix/store/aaa-pkg/etc/dep":               "/nix/store/bbb-dep",
		"/nix/store/bbb-dep/share/msg":             "NIX-DEP-CONTENT",
		"/nix/store/ccc-other/bin/x":               "ELF",
		"/nix/store/ddd-env/bin/tool":              "->/nix/store/aaa-pkg/bin/tool",
		"/nix/store/eee-ripgrep/bin/rg":            "ELF",
		"/nix/var/nix/profiles/per-user/u/profile": "->/nix/store/ddd-env",
		"/home/u/.nix-profile":                     "->/nix/var/nix/profiles/per-user/u/profile",
		"/home/u/src/p/result":                     "->/nix/store/aaa-pkg",
		"/home/u/src/p/tools.nix":                  "",
		"/home/u/src/p/.bin/tool":                  "ELF",
	} {
		f[k] = v
	}
	return h
}

// fakeNix answers like nix 2.8 for nixHost's store and records its calls.
type fakeNix struct {
	calls   []string
	missing bool
}

var (
	fakeClosures = map[string][]string{
		"/nix/store/aaa-pkg":     {"/nix/store/bbb-dep", "/nix/store/aaa-pkg"},
		"/nix/store/ddd-env":     {"/nix/store/bbb-dep", "/nix/store/aaa-pkg", "/nix/store/ddd-env"},
		"/nix/store/eee-ripgrep": {"/nix/store/eee-ripgrep"},
	}
	fakeSizes       = map[string]string{"/nix/store/aaa-pkg": "1000", "/nix/store/bbb-dep": "24", "/nix/store/ddd-env": "100", "/nix/store/eee-ripgrep": "5000"}
	fakeInstallable = map[string]string{
		"nixpkgs#ripgrep":                     "/nix/store/eee-ripgrep\n",
		"nixpkgs":                             "/nix/store/eee-ripgrep\n",
		"--file /home/u/src/p/tools.nix tool": "/nix/store/aaa-pkg\n",
	}
)

func (n *fakeNix) Run(dir, name string, args ...string) ([]byte, error) {
	n.calls = append(n.calls, name+" "+strings.Join(args, " "))
	if n.missing {
		return nil, &NixMissingError{Name: name}
	}
	switch {
	case name == "nix-store" && args[1] == "--requisites":
		if c, ok := fakeClosures[args[2]]; ok {
			return []byte(strings.Join(c, "\n") + "\n"), nil
		}
		return nil, &NixError{Stderr: "error: path '" + args[2] + "' is not valid\n", Err: errors.New("exit status 1")}
	case name == "nix-store" && args[1] == "--size":
		var out []string
		for _, p := range args[2:] {
			out = append(out, fakeSizes[p])
		}
		return []byte(strings.Join(out, "\n") + "\n"), nil
	case name == "nix":
		i := len(nixArgs) + 2 // past "path-info --no-write-lock-file"
		if args[i-2] != "path-info" {
			return nil, fmt.Errorf("unexpected nix call %q", args)
		}
		inst := strings.Join(args[i:], " ")
		if out, ok := fakeInstallable[inst]; ok {
			return []byte(out), nil
		}
		if inst == "nixpkgs#unbuilt" {
			return nil, &NixError{Stderr: "this derivation will be built:\nerror: path '/nix/store/fff-unbuilt' is not valid\n", Err: errors.New("exit status 1")}
		}
		return nil, &NixError{Stderr: "warning: x\nerror: flake 'flake:nixpkgs' does not provide attribute 'packages.x86_64-linux." + strings.TrimPrefix(inst, "nixpkgs#") + "'\n", Err: errors.New("exit status 1")}
	}
	return nil, fmt.Errorf("unexpected call %s %q", name, args)
}

func resolveOne(t *testing.T, h Host, n Nix, entry string) (Package, error) {
	t.Helper()
	spec := testSpec()
	spec.Packages = []Package{{Entry: entry, Source: "config"}}
	got, err := ResolvePackages(spec, h, n)
	if err != nil {
		return Package{}, err
	}
	return got[0], nil
}

func TestNixResolve(t *testing.T) {
	pkg := []string{"/nix/store/aaa-pkg", "/nix/store/bbb-dep"}
	cases := []struct {
		entry   string
		paths   []string
		closure []string
		size    int64
		nix     string // the first call
	}{
		{"/nix/store/aaa-pkg", []string{"/nix/store/aaa-pkg"}, pkg, 1024, "nix-store --query --requisites /nix/store/aaa-pkg"},
		{"/nix/store/aaa-pkg/bin/tool", []string{"/nix/store/aaa-pkg"}, pkg, 1024, "nix-store --query --requisites /nix/store/aaa-pkg"},
		{"~/.nix-profile", []string{"/nix/store/ddd-env"}, append(pkg, "/nix/store/ddd-env"), 1124, "nix-store --query --requisites /nix/store/ddd-env"},
		{"result", []string{"/nix/store/aaa-pkg"}, pkg, 1024, "nix-store --query --requisites /nix/store/aaa-pkg"},
		{"./result", []string{"/nix/store/aaa-pkg"}, pkg, 1024, "nix-store --query --requisites /nix/store/aaa-pkg"},
		{"nixpkgs#ripgrep", []string{"/nix/store/eee-ripgrep"}, []string{"/nix/store/eee-ripgrep"}, 5000, "nix " + strings.Join(nixArgs, " ") + " path-info --no-write-lock-file nixpkgs#ripgrep"},
		{"nixpkgs", []string{"/nix/store/eee-ripgrep"}, []string{"/nix/store/eee-ripgrep"}, 5000, "nix " + strings.Join(nixArgs, " ") + " path-info --no-write-lock-file nixpkgs"},
		{"tools.nix#tool", []string{"/nix/store/aaa-pkg"}, pkg, 1024, "nix " + strings.Join(nixArgs, " ") + " path-info --no-write-lock-file --file /home/u/src/p/tools.nix tool"},
	}
	for _, tc := range cases {
		n := &fakeNix{}
		h := nixHost()
		h.StateDir = ""
		got, err := resolveOne(t, h, n, tc.entry)
		if err != nil {
			t.Errorf("%s: %v", tc.entry, err)
			continue
		}
		if !reflect.DeepEqual(got.Paths, tc.paths) || !reflect.DeepEqual(got.Closure, tc.closure) || got.Size != tc.size {
			t.Errorf("%s: got paths %q closure %q size %d, want %q %q %d", tc.entry, got.Paths, got.Closure, got.Size, tc.paths, tc.closure, tc.size)
		}
		if len(n.calls) == 0 || n.calls[0] != tc.nix {
			t.Errorf("%s: nix calls %q, want first %q", tc.entry, n.calls, tc.nix)
		}
	}
}

func TestNixResolveErrors(t *testing.T) {
	cases := []struct {
		entry   string
		missing bool // no nix on PATH
		why     string
		hint    string
	}{
		{"/nix/store/zzz-missing", false, "does not exist", "build it"},
		{"/etc/passwd", false, "is not in the Nix store (/nix/store)", "list a store path"},
		{"/nix/store/.links", false, "is not in the Nix store", "list a store path"},
		{"nixpkgs#nope", false, "does not evaluate: error: flake 'flake:nixpkgs' does not provide attribute 'packages.x86_64-linux.nope'", "nix path-info nixpkgs#nope"},
		{"nixpkgs#unbuilt", false, "is not built: error: path '/nix/store/fff-unbuilt' is not valid", "nix build nixpkgs#unbuilt"},
		{"/nix/store/aaa-pkg", true, "needs nix-store, which is not on PATH", "install Nix"},
		{"nixpkgs#ripgrep", true, "needs nix, which is not on PATH", "install Nix"},
	}
	for _, tc := range cases {
		h := nixHost()
		h.StateDir = ""
		h.FS.(fakeFS)["/nix/store/.links/x"] = ""
		_, err := resolveOne(t, h, &fakeNix{missing: tc.missing}, tc.entry)
		var pe *PackageError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a PackageError", tc.entry, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.entry+" (config) "+tc.why) || !strings.Contains(pe.Hint(), tc.hint) {
			t.Errorf("%s:\n got %q / hint %q\nwant %q / hint %q", tc.entry, msg, pe.Hint(), tc.why, tc.hint)
		}
	}
}

// TestNixResolveCache: a store path's closure is asked of nix once;
// an installable is evaluated again, its closure is not.
func TestNixResolveCache(t *testing.T) {
	h := nixHost()
	h.StateDir = t.TempDir()
	for _, entry := range []string{"/nix/store/aaa-pkg", "~/.nix-profile", "nixpkgs#ripgrep"} {
		first := &fakeNix{}
		a, err := resolveOne(t, h, first, entry)
		if err != nil {
			t.Fatal(err)
		}
		again := &fakeNix{}
		b, err := resolveOne(t, h, again, entry)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: cached %+v, want %+v", entry, b, a)
		}
		for _, c := range again.calls {
			if strings.HasPrefix(c, "nix-store") {
				t.Errorf("%s: the second entry ran %q", entry, c)
			}
		}
		if strings.HasPrefix(entry, "/") && len(again.calls) != 0 {
			t.Errorf("%s: the second entry ran nix: %q", entry, again.calls)
		}
	}
	// a damaged cache file is not believed
	file := filepath.Join(h.StateDir, "nix", "aaa-pkg.json")
	if err := os.WriteFile(file, []byte(`{"Path":"/nix/store/aaa-pkg","Closure":[{"Path":"/home/u","Size":1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &fakeNix{}
	got, err := resolveOne(t, h, n, "/nix/store/aaa-pkg")
	if err != nil || len(n.calls) == 0 || !reflect.DeepEqual(got.Closure, []string{"/nix/store/aaa-pkg", "/nix/store/bbb-dep"}) {
		t.Errorf("damaged cache: got %+v, %v after %q", got, err, n.calls)
	}
}

func TestNixStoreDir(t *testing.T) {
	h := nixHost()
	h.StateDir = ""
	h.Env = append(h.Env, "NIX_STORE_DIR=/srv/nix/store")
	h.FS.(fakeFS)["/srv/nix/store/aaa-pkg/bin/tool"] = "ELF"
	_, err := resolveOne(t, h, &fakeNix{}, "/nix/store/aaa-pkg")
	if err == nil || !strings.Contains(err.Error(), "is not in the Nix store (/srv/nix/store)") {
		t.Errorf("got %v, want not in the store", err)
	}
	n := &fakeNix{missing: true}
	_, err = resolveOne(t, h, n, "/srv/nix/store/aaa-pkg/bin/tool")
	if len(n.calls) != 1 || n.calls[0] != "nix-store --query --requisites /srv/nix/store/aaa-pkg" {
		t.Errorf("calls %q (%v)", n.calls, err)
	}
}

// resolved is pkg as ResolvePackages leaves it.
func resolved(entry string, paths ...string) Package {
	p := Package{Entry: entry, Source: "config", Paths: paths[:1]}
	p.Closure = paths
	return p
}

// TestNixCompile pins the grants of [exec] packages in both modes.
func TestNixCompile(t *testing.T) {
	pkg := resolved("/nix/store/aaa-pkg", "/nix/store/aaa-pkg", "/nix/store/bbb-dep")
	const (
		root = "/home/u/src/p"
		home = root + "/.aicage/state/home"
		tmp  = root + "/.aicage/state/tmp"
	)
	cases := []struct {
		name     string
		system   bool
		pkgs     []Package
		argv     []string
		paths    []PathEntry
		want     map[string]Access // "" means not granted
		argv0    string
		skipped  []string // paths reported as skipped
		pathHead string
	}{
		{
			name: "system and packages", system: true, pkgs: []Package{pkg}, argv: []string{"tool"},
			want: map[string]Access{
				"/nix/store/aaa-pkg": ROX, "/nix/store/bbb-dep": ROX, "/nix/store": RO, "/nix/store/ccc-other": "",
				"/usr": ROX, "/usr/bin": ROX, root: RWX, home: RWX, tmp: RWX,
			},
			argv0: "/nix/store/aaa-pkg/bin/tool", pathHead: "PATH=/nix/store/aaa-pkg/bin:/home/u/.npm-global/bin:",
		},
		{
			name: "strict", pkgs: []Package{pkg}, argv: []string{"tool"},
			paths: []PathEntry{{Path: "~/.cache/go-build", Access: RWX, Source: "config"}},
			want: map[string]Access{
				"/nix/store/aaa-pkg": ROX, "/nix/store/bbb-dep": ROX, "/nix/store": RO, "/nix/store/ccc-other": "",
				"/usr": RO, "/usr/bin": RO, "/usr/lib": RO, root: RW, home: RW, tmp: RW, "/tmp": RW,
				"/home/u/.cache/go-build": RW, "/opt/aicage/aicage": ROX,
			},
			argv0: "/nix/store/aaa-pkg/bin/tool", skipped: []string{"/home/u/.cache/go-build"},
			pathHead: "PATH=/nix/store/aaa-pkg/bin:",
		},
		{
			name: "strict, a command outside the closures", pkgs: []Package{pkg}, argv: []string{"claude"},
			argv0: "/home/u/.npm-global/bin/claude", skipped: []string{"/home/u/.npm-global/bin/claude"},
		},
		{
			name: "no system, no packages: as before", argv: []string{"git"},
			want:  map[string]Access{"/usr": RO, root: RWX, home: RWX, "/nix/store": ""},
			argv0: "/usr/bin/git", pathHead: "PATH=/home/u/.npm-global/bin:",
		},
		{
			name: "a path in the project is not the package's", system: true, pkgs: []Package{pkg}, argv: []string{"./.bin/tool"},
			want:  map[string]Access{root: RWX},
			argv0: "/home/u/src/p/sub/.bin/tool",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec()
			spec.ExecSystem, spec.Packages, spec.Argv, spec.Paths = tc.system, tc.pkgs, tc.argv, tc.paths
			h := nixHost()
			h.FS.(fakeFS)["/home/u/src/p/sub/.bin/tool"] = "ELF"
			p, err := Compile(spec, h)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				r := ruleFor(p, path)
				switch {
				case want == "" && r != nil:
					t.Errorf("%s: granted %s (%s), want not", path, r.Access, r.Source)
				case want != "" && (r == nil || r.Access != want):
					t.Errorf("%s: got %+v, want %s", path, r, want)
				}
			}
			if p.Argv[0] != tc.argv0 {
				t.Errorf("argv[0] = %s, want %s", p.Argv[0], tc.argv0)
			}
			skipped := map[string]bool{}
			for _, s := range p.Skipped {
				skipped[s.Path] = true
			}
			for _, want := range tc.skipped {
				if !skipped[want] {
					t.Errorf("%s is not reported as skipped: %+v", want, p.Skipped)
				}
			}
			if len(tc.skipped) == 0 && len(p.Skipped) > 0 {
				t.Errorf("skipped %+v, want nothing", p.Skipped)
			}
			if env := strings.Join(p.Env, "\n"); !strings.Contains(env, "\n"+tc.pathHead) {
				t.Errorf("environment lacks %q:\n%s", tc.pathHead, env)
			}
			if !reflect.DeepEqual(p.Packages, tc.pkgs) {
				t.Errorf("policy packages %+v, want %+v", p.Packages, tc.pkgs)
			}
		})
	}
}

// TestNixStrictExecutesOnlyClosures: in strict mode no grant but the
// closures and aicage itself carries execute.
func TestNixStrictExecutesOnlyClosures(t *testing.T) {
	for _, argv0 := range []string{"tool", "claude"} {
		spec := testSpec()
		spec.ExecSystem = false
		spec.Packages = []Package{resolved("nixpkgs#x", "/nix/store/aaa-pkg", "/nix/store/bbb-dep")}
		spec.Paths = []PathEntry{{Path: "~/.local/bin", Access: ROX, Source: "config"}}
		spec.HomeLink = []Entry{{Path: "~/.claude", Source: "config"}}
		spec.Argv = []string{argv0}
		p, err := Compile(spec, nixHost())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rules {
			x := strings.HasSuffix(string(r.Access), "x")
			want := r.Path == "/nix/store/aaa-pkg" || r.Path == "/nix/store/bbb-dep" || r.Path == "/opt/aicage/aicage"
			if x != want {
				t.Errorf("%s: %s %s (%s): execute %v, want %v", argv0, r.Access, r.Path, r.Source, x, want)
			}
		}
	}
}

func TestNixStrictLifecycleShell(t *testing.T) {
	spec := testSpec()
	spec.ExecSystem = false
	spec.Packages = []Package{resolved("/nix/store/aaa-pkg", "/nix/store/aaa-pkg", "/nix/store/bbb-dep")}
	spec.Argv = []string{"tool"}
	spec.Before = []string{"echo hi"}
	p, err := Compile(spec, nixHost())
	if err != nil {
		t.Fatal(err)
	}
	if p.Argv[0] != "/nix/store/aaa-pkg/bin/sh" || p.Argv[len(p.Argv)-1] != "/nix/store/aaa-pkg/bin/tool" {
		t.Errorf("argv %q: want the package's sh running the package's tool", p.Argv)
	}
}

func TestNixUnresolvedPackage(t *testing.T) {
	spec := testSpec()
	spec.Packages = []Package{{Entry: "nixpkgs#x", Source: "config"}}
	if _, err := Compile(spec, nixHost()); err == nil || !strings.Contains(err.Error(), "bug: package nixpkgs#x was not resolved") {
		t.Errorf("got %v, want a bug error", err)
	}
}

// TestNixCacheNeverGranted: the closure cache lies in aicage's state
// directory, which no grant may reach.
func TestNixCacheNeverGranted(t *testing.T) {
	h := nixHost()
	cache := filepath.Join(h.StateDir, "nix")
	h.FS.(fakeFS)[cache+"/aaa-pkg.json"] = "{}"
	for _, a := range []Access{RO, RW} {
		spec := testSpec()
		spec.Paths = []PathEntry{{Path: cache, Access: a, Source: "config"}}
		var re *RefusedError
		if _, err := Compile(spec, h); !errors.As(err, &re) {
			t.Errorf("%s %s: got %v, want refused", a, cache, err)
		}
	}
}
