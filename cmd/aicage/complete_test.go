package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const completeConfig = `profile = "offline"

[commands.claude]
argv = ["claude"]
description = "Claude Code"

[commands.codex]
argv = ["codex", "--full-auto"]

[profiles.strict]
extends = "offline"
`

// runComplete runs 'aicage __complete WORDS…' in dir and returns its
// output lines and what it printed to stderr.
func runComplete(t *testing.T, dir string, words ...string) (lines []string, errOut string) {
	t.Helper()
	t.Chdir(dir)
	var out, errBuf bytes.Buffer
	stderr = &errBuf
	defer func() { stderr = os.Stderr }()
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errBuf
	if code := exitCode(app.Run(append([]string{"aicage", completeCommand}, words...))); code != 0 {
		t.Fatalf("__complete %q: exit %d, stderr:\n%s", words, code, errBuf.String())
	}
	text := strings.TrimSuffix(out.String(), "\n")
	if text == "" {
		return nil, errBuf.String()
	}
	return strings.Split(text, "\n"), errBuf.String()
}

// words returns the candidates of lines, without their descriptions.
func words(lines []string) []string {
	var ws []string
	for _, l := range lines {
		w, _, _ := strings.Cut(l, "\t")
		ws = append(ws, w)
	}
	return ws
}

