package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// Issue 4: the shell hooks, in real interactive bash, zsh and fish. Each
// test below would fail if the hook were removed: the shell would never
// enter a cage, or the secret would be readable at the caged prompt.

var hookShells = []string{"bash", "zsh", "fish"}

// forEachHookShell runs f for every shell, as the suite's user and, under
// root, as uid 65534. Shells that are not installed are skipped with a
// message.
func forEachHookShell(t *testing.T, f func(t *testing.T, shell string, uid int)) {
	for _, shell := range hookShells {
		for _, uid := range hookUsers(t) {
			t.Run(shell+"/"+hookUserName(uid), func(t *testing.T) {
				if _, err := exec.LookPath(shell); err != nil {
					t.Skipf("%s is not installed", shell)
				}
				t.Parallel()
				f(t, shell, uid)
			})
		}
	}
}

// TestHookEnterLeave: cd into a trusted project enters the cage (the real
// ~/.ssh is unreadable at that prompt); cd .. leaves it for the parent,
// where the prompt works and the secret is readable again; cd to any other
// place and popd leave it too, landing where the user asked.
func TestHookEnterLeave(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		parent := filepath.Dir(w.proj)
		s := w.startShell(shell, parent, hookRC(shell, w.bin))
		s.at("start", where{false, parent})
		if !s.readsCanary(w) {
			t.Fatalf("%s: the canary is not readable outside any cage: the test proves nothing", shell)
		}

		s.cd(w.proj, true)
		s.at("cd into the project", where{true, w.proj})
		if s.readsCanary(w) {
			t.Errorf("%s: the real ~/.ssh/id_canary was readable at the caged prompt", shell)
		}

		s.cd("..", false)
		s.at("cd .. from the project", where{false, parent})
		if !s.readsCanary(w) {
			t.Errorf("%s: the canary is not readable after leaving the cage", shell)
		}

		s.cd(w.proj, true)
		s.cd(w.elsewhere, false)
		s.at("cd elsewhere from the project", where{false, w.elsewhere})

		s.do("pushd "+hookQuote(w.proj), true)
		s.at("pushd into the project", where{true, w.proj})
		s.do("popd", false)
		s.at("popd out of the project", where{false, w.elsewhere})

		// through a symlink, the cage keeps the path the user came by,
		// and cd .. leaves for the parent of that path
		link := filepath.Join(w.base, "link")
		if err := os.Symlink(filepath.Dir(w.proj), link); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			os.Lchown(link, uid, uid)
		}
		// trust is keyed by the path the config was found by
		w.run(filepath.Join(link, "proj"), w.bin, "allow")
		s.cd(filepath.Join(link, "proj"), true)
		s.at("cd into the project through a symlink", where{true, filepath.Join(link, "proj")})
		s.cd("..", false)
		s.at("cd .. from the project through a symlink", where{false, link})
	})
}

// TestHookSubdirExit: arriving in a subdirectory enters the cage there;
// exit leaves the user in the outer shell in the same place, and the hook
// does not enter again until the user has left the project and come back.
func TestHookSubdirExit(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		deep := filepath.Join(w.proj, "sub", "deep")
		s := w.startShell(shell, w.elsewhere, hookRC(shell, w.bin))

		s.cd(deep, true)
		s.at("cd into a subdirectory", where{true, deep})
		s.cd("..", true)
		s.at("cd .. inside the project", where{true, filepath.Dir(deep)})

		s.do("exit", false)
		s.at("exit", where{false, filepath.Dir(deep)})
		s.cd(w.proj, false)
		s.at("cd inside the project after exit", where{false, w.proj})
		s.cd("sub", false)
		s.at("cd again inside the project after exit", where{false, filepath.Dir(deep)})

		s.cd(w.elsewhere, false)
		s.cd(w.proj, true)
		s.at("back in the project after leaving it", where{true, w.proj})

		// a shell started inside a trusted project enters at once
		s2 := w.startShellNoPrompt(shell, deep, hookRC(shell, w.bin))
		s2.expect(innerPrompt)
		s2.at("shell started in the project", where{true, deep})
	})
}

