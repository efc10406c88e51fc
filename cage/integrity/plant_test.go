//go:build linux

package integrity

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A planting is one way code in the cage can leave something that runs
// outside it the next time the user runs git.
type planting struct {
	name    string
	setup   func(p *project) // before the session: the user's own state
	plant   func(p *project) // inside the session
	rel     string           // the path restored, relative to the project
	what    string           // part of the reason reported
	trigger func(p *project) // what makes git run the planted code, besides runEverything
	// allowedToo is set when the planting also makes an allowed change
	// (user.email) that must survive the restore.
	allowedToo bool
}

const benignHook = "#!/bin/sh\nexit 0\n"

func hookPlantings() []planting {
	hook := ".git/hooks/pre-commit"
	withBenign := func(p *project) { writeFile(p.t, p.path(hook), benignHook, 0o755) }
	return []planting{{
		name:  "hook created",
		plant: func(p *project) { plantFile(p.t, p.path(hook), p.evilHook(), 0o755) },
		rel:   hook, what: "created inside the cage",
	}, {
		name:  "hook changed",
		setup: withBenign,
		plant: func(p *project) {
			f, err := os.OpenFile(p.path(hook), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				p.t.Fatal(err)
			}
			fmt.Fprint(f, p.evilHook())
			f.Close()
		},
		rel: hook, what: "modified",
	}, {
		name:  "hook renamed over",
		setup: withBenign,
		plant: func(p *project) {
			new := filepath.Join(p.base, "new-hook")
			writeFile(p.t, new, p.evilHook(), 0o755)
			if err := os.Rename(new, p.path(hook)); err != nil {
				p.t.Fatal(err)
			}
		},
		rel: hook, what: "modified",
	}, {
		name: "hook made executable",
		// The user disabled this hook with chmod -x.
		setup: func(p *project) { writeFile(p.t, p.path(hook), p.evilHook(), 0o644) },
		plant: func(p *project) {
			if err := os.Chmod(p.path(hook), 0o755); err != nil {
				p.t.Fatal(err)
			}
		},
		rel: hook, what: "mode changed",
	}, {
		name: "hook is a symlink",
		plant: func(p *project) {
			if err := os.Symlink(p.evil, p.path(hook)); err != nil {
				p.t.Fatal(err)
			}
		},
		rel: hook, what: "created inside the cage",
	}, {
		name: "hooks directory swapped for a symlink",
		plant: func(p *project) {
			evil := filepath.Join(p.base, "evilhooks")
			writeFile(p.t, filepath.Join(evil, "pre-commit"), p.evilHook(), 0o755)
			if err := os.Symlink(evil, p.path(".git/hooks-link")); err != nil {
				p.t.Fatal(err)
			}
			exchange(p.t, p.path(".git/hooks-link"), p.path(".git/hooks"))
		},
		rel: ".git/hooks", what: "replaced by a symlink",
	}, {
		name: "hooks directory swapped for another",
		plant: func(p *project) {
			evil := p.path(".git/hooks2")
			writeFile(p.t, filepath.Join(evil, "pre-commit"), p.evilHook(), 0o755)
			exchange(p.t, evil, p.path(".git/hooks"))
		},
		rel: hook, what: "created inside the cage",
	}, {
		name: "commondir planted",
		// A git directory with a commondir file takes its hooks and
		// config from the directory it names.
		plant: func(p *project) {
			evil := filepath.Join(p.base, "evilgit")
			git(p.t, p.base, "init", "-q", "--bare", evil)
			writeFile(p.t, filepath.Join(evil, "hooks", "pre-commit"), p.evilHook(), 0o755)
			plantFile(p.t, p.path(".git/commondir"), evil+"\n", 0o644)
		},
		rel: ".git/commondir", what: "created inside the cage",
	}}
}

// configKey is a git config key that makes git run a program.
type configKey struct {
	name     string // as given to git config
	value    func(p *project) string
	plantToo func(p *project) // what else the planting needs in the worktree
	trigger  func(p *project)
}

func configKeys() []configKey {
	evil := func(p *project) string { return p.evil }
	return []configKey{{
		name: "core.fsmonitor", value: evil,
		trigger: func(p *project) { _, _ = gitTry(p.root, "status") },
	}, {
		name: "core.hooksPath",
		value: func(p *project) string {
			dir := filepath.Join(p.base, "evilhooks")
			writeFile(p.t, filepath.Join(dir, "pre-commit"), p.evilHook(), 0o755)
			return dir
		},
	}, {
		name: "core.sshCommand", value: evil,
		trigger: func(p *project) { _, _ = gitTry(p.root, "ls-remote", "ssh://example.invalid/repo.git") },
	}, {
		name: "core.pager", value: evil,
		trigger: func(p *project) { gitPTY(p.t, p.root, "log", "-1") },
	}, {
		name:    "alias.x",
		value:   func(p *project) string { return "!" + p.evil },
		trigger: func(p *project) { _, _ = gitTry(p.root, "x") },
	}, {
		name: "filter.x.clean", value: evil,
		plantToo: func(p *project) { writeFile(p.t, p.path(".gitattributes"), "* filter=x\n", 0o644) },
		trigger: func(p *project) {
			writeFile(p.t, p.path("README"), "filtered\n", 0o644)
			_, _ = gitTry(p.root, "add", "README")
		},
	}, {
		name: "remote.origin.uploadpack", value: evil,
		trigger: func(p *project) { _, _ = gitTry(p.root, "fetch", "-q", "origin") },
	}}
}

