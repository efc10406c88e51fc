package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The completion tests type TAB in real interactive shells on a
// pseudo-terminal, in the hook tests' isolated worlds, with each script
// installed the way the README says. The aicage on the shells' PATH is a
// wrapper: completion goes to the real binary, anything else only echoes
// its arguments, so that Enter after a TAB shows the line the shell
// completed.

const completionConfig = `profile = "offline"

[commands.claude]
argv = ["claude"]
description = "Claude Code"

[commands.aider]
argv = ["aider"]

[profiles.strict]
extends = "offline"
`

// completionInstalls are the ways the README installs the scripts.
var completionInstalls = []struct{ name, shell string }{
	{"bash", "bash"},           // source <(aicage completion bash) in ~/.bashrc
	{"zsh", "zsh"},             // source <(aicage completion zsh) after compinit
	{"zsh-fpath", "zsh"},       // saved as _aicage in a directory of $fpath
	{"fish", "fish"},           // saved in ~/.config/fish/completions/aicage.fish
	{"bash-file", "bash"},      // saved as an rc-sourced file, no process substitution
	{"fish-sourced", "fish"},   // aicage completion fish | source
	{"zsh-broken", "zsh"},      // sourced, and the project's config is broken
	{"bash-noproject", "bash"}, // sourced, with no config anywhere above
}