// TestHookMessages: an untrusted project prints one line, the blocked
// line, and enters nothing (the hook never prompts); a config with an
// error prints the error once; a directory without a config prints
// nothing. Moving around inside them says nothing more.
func TestHookMessages(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		s := w.startShell(shell, w.elsewhere, hookRC(shell, w.bin))

		from := s.mark()
		s.cd(w.untrusted, false)
		s.at("cd into an untrusted project", where{false, w.untrusted})
		out := s.output(from)
		want := fmt.Sprintf("aicage: %s is blocked, run 'aicage allow'\n", filepath.Join(w.untrusted, ".aicage.toml"))
		if strings.Count(out, "aicage:") != 1 || strings.Count(out, want) != 1 {
			t.Errorf("%s: entering an untrusted project printed\n%s\nwant exactly the line %q", shell, out, want)
		}
		from = s.mark()
		s.cd("sub", false)
		s.at("cd inside the untrusted project", where{false, filepath.Join(w.untrusted, "sub")})
		if out := s.output(from); strings.Contains(out, "aicage:") {
			t.Errorf("%s: the blocked line came again inside the same project:\n%s", shell, out)
		}

		from = s.mark()
		s.cd(w.broken, false)
		s.at("cd into a project whose config has an error", where{false, w.broken})
		out = s.output(from)
		if !regexp.MustCompile(`aicage: error: .*\.aicage\.toml:3:1: .*conect`).MatchString(out) || strings.Count(out, "aicage: error:") != 1 {
			t.Errorf("%s: a config error printed\n%s\nwant one error line naming the file, line and key", shell, out)
		}
		from = s.mark()
		s.cd("sub", false)
		s.at("cd inside the broken project", where{false, filepath.Join(w.broken, "sub")})
		if out := s.output(from); strings.Contains(out, "aicage:") {
			t.Errorf("%s: the error came again:\n%s", shell, out)
		}

		from = s.mark()
		s.cd(w.plain, false)
		s.cd("sub", false)
		s.at("cd into a directory without a config", where{false, filepath.Join(w.plain, "sub")})
		if out := s.output(from); strings.Contains(out, "aicage:") {
			t.Errorf("%s: a directory without a config printed:\n%s", shell, out)
		}

		// allowing the project lets the next cd into it enter
		w.run(w.untrusted, w.bin, "allow")
		s.cd(w.untrusted, true)
		s.at("cd into the project once allowed", where{true, w.untrusted})
	})
}

// TestHookCoexists: the hook keeps $?, runs beside another prompt hook
// and direnv's hook (each still runs), and installing it twice is
// harmless.
func TestHookCoexists(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		envdir := filepath.Join(filepath.Dir(w.proj), "envdir")
		w.mkdir(envdir)
		w.write(filepath.Join(envdir, ".envrc"), "export HOOKTEST_DIRENV=loaded\n", 0o644)
		direnv, err := exec.LookPath("direnv")
		if err == nil {
			w.run(envdir, direnv, "allow")
		}
		s := w.startShell(shell, w.elsewhere, coexistRC(shell, w.bin, direnv))

		s.send("false")
		s.expect(outerPrompt)
		s.send(`echo "STATUS-1 $` + statusVar(shell) + `"`)
		s.expect(regexp.MustCompile(`STATUS-1 1\r?\n`))
		s.send("cd " + hookQuote(w.plain) + "; false")
		s.expect(outerPrompt)
		s.send(`echo "STATUS-2 $` + statusVar(shell) + `"`)
		if m := s.expect(regexp.MustCompile(`STATUS-2 (\d+)\r?\n`)); m[1] != "1" {
			t.Errorf("%s: $? after a prompt where the hook ran is %s, want 1", shell, m[1])
		}

		before := s.counter()
		s.cd(w.proj, true)
		s.at("enter beside other hooks", where{true, w.proj})
		s.cd("..", false)
		s.at("leave beside other hooks", where{false, filepath.Dir(w.proj)})
		if after := s.counter(); after <= before {
			t.Errorf("%s: the other prompt hook stopped running (%d, then %d)", shell, before, after)
		}
		s.send(installedCount(shell))
		if m := s.expect(regexp.MustCompile(`INSTALLED (\d+)\r?\n`)); m[1] != "1" {
			t.Errorf("%s: the hook is installed %s times after two evals, want 1", shell, m[1])
		}
		if direnv != "" {
			s.cd(envdir, false)
			s.send(`echo "DIRENV $HOOKTEST_DIRENV"`)
			s.expect(regexp.MustCompile(`DIRENV loaded\r?\n`))
		} else {
			t.Logf("direnv is not installed: its hook is not tested beside aicage's")
		}
	})
}

// TestHookQuotedBinary: the hook works when the aicage binary lives at a
// path with spaces, quotes and $ in it.
func TestHookQuotedBinary(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, `my tools/it's "q" $HOME $(x) \ ;/aicage`)
		s := w.startShell(shell, w.elsewhere, hookRC(shell, w.bin))
		s.cd(w.proj, true)
		s.at("enter with a quoted binary path", where{true, w.proj})
		s.cd(w.elsewhere, false)
		s.at("leave with a quoted binary path", where{false, w.elsewhere})
	})
}

