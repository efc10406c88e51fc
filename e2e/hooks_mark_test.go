package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Issue 19: a shell that 'aicage shell' starts by hand (no hook) shows
// that it is caged: "(aicage) " before the user's own prompt, whether the
// prompt is a plain one set once by the rc file or one a prompt command
// sets at every prompt (starship's way), and "(aicage) DIR" as the
// terminal's title, restored when the cage ends. NO_COLOR leaves the
// marker plain; AICAGE_PROMPT=0 and AICAGE_TITLE=0 turn the marker and the
// title off.

// markRC is the private home's rc file: a plain prompt "CAGED" set once,
// or a starship-style one, "STAR" and a count, set at every prompt by a
// prompt command (fish: by fish_prompt, counting too).
func markRC(shell string, starship bool) (file, rc string) {
	switch shell {
	case "bash":
		if starship {
			return ".bashrc", "_n=0\n_star() { _n=$((_n + 1)); PS1=\"STAR$_n\\$ \"; }\nPROMPT_COMMAND=_star\n"
		}
		return ".bashrc", "PS1='CAGED$ '\n"
	case "zsh":
		if starship {
			return ".zshrc", "_n=0\n_star() { _n=$((_n + 1)); PROMPT=\"STAR$_n%# \" }\nprecmd_functions+=(_star)\n"
		}
		return ".zshrc", "PS1='CAGED%# '\n"
	}
	if starship {
		return ".config/fish/config.fish", "set -g _n 0\nfunction fish_prompt; set -g _n (math $_n + 1); printf 'STAR%s> ' $_n; end\n"
	}
	return ".config/fish/config.fish", "function fish_prompt; printf 'CAGED> '; end\n"
}

// startCagedShell runs 'aicage shell' by hand in the project, with shell
// as $SHELL and env added to the world's.
func (w *hookWorld) startCagedShell(shell string, env ...string) *hookShell {
	w.t.Helper()
	prog, err := exec.LookPath(shell)
	if err != nil {
		w.t.Skipf("%s is not installed", shell)
	}
	e := append(append(append([]string(nil), w.env...), "SHELL="+prog, "PWD="+w.proj), env...)
	return w.startPty("aicage shell ("+shell+")", w.proj, e, w.bin, "shell")
}

// sgr is any run of colour sequences.
const sgr = `(?:\x1b\[[0-9;]*m|\x1b\(B)*`

func TestHookMark(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		home := filepath.Join(w.proj, ".aicage", "state", "home")
		// bash and zsh: the directory; fish: whatever fish_title says
		title := regexp.MustCompile(`\x1b\][02];\(aicage\) [^\x07\x1b]*proj\x07`)

		// a plain prompt, in colour, with the title
		file, rc := markRC(shell, false)
		w.mkdir(filepath.Dir(filepath.Join(home, file)))
		w.write(filepath.Join(home, file), rc, 0o644)
		if uid >= 0 {
			w.chownAll()
		}
		s := w.startCagedShell(shell)
		s.expect(regexp.MustCompile(`\x1b\[22;0t`)) // the title saved
		s.expect(title)
		s.expect(regexp.MustCompile(`\x1b\[33m\(aicage\) ` + sgr + `CAGED[$%#>] `))
		s.at("aicage shell by hand", where{true, w.proj})
		if s.readsCanary(w) {
			t.Errorf("%s: the real ~/.ssh/id_canary was readable in the shell", shell)
		}
		s.send("exit")
		s.expect(regexp.MustCompile(`\x1b\[23;0t`)) // and restored
		s.stop()

		// a starship-style prompt, set at every prompt: the marker at
		// each one; NO_COLOR: no colour
		file, rc = markRC(shell, true)
		w.write(filepath.Join(home, file), rc, 0o644)
		s = w.startCagedShell(shell, "NO_COLOR=1")
		s.expect(regexp.MustCompile(`\(aicage\) STAR1[$%#>] `))
		s.send("true")
		s.expect(regexp.MustCompile(`\(aicage\) STAR2[$%#>] `))
		s.at("a prompt command's prompt", where{true, w.proj})
		if strings.Contains(s.output(0), "(aicage) (aicage)") {
			t.Errorf("%s: the marker was added twice", shell)
		}
		if regexp.MustCompile(`\x1b\[33m\(aicage\)`).MatchString(s.raw()) {
			t.Errorf("%s: the marker is coloured under NO_COLOR", shell)
		}
		s.stop()

		// switched off: neither marker nor title
		file, rc = markRC(shell, false)
		w.write(filepath.Join(home, file), rc, 0o644)
		s = w.startCagedShell(shell, "AICAGE_PROMPT=0", "AICAGE_TITLE=0")
		s.expect(regexp.MustCompile(`CAGED[$%#>] `))
		s.at("marker and title off", where{true, w.proj})
		if out := s.output(0); strings.Contains(out, "(aicage)") {
			t.Errorf("%s: a marker with AICAGE_PROMPT=0:\n%s", shell, out)
		}
		if raw := s.raw(); title.MatchString(raw) || strings.Contains(raw, "\x1b[22;0t") {
			t.Errorf("%s: the title was set with AICAGE_TITLE=0", shell)
		}
	})
}

// raw is everything the terminal received.
func (s *hookShell) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestHookUserRC: the user's rc for cages ($XDG_CONFIG_HOME/aicage/rc.SHELL,
// outside the cage) runs in every caged shell, after the private home's rc
// file and under the marker: its prompt and its functions are there. The
// cage gets a copy; the original stays out of reach.
func TestHookUserRC(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		var rc string
		switch shell {
		case "bash":
			rc = "PS1='RC$ '\nhello() { echo \"HELLO-FROM-$1\"; }\n"
		case "zsh":
			rc = "PS1='RC%# '\nhello() { echo \"HELLO-FROM-$1\" }\n"
		case "fish":
			rc = "function fish_prompt; printf 'RC> '; end\nfunction hello; echo HELLO-FROM-$argv[1]; end\n"
		}
		orig := filepath.Join(w.home, ".config", "aicage", "rc."+shell)
		w.mkdir(filepath.Dir(orig))
		w.write(orig, rc, 0o644)
		if uid >= 0 {
			w.chownAll()
		}
		s := w.startCagedShell(shell)
		s.expect(regexp.MustCompile(`\(aicage\) ` + sgr + `RC[$%#>] `))
		s.send("hello R''C")
		s.expect(regexp.MustCompile(`HELLO-FROM-RC\r?\n`))
		s.at("a shell with the user's rc for cages", where{true, w.proj})
		from := s.mark()
		s.send("cat " + hookQuote(orig) + "; echo CAT''-done")
		s.expect(regexp.MustCompile(`CAT-done`))
		if out := s.output(from); strings.Contains(out, "HELLO-FROM-$") || strings.Contains(out, "HELLO-FROM-$argv") {
			t.Errorf("%s: the original rc for cages was readable in the cage:\n%s", shell, out)
		}
	})
}
