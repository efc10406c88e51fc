package hooks

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nasty is a binary path that direnv's way (pasting it unquoted) would
// break in every shell: spaces, both quotes, $, a backslash, a backquote,
// a glob, a semicolon and a newline.
const nasty = "/opt/my tools/it's \"a\" $HOME `x` \\ *;\n$(touch pwned)/aicage"

// checker is how a shell checks a script's syntax without running it.
var checker = map[string][]string{
	"bash": {"bash", "-n"},
	"zsh":  {"zsh", "-n"},
	"fish": {"fish", "--no-execute"},
}

func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s is not installed", prog)
	}
	return p
}

// TestHookScriptsParse: each hook file, as stored and as printed with a nasty
// binary path, is valid syntax for its shell; shellcheck finds nothing in
// the bash hook.
func TestHookScriptsParse(t *testing.T) {
	for _, shell := range Shells {
		t.Run(shell, func(t *testing.T) {
			c := checker[shell]
			need(t, c[0])
			raw, err := scripts.ReadFile("aicage." + shell)
			if err != nil {
				t.Fatal(err)
			}
			printed, err := Script(shell, nasty, nasty+".stamp")
			if err != nil {
				t.Fatal(err)
			}
			texts := map[string]string{"stored": string(raw), "printed": printed}
			for _, hook := range []*Hook{nil, {Root: "/p", Dirs: []string{"/a b"}}} {
				for _, look := range []Look{{}, {true, true, true}} {
					in, err := Init(shell, "/p/.aicage/state/tmp/x", Options{Look: look, Hook: hook, RC: "echo rc"})
					if err != nil {
						t.Fatal(err)
					}
					for name, content := range in.Files {
						texts[fmt.Sprintf("init %s %+v hook=%v", name, look, hook != nil)] = content
					}
				}
			}
			for name, text := range texts {
				f := filepath.Join(t.TempDir(), "hook."+shell)
				if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(c[0], append(c[1:], f)...).CombinedOutput(); err != nil {
					t.Errorf("%s %s: %v\n%s", strings.Join(c, " "), name, err, out)
				}
			}
		})
	}
}