// TestHookScripts runs the scripts in testdata/hooks: the hook command's
// own behaviour, without a terminal.
func TestHookScripts(t *testing.T) {
	p := params("testdata/hooks")
	testscript.Run(t, p)
}

func statusVar(shell string) string {
	if shell == "fish" {
		return "status"
	}
	return "?"
}

// coexistRC installs another prompt hook, direnv's hook when direnv is
// installed, and aicage's hook twice.
func coexistRC(shell, bin, direnv string) string {
	rc := hookRC(shell, bin)
	var pre string
	switch shell {
	case "bash":
		pre = "_other_n=0\n_other() { _other_n=$((_other_n + 1)); return 7; }\nPROMPT_COMMAND=_other\n"
		if direnv != "" {
			pre += `eval "$(` + hookQuoteFor(shell, direnv) + ` hook bash)"` + "\n"
		}
	case "zsh":
		pre = "_other_n=0\n_other() { _other_n=$((_other_n + 1)); return 7 }\nprecmd_functions+=(_other)\nchpwd_functions+=(_other)\n"
		if direnv != "" {
			pre += `eval "$(` + hookQuoteFor(shell, direnv) + ` hook zsh)"` + "\n"
		}
	case "fish":
		pre = "set -g _other_n 0\nfunction _other --on-event fish_prompt; set -g _other_n (math $_other_n + 1); return 7; end\n"
		if direnv != "" {
			pre += hookQuoteFor(shell, direnv) + " hook fish | source\n"
		}
	}
	lines := strings.SplitAfter(rc, "\n")
	install := lines[len(lines)-2]
	return pre + rc + install
}

// counter reads the other hook's count.
func (s *hookShell) counter() int {
	s.t.Helper()
	s.marks++
	s.send(fmt.Sprintf(`echo "COUNT-%d $_other_n"`, s.marks))
	m := s.expect(regexp.MustCompile(fmt.Sprintf(`COUNT-%d (\d+)\r?\n`, s.marks)))
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func installedCount(shell string) string {
	switch shell {
	case "bash":
		return `n=0; for c in "${PROMPT_COMMAND[@]}"; do c=";$c;"; while [[ $c == *";_aicage_hook;"* ]]; do n=$((n+1)); c=${c/;_aicage_hook;/;}; done; done; echo "INSTALLED $n"`
	case "zsh":
		return `n=0; for f in $precmd_functions; do [[ $f == _aicage_hook ]] && n=$((n+1)); done; echo "INSTALLED $n"`
	default:
		return `echo "INSTALLED "(functions --handlers-type generic | string match '*__aicage_hook' | count)`
	}
}

// TestHookHandoffHostile: the cage chooses what it writes for the way
// out, so it writes the worst it can; the outer shell runs none of it,
// follows no symlink, does not hang on a FIFO, is not sent back into the
// cage in a loop, and a symlink planted for the next session makes aicage
// refuse to enter rather than write through it.
func TestHookHandoffHostile(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		pwned := filepath.Join(w.base, "PWNED")
		lure := filepath.Join(w.base, "lure")
		w.write(lure, "L"+w.elsewhere, 0o600)
		s := w.startShell(shell, w.elsewhere, hookRC(shell, w.bin))
		reenter := func() {
			t.Helper()
			s.cd(w.elsewhere, false)
			s.cd(w.proj, true)
		}

		s.cd(w.proj, true)
		s.do(`printf '%s' 'L/nonexistent/$(touch `+pwned+`)' > "$_AICAGE_HOOK_WHERE"; exit`, false)
		s.at("a way out with code in it", where{false, w.proj})
		if _, err := os.Lstat(pwned); err == nil {
			t.Errorf("%s: the outer shell ran code the cage wrote", shell)
		}

		reenter()
		s.do(`ln -sf `+hookQuote(lure)+` "$_AICAGE_HOOK_WHERE"; exit`, false)
		s.at("a way out that is a symlink", where{false, w.proj})

		reenter()
		s.do(`rm -f "$_AICAGE_HOOK_WHERE"; mkfifo "$_AICAGE_HOOK_WHERE"; exit`, false)
		s.at("a way out that is a FIFO", where{false, w.proj})

		reenter()
		s.do(`printf 'L%s' "$AICAGE_ROOT" > "$_AICAGE_HOOK_WHERE"; exit`, false)
		s.at("a way out back into the project", where{false, w.proj})
		s.cd("sub", false)
		s.at("no loop back into the cage", where{false, filepath.Join(w.proj, "sub")})

		reenter()
		s.do(`mv "$TMPDIR" "$TMPDIR.old"; ln -s `+hookQuote(w.home)+` "$TMPDIR"; exit`, false)
		from := s.mark()
		s.cd(w.elsewhere, false)
		s.cd(w.proj, false)
		s.at("entering over a planted symlink", where{false, w.proj})
		if out := s.output(from); !strings.Contains(out, "aicage: error:") {
			t.Errorf("%s: entering over a planted symlink said nothing:\n%s", shell, out)
		}
		if m, _ := filepath.Glob(filepath.Join(w.home, "aicage-hook-*")); len(m) > 0 {
			t.Errorf("%s: aicage wrote through the planted symlink: %v", shell, m)
		}
		if m, _ := filepath.Glob(filepath.Join(w.home, ".local/state/aicage/hook/*")); len(m) > 0 {
			t.Errorf("%s: the hook left files behind: %v", shell, m)
		}
	})
}

