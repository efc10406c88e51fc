package hooks

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Every interactive bash, zsh or fish that 'aicage shell' starts gets an
// init of aicage's: files in a fresh directory of the cage's $TMPDIR that
// run the private home's own rc file first, then the user's rc for cages
// (a copy of $XDG_CONFIG_HOME/aicage/rc.SHELL, made outside), then mark
// the shell as caged (mark.SHELL), and, when the hook started it, the
// inner half of the hook (aicage.SHELL).

// Look is how a caged shell shows that it is caged. The user chooses it
// outside the cage (AICAGE_PROMPT=0, AICAGE_TITLE=0, NO_COLOR), where
// aicage reads it: the cage's environment does not carry it in.
type Look struct {
	Mark   bool // "(aicage) " before the prompt
	Colour bool // the marker in colour
	Title  bool // "(aicage) DIR" as the terminal's title, at each prompt
}

// Hook is what the inner half needs: the project root as the outer shell
// named it, and the outer shell's directory stack.
type Hook struct {
	Root string
	Dirs []string
}

// Options say what goes into the init.
type Options struct {
	Look Look
	Hook *Hook  // nil for a shell started by hand
	RC   string // the user's rc for cages, its text
}

// RCName is the name of the user's rc for cages, in aicage's
// configuration directory, for shell.
func RCName(shell string) string { return "rc." + shell }

// ShellInit is what a caged shell is given.
type ShellInit struct {
	Files map[string]string // written into the init directory, 0600
	Args  []string          // appended to the shell's argv
	Env   []string          // added to its environment
}

// Init returns the init for shell with dir as the init directory, as the
// cage sees it.
func Init(shell, dir string, o Options) (*ShellInit, error) {
	if err := known(shell); err != nil {
		return nil, err
	}
	mark, err := scripts.ReadFile("mark." + shell)
	if err != nil {
		return nil, fmt.Errorf("bug: reading the %s mark: %w", shell, err)
	}
	body := ""
	if o.RC != "" {
		body = "# your " + RCName(shell) + ", copied in by aicage\n" + strings.TrimSuffix(o.RC, "\n") + "\n"
	}
	body += lookVars(shell, o.Look) + string(mark)
	in := &ShellInit{}
	if hook := o.Hook; hook != nil {
		script, err := Script(shell, "aicage", "")
		if err != nil {
			return nil, err
		}
		body += script
		in.Env = []string{WhereEnv + "=" + filepath.Join(dir, WhereFile), RootEnv + "=" + hook.Root}
		if len(hook.Dirs) > 0 {
			in.Env = append(in.Env, DirsEnv+"="+strings.Join(hook.Dirs, "\n"))
		}
	}
	switch shell {
	case "bash":
		in.Files = map[string]string{"bashrc": bashrc + body}
		in.Args = []string{"--rcfile", filepath.Join(dir, "bashrc")}
	case "zsh":
		in.Files = map[string]string{".zshenv": zshenv, ".zshrc": zshrc + body}
		in.Env = append(in.Env, "ZDOTDIR="+dir)
	case "fish":
		if o.Hook != nil {
			body += fishGreeting
		}
		in.Files = map[string]string{"init.fish": body}
		q, _ := Quote("fish", filepath.Join(dir, "init.fish"))
		in.Args = []string{"--init-command", "source " + q}
	}
	return in, nil
}

// lookVars sets the variables mark.SHELL reads.
func lookVars(shell string, look Look) string {
	mark, colour, title := "", "", ""
	if look.Mark {
		mark = "(aicage) "
	}
	if look.Title {
		title = "1"
	}
	if shell == "fish" {
		if look.Colour {
			colour = "yellow"
		}
		return fmt.Sprintf("set -g __aicage_mark %s\nset -g __aicage_colour %s\nset -g __aicage_title %s\n",
			q(shell, mark), q(shell, colour), q(shell, title))
	}
	if look.Mark && look.Colour {
		mark = map[string]string{
			"bash": `\[\e[33m\](aicage) \[\e[0m\]`,
			"zsh":  `%F{yellow}(aicage) %f`,
		}[shell]
	}
	return fmt.Sprintf("_aicage_mark=%s\n_aicage_title=%s\n", q(shell, mark), q(shell, title))
}

func q(shell, s string) string {
	r, _ := Quote(shell, s)
	return r
}

const bashrc = `# written by aicage for a shell in the cage
if [[ -r ~/.bashrc ]]; then
	. ~/.bashrc
else
	PS1='\w\$ '
fi
`

// zsh reads .zshenv and .zshrc from $ZDOTDIR: the private home's .zshenv
// runs first, and may move ZDOTDIR, as it may outside.
const zshenv = `# written by aicage for a shell in the cage
typeset -g _aicage_zdotdir=$ZDOTDIR
unset ZDOTDIR
if [[ -r ~/.zshenv ]]; then
	source ~/.zshenv
fi
typeset -g _aicage_user_zdotdir=${ZDOTDIR-}
ZDOTDIR=$_aicage_zdotdir
`

const zshrc = `# written by aicage for a shell in the cage
if [[ -n $_aicage_user_zdotdir ]]; then
	ZDOTDIR=$_aicage_user_zdotdir
else
	unset ZDOTDIR
fi
unset _aicage_zdotdir _aicage_user_zdotdir
if [[ -r ${ZDOTDIR:-$HOME}/.zshrc ]]; then
	source "${ZDOTDIR:-$HOME}/.zshrc"
else
	PS1='%~%# '
fi
`

const fishGreeting = `
set -q fish_greeting; or set -g fish_greeting ''
`