// completionWorld is a hook world with the completion wrapper first on the
// PATH and the completion config in the (untrusted) project.
func completionWorld(t *testing.T, uid int, install, shell string) (*hookWorld, string) {
	t.Helper()
	w := newHookWorld(t, uid, "")
	bin := filepath.Join(w.base, "bin")
	w.mkdir(bin)
	w.write(filepath.Join(bin, "aicage"), "#!/bin/sh\n"+
		"case $1 in __complete|completion) exec "+hookQuoteFor("bash", w.bin)+" \"$@\" ;; esac\n"+
		"printf 'RAN:'; printf ' [%s]' \"$@\"; echo\n", 0o755)
	for i, kv := range w.env {
		if strings.HasPrefix(kv, "PATH=") {
			w.env[i] = "PATH=" + bin + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	w.write(filepath.Join(w.untrusted, ".aicage.toml"), completionConfig, 0o644)
	w.write(filepath.Join(w.broken, ".aicage.toml"), "[network]\nconect = [443]\n"+completionConfig, 0o644)
	script := w.run(w.base, w.bin, "completion", shell)
	var rc string
	switch install {
	case "bash", "bash-noproject":
		rc = "PS1='OUTER$ '\nsource <(aicage completion bash)\n"
	case "bash-file":
		f := filepath.Join(w.home, ".local", "share", "bash-completion", "completions", "aicage")
		w.mkdir(filepath.Dir(f))
		w.write(f, script, 0o644)
		rc = "PS1='OUTER$ '\nsource " + hookQuoteFor("bash", f) + "\n"
	case "zsh", "zsh-broken":
		rc = "PS1='OUTER%# '\nautoload -Uz compinit && compinit -u -D\nsource <(aicage completion zsh)\n"
	case "zsh-fpath":
		dir := filepath.Join(w.base, "rc", "zfunc")
		w.mkdir(dir)
		w.write(filepath.Join(dir, "_aicage"), script, 0o644)
		rc = "PS1='OUTER%# '\nfpath=(" + hookQuoteFor("zsh", dir) + " $fpath)\nautoload -Uz compinit && compinit -u -D\n"
	case "fish":
		f := filepath.Join(w.home, ".config", "fish", "completions", "aicage.fish")
		w.mkdir(filepath.Dir(f))
		w.write(f, script, 0o644)
		rc = "set -g fish_greeting\nfunction fish_prompt; printf 'OUTER> '; end\n"
	case "fish-sourced":
		rc = "set -g fish_greeting\nfunction fish_prompt; printf 'OUTER> '; end\naicage completion fish | source\n"
	}
	return w, rc
}

func TestCompletionInShells(t *testing.T) {
	for _, in := range completionInstalls {
		for _, uid := range hookUsers(t) {
			t.Run(in.name+"/"+hookUserName(uid), func(t *testing.T) {
				if _, err := exec.LookPath(in.shell); err != nil {
					t.Skipf("%s is not installed", in.shell)
				}
				t.Parallel()
				w, rc := completionWorld(t, uid, in.name, in.shell)
				switch in.name {
				case "zsh-broken":
					completeBroken(t, w, in.shell, rc)
				case "bash-noproject":
					completeNoProject(t, w, in.shell, rc)
				default:
					completeProject(t, w, in.shell, rc)
				}
			})
		}
	}
}

// completeProject: in a subdirectory of an untrusted project, TAB
// completes the command names of its config for run, commands, template
// and profile names, and lists the profiles.
func completeProject(t *testing.T, w *hookWorld, shell, rc string) {
	dir := filepath.Join(w.untrusted, "sub")
	s := w.startShell(shell, dir, rc)
	start := time.Now()
	s.tab(`aicage run cl`, `RAN: \[run\] \[claude\]`)
	s.tab(`aicage ini`, `RAN: \[init\]`)
	s.tab(`aicage init --template cl`, `RAN: \[init\] \[--template\] \[claude\]`)
	s.tab(`aicage run --profile st`, `RAN: \[run\] \[--profile\] \[strict\]`)
	s.tab(`aicage init --template=cl`, `RAN: \[init\] \[--template=claude\]`)
	s.tab(`aicage --best-e`, `RAN: \[--best-effort\]`)
	s.tab(`aicage status --j`, `RAN: \[status\] \[--json\]`)
	s.list(`aicage --profile `, "offline", "aiAgent", "devNet", "strict")
	s.list(`aicage run `, "claude", "aider")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%s: the completions took %v", shell, d)
	}
}

// completeBroken: a config that does not decode gives no command names
// and prints nothing, while the names that do not depend on it work.
func completeBroken(t *testing.T, w *hookWorld, shell, rc string) {
	s := w.startShell(shell, filepath.Join(w.broken, "sub"), rc)
	from := s.mark()
	s.tab(`aicage run `, `RAN: \[run\]`)
	if out := s.output(from); strings.Contains(out, "aicage:") || strings.Contains(out, "conect") || strings.Contains(out, "claude") {
		t.Errorf("%s: completion with a broken config printed:\n%s", shell, out)
	}
	s.tab(`aicage ini`, `RAN: \[init\]`)
}

// completeNoProject: without any config, the built-in profiles are still
// offered.
func completeNoProject(t *testing.T, w *hookWorld, shell, rc string) {
	s := w.startShell(shell, w.elsewhere, rc)
	s.list(`aicage --profile `, "offline", "aiAgent", "devNet")
	s.tab(`aicage --profile of`, `RAN: \[--profile\] \[offline\]`)
}

// tab types line, a TAB and Enter, and waits for the wrapper to show the
// arguments it was run with (the typed line cannot match: it has no
// brackets) and for the next prompt.
func (s *hookShell) tab(line, ran string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(line + "\t")); err != nil {
		s.t.Fatalf("typing %q: %v", line, err)
	}
	s.send("")
	s.expect(regexp.MustCompile(ran + `\r?\n`))
	s.expect(outerPrompt)
}

// list types line and TAB (twice in bash, which lists on the second), and
// waits until every one of names has been shown; then it empties the line
// and checks that it is empty.
func (s *hookShell) list(line string, names ...string) {
	s.t.Helper()
	from := s.mark()
	tabs := "\t"
	if s.name == "bash" {
		tabs = "\t\t"
	}
	if _, err := s.ptmx.Write([]byte(line + tabs)); err != nil {
		s.t.Fatalf("typing %q: %v", line, err)
	}
	deadline := time.Now().Add(hookWait)
	for {
		out := s.output(from)
		missing := ""
		for _, n := range names {
			if !regexp.MustCompile(`\b` + n + `\b`).MatchString(out) {
				missing = n
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %q TAB does not list %q; screen since:\n%s", s.name, line, missing, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Ctrl-U empties the line in all three; a Ctrl-C would race with
	// what is typed next in bash, whose readline sees it late.
	if _, err := s.ptmx.Write([]byte("\x15")); err != nil {
		s.t.Fatalf("typing Ctrl-U: %v", err)
	}
	s.tab("aicage sync", `RAN: \[sync\]`)
}