func TestHookShellcheck(t *testing.T) {
	sc := need(t, "shellcheck")
	for _, f := range []string{"aicage.bash", "mark.bash"} {
		out, err := exec.Command(sc, "--shell=bash", f).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
}

// TestHookQuote: a quoted value, evaluated by the real shell, is exactly the
// value: no expansion, no word splitting, no command runs.
func TestHookQuote(t *testing.T) {
	values := []string{nasty, "", "'", `\'`, `\`, "a\tb", "$(id)", "${x:-y}", "é ü \xff", "--", "-e"}
	for _, shell := range Shells {
		t.Run(shell, func(t *testing.T) {
			need(t, shell)
			dir := t.TempDir()
			for _, v := range values {
				q, err := Quote(shell, v)
				if err != nil {
					t.Fatal(err)
				}
				code := "printf '%s' " + q
				cmd := exec.Command(shell, "-c", code)
				cmd.Dir = dir
				out, err := cmd.Output()
				if err != nil {
					t.Errorf("%s -c %q: %v", shell, code, err)
					continue
				}
				if string(out) != v {
					t.Errorf("%s: Quote(%q) = %s evaluates to %q", shell, v, q, out)
				}
			}
			if _, err := os.Lstat(filepath.Join(dir, "pwned")); err == nil {
				t.Errorf("%s ran a command substitution from a quoted value", shell)
			}
		})
	}
}

// TestHookScriptNamesBinary: the printed hook calls the binary by the quoted
// path, and reads the stamp by its quoted path, each in one place.
func TestHookScriptNamesBinary(t *testing.T) {
	for _, shell := range Shells {
		stamp := nasty + "/stamp"
		s, err := Script(shell, nasty, stamp)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{nasty, stamp} {
			q, _ := Quote(shell, v)
			if strings.Count(s, q) != 1 {
				t.Errorf("%s: the quoted path %q appears %d times, want 1", shell, v, strings.Count(s, q))
			}
		}
		if strings.Contains(s, binLine[shell]) || strings.Contains(s, stampLine[shell]) {
			t.Errorf("%s: a placeholder line is still there", shell)
		}
	}
}

func TestHookUnknownShell(t *testing.T) {
	_, err := Script("tcsh", "/bin/aicage", "/s")
	var ue *UnknownShellError
	if !errors.As(err, &ue) {
		t.Fatalf("Script(tcsh) = %v, want an UnknownShellError", err)
	}
	if h := ue.Hint(); h != "supported shells: bash, fish, zsh" {
		t.Errorf("hint %q", h)
	}
	if _, err := Init("sh", "/d", Options{}); err == nil {
		t.Error("Init(sh) did not fail")
	}
}

func TestHookShellOf(t *testing.T) {
	for prog, want := range map[string]string{
		"/usr/bin/bash": "bash", "zsh": "zsh", "/usr/local/bin/fish": "fish",
		"/bin/sh": "", "/usr/bin/dash": "", "/opt/bash/tcsh": "",
	} {
		if got := ShellOf(prog); got != want {
			t.Errorf("ShellOf(%q) = %q, want %q", prog, got, want)
		}
	}
}

// TestHookInstall: the hook puts itself first among the prompt hooks, keeps
// the others (a PROMPT_COMMAND string or array, precmd_functions, fish
// event handlers) and is installed once however often it is evaluated.
func TestHookInstall(t *testing.T) {
	cases := []struct {
		shell, before, show, want string
	}{
		{"bash", `PROMPT_COMMAND='other1; other2'`, `declare -p PROMPT_COMMAND`,
			`declare -- PROMPT_COMMAND="_aicage_hook;other1; other2"`},
		{"bash", `PROMPT_COMMAND=(other1 other2)`, `declare -p PROMPT_COMMAND`,
			`declare -a PROMPT_COMMAND=([0]="_aicage_hook" [1]="other1" [2]="other2")`},
		{"bash", `unset PROMPT_COMMAND`, `declare -p PROMPT_COMMAND`,
			`declare -- PROMPT_COMMAND="_aicage_hook"`},
		{"zsh", `precmd_functions=(other1 other2)`, `print -r -- "$precmd_functions"`,
			`_aicage_hook other1 other2`},
		{"fish", `function other --on-event fish_prompt; end`,
			`functions --handlers-type generic | string match '*fish_prompt*' | string match -v '*__fish*' | string join ' '`,
			`fish_prompt other fish_prompt __aicage_hook`},
	}
	for _, c := range cases {
		need(t, c.shell)
		s, err := Script(c.shell, "/bin/false", "/nonexistent/stamp")
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "hook")
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		q, _ := Quote(c.shell, f)
		code := c.before + "\nsource " + q + "\nsource " + q + "\n" + c.show
		out, err := exec.Command(c.shell, "-c", code).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("%s after %s and two installs:\n got %s (%v)\nwant %s", c.shell, c.before, got, err, c.want)
		}
	}
}

// TestMarkInstall: the mark's prompt function goes last among the prompt
// hooks, after the user's prompt command, keeps the others, and is
// installed once however often the init runs; it prepends the marker to a
// prompt once, even when the prompt is kept between prompts.
func TestMarkInstall(t *testing.T) {
	cases := []struct {
		shell, before, show, want string
	}{
		{"bash", `PROMPT_COMMAND='other1; other2'`, `declare -p PROMPT_COMMAND`,
			`declare -- PROMPT_COMMAND="other1; other2;_aicage_prompt"`},
		{"bash", `PROMPT_COMMAND=(other1 other2)`, `declare -p PROMPT_COMMAND`,
			`declare -a PROMPT_COMMAND=([0]="other1" [1]="other2" [2]="_aicage_prompt")`},
		{"bash", ``, `PS1='x$ '; _aicage_prompt; _aicage_prompt; printf '%s\n' "$PS1"`, `(aicage) x$`},
		{"bash", ``, `PS1='[(aicage)] x$ '; _aicage_prompt; printf '%s\n' "$PS1"`, `[(aicage)] x$`},
		{"zsh", `precmd_functions=(other1 other2)`, `print -r -- "$precmd_functions"`,
			`other1 other2 _aicage_prompt`},
		{"zsh", ``, `PS1='x%# '; _aicage_prompt; _aicage_prompt; print -r -- "$PS1"`, `(aicage) x%#`},
	}
	for _, c := range cases {
		need(t, c.shell)
		in, err := Init(c.shell, "/d", Options{Look: Look{Mark: true}})
		if err != nil {
			t.Fatal(err)
		}
		name := map[string]string{"bash": "bashrc", "zsh": ".zshrc"}[c.shell]
		// the rc part only: the private home's rc file is not there
		text := in.Files[name]
		f := filepath.Join(t.TempDir(), "init")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		q, _ := Quote(c.shell, f)
		code := "HOME=/nonexistent\n" + c.before + "\nsource " + q + "\nsource " + q + "\n" + c.show
		out, err := exec.Command(c.shell, "-c", code).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("%s after %s and two inits:\n got %s (%v)\nwant %s", c.shell, c.before, got, err, c.want)
		}
	}
}