// section writes "[section "sub"]\n\tkey = value\n" for a key name.
func section(name, value string) string {
	first, rest, _ := strings.Cut(name, ".")
	i := strings.LastIndexByte(rest, '.')
	header := "[" + first + "]"
	if i >= 0 {
		header = fmt.Sprintf("[%s %q]", first, rest[:i])
	}
	var b bytes.Buffer
	writeValue(&b, value)
	return fmt.Sprintf("%s\n\t%s = %s\n", header, rest[i+1:], b.String())
}

// configPlantings plants each key three ways: with git config, appended to
// .git/config by hand, and in a new file renamed over .git/config (which
// also sets user.email, an allowed change that must stay).
func configPlantings() []planting {
	var out []planting
	for _, k := range configKeys() {
		what := "forbidden key " + strings.ToLower(k.name)
		plants := map[string]func(p *project){
			"git config": func(p *project) { p.git("config", k.name, k.value(p)) },
			"appended": func(p *project) {
				f, err := os.OpenFile(p.path(".git/config"), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					p.t.Fatal(err)
				}
				fmt.Fprint(f, section(k.name, k.value(p)))
				f.Close()
			},
			"renamed over": func(p *project) {
				cfg := readFile(p.t, p.path(".git/config")) + section(k.name, k.value(p)) +
					"[user]\n\temail = agent@example.com\n"
				new := filepath.Join(p.base, "config.new")
				writeFile(p.t, new, cfg, 0o644)
				if err := os.Rename(new, p.path(".git/config")); err != nil {
					p.t.Fatal(err)
				}
			},
		}
		for _, how := range []string{"git config", "appended", "renamed over"} {
			plant := plants[how]
			out = append(out, planting{
				name: k.name + " " + how,
				plant: func(p *project) {
					if k.plantToo != nil {
						k.plantToo(p)
					}
					plant(p)
				},
				rel: ".git/config", what: what, trigger: k.trigger,
				allowedToo: how == "renamed over",
			})
		}
	}
	return out
}

// plantFile creates a file the way code in the cage would, in one step:
// the watcher may remove it at once.
func plantFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// exchange swaps two paths atomically (renameat2 RENAME_EXCHANGE).
func exchange(t *testing.T, a, b string) {
	t.Helper()
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("exchanging %s and %s: %v", a, b, err)
	}
}

func allPlantings() []planting { return append(hookPlantings(), configPlantings()...) }

// TestPlantingsRunWithoutWatcher shows that each planting, left in place,
// does run code when the user runs git: the tests below would fail if the
// watcher did nothing.
func TestPlantingsRunWithoutWatcher(t *testing.T) {
	for _, pl := range allPlantings() {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t)
			if pl.setup != nil {
				pl.setup(p)
			}
			pl.plant(p)
			if pl.trigger != nil {
				pl.trigger(p)
			}
			p.runEverything()
			if !exists(p.marker) {
				t.Fatal("the planted code did not run: the test would prove nothing")
			}
		})
	}
}

// TestPlantingsAreUndone plants each way during a session and checks that
// the watcher undoes it within the deadline and reports it, and that git
// run afterwards outside the cage runs nothing planted.
func TestPlantingsAreUndone(t *testing.T) {
	for _, pl := range allPlantings() {
		t.Run(pl.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t)
			if pl.setup != nil {
				pl.setup(p)
			}
			p.start()
			pl.plant(p)
			ev := p.waitEvent(pl.rel, pl.what)
			if !strings.HasPrefix(ev.String(), "restored "+pl.rel+" (") {
				t.Errorf("event reads %q", ev)
			}
			p.w.sync()
			if pl.trigger != nil {
				pl.trigger(p)
			}
			p.runEverything()
			p.noMarker()
			if got := git(t, p.root, "config", "--get", "remote.origin.url"); got != p.origin {
				t.Errorf("remote.origin.url = %q after the restore", got)
			}
			if pl.allowedToo {
				if got := git(t, p.root, "config", "--get", "user.email"); got != "agent@example.com" {
					t.Errorf("the allowed change was lost: user.email = %q", got)
				}
			}
			events, err := p.w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 {
				t.Fatal("Close returned no events")
			}
			for _, e := range events {
				if e.Failed {
					t.Errorf("failed restore: %v", e)
				}
			}
		})
	}
}