func completeWorld(t *testing.T, config string) (proj, sub string) {
	t.Helper()
	base := t.TempDir()
	home := filepath.Join(base, "home")
	proj = filepath.Join(base, "proj")
	sub = filepath.Join(proj, "src", "deep")
	for _, d := range []string{filepath.Join(home, ".config", "aicage", "profiles"), sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"} {
		t.Setenv(v, "")
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "aicage", "profiles", "mine.toml"), []byte("extends = \"offline\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(proj, ".aicage.toml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proj, sub
}

func TestCompleteWords(t *testing.T) {
	_, sub := completeWorld(t, completeConfig)
	for _, tc := range []struct {
		words []string
		want  string // the candidates, space-separated
	}{
		{[]string{"ini"}, "init"},
		{[]string{"s"}, "schema shell status"},
		{[]string{"schema", ""}, "config status doctor"},
		{[]string{"--p"}, "--profile"},
		{[]string{"-"}, "--profile --best-effort --help --version"},
		{[]string{"--profile", ""}, "offline aiAgent devNet strict mine"},
		{[]string{"--profile", "st"}, "strict"},
		{[]string{"--profile=of"}, "--profile=offline"},
		{[]string{"--profile", "strict", "r"}, "run"},
		{[]string{"--best-effort", "ru"}, "run"},
		{[]string{"run", ""}, "claude codex"},
		{[]string{"run", "cl"}, "claude"},
		{[]string{"run", "--profile", "strict", "co"}, "codex"},
		{[]string{"run", "--profile", "d"}, "devNet"},
		{[]string{"run", "-"}, "--profile --best-effort --help --"},
		{[]string{"run", "--", ""}, ":commands"},
		{[]string{"run", "--", "ls", ""}, ":files"},
		{[]string{"run", "claude", ""}, ":files"},
		{[]string{"shell", "--profile", "a"}, "aiAgent"},
		{[]string{"shell", "x", ""}, ""},
		{[]string{"init", "--template", "cl"}, "claude"},
		{[]string{"init", "--template=co"}, "--template=codex --template=copilot"},
		{[]string{"init", "-"}, "--template --force --help"},
		{[]string{"init", "x", ""}, ""},
		{[]string{"status", "--"}, "--json --help"},
		{[]string{"allow", ""}, ":dirs"},
		{[]string{"allow", "a", ""}, ""},
		{[]string{"hook", ""}, "bash fish zsh"},
		{[]string{"completion", "z"}, "zsh"},
		{[]string{"edit", ""}, ""},
		{[]string{"nosuch", ""}, ""},
		{[]string{completeCommand, ""}, ""},
		{[]string{"__"}, ""},
	} {
		got, errOut := runComplete(t, sub, tc.words...)
		if g := strings.Join(words(got), " "); g != tc.want {
			t.Errorf("__complete %q = %q, want %q", tc.words, g, tc.want)
		}
		if errOut != "" {
			t.Errorf("__complete %q printed to stderr: %q", tc.words, errOut)
		}
	}
}

func TestCompleteDescriptions(t *testing.T) {
	_, sub := completeWorld(t, completeConfig)
	got, _ := runComplete(t, sub, "run", "")
	want := []string{"claude\tClaude Code", "codex\tcodex --full-auto"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("__complete run '' =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got, _ = runComplete(t, sub, "--profile", "")
	for _, l := range got {
		if !strings.Contains(l, "\t") || strings.Count(l, "\t") != 1 {
			t.Errorf("candidate %q: want one tab before a description", l)
		}
	}
}

// A config that does not decode, or none at all, gives the names that do
// not depend on it, and never an error: completion happens at every tab.
func TestCompleteBrokenConfig(t *testing.T) {
	for name, config := range map[string]string{
		"unknown key": "profile = \"offline\"\n[network]\nconect = [443]\n[commands.claude]\nargv = [\"claude\"]\n",
		"syntax":      "[commands.claude\n",
		"none":        "",
	} {
		t.Run(name, func(t *testing.T) {
			_, sub := completeWorld(t, config)
			for _, tc := range []struct {
				words []string
				want  string
			}{
				{[]string{"run", "cl"}, ""},
				{[]string{"--profile", ""}, "offline aiAgent devNet mine"},
				{[]string{"ini"}, "init"},
			} {
				got, errOut := runComplete(t, sub, tc.words...)
				if g := strings.Join(words(got), " "); g != tc.want {
					t.Errorf("__complete %q = %q, want %q", tc.words, g, tc.want)
				}
				if errOut != "" {
					t.Errorf("__complete %q printed to stderr: %q", tc.words, errOut)
				}
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out bytes.Buffer
		app := newApp()
		app.Writer = &out
		if code := exitCode(app.Run([]string{"aicage", "completion", shell})); code != 0 {
			t.Fatalf("completion %s: exit %d", shell, code)
		}
		if !strings.Contains(out.String(), "aicage "+completeCommand) {
			t.Errorf("completion %s: the script does not call aicage %s:\n%s", shell, completeCommand, out.String())
		}
	}
	var errBuf bytes.Buffer
	stderr = &errBuf
	defer func() { stderr = os.Stderr }()
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "../bash"}, {"completion", "bash", "zsh"}} {
		errBuf.Reset()
		app := newApp()
		app.Writer = &bytes.Buffer{}
		if code := exitCode(app.Run(append([]string{"aicage"}, args...))); code != exitSetup {
			t.Errorf("%q: exit %d, want %d", args, code, exitSetup)
		}
		if e := errBuf.String(); !strings.Contains(e, "aicage: error: ") || !strings.Contains(e, "aicage: hint: ") {
			t.Errorf("%q: want an error and a hint, got:\n%s", args, e)
		}
	}
}

// A description from an untrusted config reaches the user's terminal in
// zsh's and fish's menus: no control character gets through.
func TestCompleteDescriptionsHaveNoControls(t *testing.T) {
	dir := t.TempDir()
	config := "[commands.ok]\nargv = [\"true\", \"\\u001b]52;c;ZXZpbA==\\u0007\"]\n" +
		"[commands.ok2]\nargv = [\"true\"]\ndescription = \"one\\u001b[31m\\u009b2J\\rtwo\\nthree\"\n"
	if err := os.WriteFile(filepath.Join(dir, ".aicage.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, _ := runComplete(t, dir, "run", "")
	if len(lines) != 2 {
		t.Fatalf("candidates %q", lines)
	}
	for _, l := range lines {
		word, desc, _ := strings.Cut(l, "\t")
		for _, r := range desc {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
				t.Errorf("candidate %s: control character %U in %q", word, r, desc)
			}
		}
		if strings.Contains(desc, "three") {
			t.Errorf("candidate %s: a second line in %q", word, desc)
		}
	}
}
