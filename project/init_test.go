package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aicage/aicage/templates"
)

func TestInitNeverOverwritesWithoutForce(t *testing.T) {
	h, proj := testHost(t)
	path := filepath.Join(proj, ConfigName)
	writeFile(t, path, "# mine\n")
	_, err := Init(h, proj, "generic", false)
	e := wantError(t, err, path+": already exists")
	if !strings.Contains(e.Hint, "--force") {
		t.Errorf("hint %q", e.Hint)
	}
	if b, _ := os.ReadFile(path); string(b) != "# mine\n" {
		t.Errorf("overwritten: %q", b)
	}
	res, err := Init(h, proj, "claude", true)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := templates.Get("claude")
	if b, _ := os.ReadFile(path); string(b) != string(want) || !res.Overwrote {
		t.Errorf("not replaced: %+v", res)
	}
}

// TestInitGitignoreOnce: .aicage/ is added exactly once, other lines stay.
func TestInitGitignoreOnce(t *testing.T) {
	h, proj := testHost(t)
	ignore := filepath.Join(proj, ".gitignore")
	writeFile(t, ignore, "node_modules\n# keep\n*.log") // no final newline
	for i := 0; i < 3; i++ {
		if _, err := Init(h, proj, "generic", true); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(ignore)
	if string(b) != "node_modules\n# keep\n*.log\n.aicage/\n" {
		t.Errorf(".gitignore = %q", b)
	}
}

func TestInitGitignore(t *testing.T) {
	tests := []struct {
		name, before, after string
		created, added      bool
	}{
		{"absent", "", ".aicage/\n", true, true},
		{"empty", "-", ".aicage/\n", false, true},
		{"already there", "/.aicage\n", "/.aicage\n", false, false},
		{"with spaces", "  .aicage/  \nx\n", "  .aicage/  \nx\n", false, false},
		{"similar line", ".aicage.toml\n", ".aicage.toml\n.aicage/\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, proj := testHost(t)
			ignore := filepath.Join(proj, ".gitignore")
			if tt.before == "-" {
				writeFile(t, ignore, "")
			} else if tt.before != "" {
				writeFile(t, ignore, tt.before)
			}
			res, err := Init(h, proj, "generic", false)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(ignore)
			if string(b) != tt.after || res.GitignoreNew != tt.created || res.IgnoreAdded != tt.added {
				t.Errorf("got %q %+v", b, res)
			}
		})
	}
}

func TestInitRefusesSymlinkedGitignore(t *testing.T) {
	h, proj := testHost(t)
	target := filepath.Join(h.Home, ".bashrc")
	writeFile(t, target, "echo hi\n")
	if err := symlink(target, filepath.Join(proj, ".gitignore")); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(h, proj, "generic", false); err == nil {
		t.Error("wrote through a symlinked .gitignore")
	}
	if b, _ := os.ReadFile(target); string(b) != "echo hi\n" {
		t.Errorf("~/.bashrc changed: %q", b)
	}
}

func TestInitErrors(t *testing.T) {
	h, proj := testHost(t)
	_, err := Init(h, proj, "nope", false)
	wantError(t, err, `unknown template "nope"`)
	_, err = Init(h, proj, "clade", false)
	wantError(t, err, `unknown template "clade"; did you mean "claude"?`)
	_, err = Init(h, h.Home, "generic", false)
	wantError(t, err, "cannot make ~ a project")
	if _, err := os.Stat(filepath.Join(h.Home, ConfigName)); err == nil {
		t.Error("wrote a config into the home")
	}
}

func TestInitDir(t *testing.T) {
	_, proj := testHost(t)
	mkdir(t, filepath.Join(proj, ".git"))
	mkdir(t, filepath.Join(proj, "sub"))
	if got := InitDir(filepath.Join(proj, "sub")); got != proj {
		t.Errorf("InitDir = %q", got)
	}
}

// TestTemplatesResolve: every template decodes strictly, resolves (with
// and without its command), and its grants can be listed for the prompt.
func TestTemplatesResolve(t *testing.T) {
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			h, proj := testHost(t, "ANTHROPIC_API_KEY=k", "SHELL=/bin/bash")
			if _, err := Init(h, proj, name, false); err != nil {
				t.Fatal(err)
			}
			f, err := Discover(proj)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(f.Path, f.Data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Resolve(cfg, h, Options{Shell: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := Grants(cfg, h); err != nil {
				t.Fatal(err)
			}
			if name == templates.Default {
				return
			}
			p, err := Resolve(cfg, h, Options{Command: name})
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.Argv[0] != name {
				t.Errorf("argv %q", p.Spec.Argv)
			}
			if len(p.Spec.HomeCopy)+len(p.Spec.HomeLink) < 2 {
				t.Errorf("copy %+v link %+v: an agent template brings in its config and login", p.Spec.HomeCopy, p.Spec.HomeLink)
			}
			// A linked directory lets the agent plant what the agent later
			// runs outside the cage (hooks, MCP servers, plugins): only
			// files holding a login are linked.
			for _, l := range p.Spec.HomeLink {
				if fi, err := os.Stat(l.Path); err == nil && fi.IsDir() {
					t.Errorf("links the directory %s", l.Path)
				}
			}
			for _, c := range p.Spec.Connect {
				if c.Port == 443 && c.Source != "profile aiAgent" {
					t.Errorf("443 from %s", c.Source)
				}
			}
		})
	}
}