// TestHookTrustNextPrompt (issue 19): like direnv, a trust change counts
// at the next prompt. 'aicage allow' typed at a blocked project's prompt
// makes that next prompt the caged one; after an exit by hand, allowing
// the project again enters it again, and denying it says it is blocked.
// Prompts where neither the directory nor the trust store changed start
// no aicage process (the hook calls aicage through a wrapper that counts).
func TestHookTrustNextPrompt(t *testing.T) {
	forEachHookShell(t, func(t *testing.T, shell string, uid int) {
		w := newHookWorld(t, uid, "")
		log := filepath.Join(w.base, "calls")
		counting := filepath.Join(w.base, "counting-aicage")
		w.write(log, "", 0o644)
		w.write(counting, "#!/bin/sh\necho \"$*\" >>"+hookQuoteFor("bash", log)+"\nexec "+hookQuoteFor("bash", w.bin)+" \"$@\"\n", 0o755)
		calls := func() int {
			t.Helper()
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Count(string(b), "\n")
		}
		s := w.startShell(shell, w.elsewhere, hookRC(shell, w.bin)+setHookBin(shell, counting))
		aicage := hookQuote(w.bin)

		from := s.mark()
		s.cd(w.untrusted, false)
		if out := s.output(from); !strings.Contains(out, "is blocked, run 'aicage allow'") {
			t.Fatalf("%s: no blocked line on entering an untrusted project:\n%s", shell, out)
		}
		n := calls()
		for i := 0; i < 3; i++ {
			s.do("", false)
			s.do("true", false)
		}
		s.at("prompts with no change", where{false, w.untrusted})
		if got := calls(); got != n {
			t.Errorf("%s: %d aicage processes at prompts where nothing changed, want none", shell, got-n)
		}

		s.send(aicage + " allow")
		s.expect(regexp.MustCompile(`trusted \S*untrusted/\.aicage\.toml`))
		s.expect(innerPrompt)
		s.at("the prompt after 'aicage allow'", where{true, w.untrusted})
		if s.readsCanary(w) {
			t.Errorf("%s: the real ~/.ssh/id_canary was readable at the prompt after 'aicage allow'", shell)
		}

		// exit by hand: stay out, until the project is allowed again
		s.do("exit", false)
		s.do("", false)
		s.at("exit", where{false, w.untrusted})
		s.send(aicage + " allow")
		s.expect(innerPrompt)
		s.at("the prompt after allowing again", where{true, w.untrusted})
		s.do("exit", false)

		// deny: the next prompt says so, once
		from = s.mark()
		s.send(aicage + " deny")
		s.expect(regexp.MustCompile(`blocked \S+ until`))
		s.expect(outerPrompt)
		s.do("", false)
		if out := s.output(from); strings.Count(out, "is blocked, run 'aicage allow'") != 1 {
			t.Errorf("%s: after 'aicage deny' the hook printed\n%s\nwant the blocked line once", shell, out)
		}
		n = calls()
		s.do("", false)
		s.do("true", false)
		if got := calls(); got != n {
			t.Errorf("%s: %d aicage processes at prompts after the deny was seen, want none", shell, got-n)
		}
	})
}

// setHookBin points the installed hook at another aicage binary.
func setHookBin(shell, bin string) string {
	q := hookQuoteFor(shell, bin)
	if shell == "fish" {
		return "set -g __aicage_bin " + q + "\n"
	}
	return "_aicage_bin=" + q + "\n"
}
