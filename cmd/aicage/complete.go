package main

// Shell completion: the scripts that 'aicage completion SHELL' prints stay
// thin and ask the hidden command '__complete' for the candidates, with the
// words typed after "aicage" (the last one being completed). All the logic
// is here, so the three shells offer the same.
//
// '__complete' reads the nearest .aicage.toml for its command and profile
// names without asking for trust and without starting a cage: names are
// all it takes from the file, as direnv and just do. It never prints an
// error: a broken config, or any other failure, means fewer candidates.

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/docs/schema"
	"github.com/aicage/aicage/hooks"
	"github.com/aicage/aicage/project"
	"github.com/aicage/aicage/templates"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:            completeCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action:          completeAction,
	})
}

// completeCommand is the hidden command the completion scripts call.
const completeCommand = "__complete"

// Directives are lines of __complete's output that ask the shell to
// complete with its own means; a name never starts with ':'.
const (
	wantDirs     = ":dirs"     // directory names
	wantFiles    = ":files"    // file names
	wantCommands = ":commands" // programs on $PATH
)

// candidate is one completion: a word and what it is.
type candidate struct{ word, desc string }

func completeAction(c *cli.Context) (err error) {
	defer func() {
		if recover() != nil {
			err = nil // completion is quiet, whatever happens
		}
	}()
	words := c.Args().Slice()
	if len(words) == 0 {
		words = []string{""}
	}
	writeCandidates(c.App.Writer, completeWords(c.App, newCompleter(), words))
	return nil
}

// writeCandidates prints one candidate a line, a tab before its
// description, which the shell scripts show or drop.
func writeCandidates(w io.Writer, cands []candidate) {
	for _, cd := range cands {
		if cd.desc == "" {
			fmt.Fprintln(w, cd.word)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", cd.word, oneLine(cd.desc))
	}
}

// oneLine is the first line of s, safe to show: the description comes
// from a config nobody trusted yet, and a terminal acts on the control
// characters it is shown (escape sequences set titles, write the
// clipboard), so every control character becomes a space.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			return ' '
		case r == '`':
			return -1
		}
		return r
	}, s)
}

// completer knows the names that depend on where completion runs: the
// project's config (read, never trusted) and the user's profiles. It reads
// them only when asked, and once.
type completer struct {
	host   project.Host
	cfg    *project.Config
	loaded bool
}

func newCompleter() *completer {
	dir, err := os.Getwd()
	if err != nil {
		dir = "/"
	}
	return &completer{host: project.NewHost(realHome(), dir, os.Environ())}
}

// config is the nearest .aicage.toml from the cwd, decoded, or nil when
// there is none or it does not decode.
func (k *completer) config() *project.Config {
	if k.loaded {
		return k.cfg
	}
	k.loaded = true
	f, err := project.Discover(k.host.Cwd)
	if err != nil || f == nil {
		return nil
	}
	if cfg, err := project.Parse(f.Path, f.Data); err == nil {
		k.cfg = cfg
	}
	return k.cfg
}

// builtinProfileDesc says in a few words what each built-in profile is.
var builtinProfileDesc = map[string]string{
	"offline": "built-in: no network",
	"aiAgent": "built-in: TCP 443 and 22, DNS (default)",
	"devNet":  "built-in: aiAgent and local dev servers",
}

func (k *completer) profiles() []candidate {
	cfg := k.config()
	var out []candidate
	for _, n := range project.AvailableProfiles(cfg, k.host) {
		desc, ok := builtinProfileDesc[n]
		switch {
		case ok:
		case cfg != nil && cfg.Profiles[n] != nil:
			desc = "profile of " + project.ConfigName
			if e := cfg.Profiles[n].Extends; e != "" {
				desc += ", extends " + e
			}
		default:
			desc = "user profile"
		}
		out = append(out, candidate{n, desc})
	}
	return out
}

func (k *completer) commands() []candidate {
	cfg := k.config()
	if cfg == nil {
		return nil
	}
	names := make([]string, 0, len(cfg.Commands))
	for n := range cfg.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]candidate, 0, len(names))
	for _, n := range names {
		desc := cfg.Commands[n].Description
		if desc == "" {
			desc = strings.Join(cfg.Commands[n].Argv, " ")
		}
		out = append(out, candidate{n, desc})
	}
	return out
}

func templateNames() []candidate {
	var out []candidate
	for _, n := range templates.Names() {
		desc := "template"
		if n == templates.Default {
			desc += " (default)"
		}
		out = append(out, candidate{n, desc})
	}
	return out
}

func shellNames() []candidate {
	var out []candidate
	for _, s := range hooks.Shells {
		out = append(out, candidate{word: s})
	}
	return out
}

// flagValues are the completions of the flags that take a value.
var flagValues = map[string]func(*completer) []candidate{
	"profile":  (*completer).profiles,
	"template": func(*completer) []candidate { return templateNames() },
}

// argValues complete the first argument of the commands that take one.
var argValues = map[string]func(*completer) []candidate{
	"allow":            func(*completer) []candidate { return []candidate{{word: wantDirs}} },
	"deny":             func(*completer) []candidate { return []candidate{{word: wantDirs}} },
	"unlink-hardlinks": func(*completer) []candidate { return []candidate{{word: wantDirs}} },
	"hook":             func(*completer) []candidate { return shellNames() },
	"completion":       func(*completer) []candidate { return shellNames() },
	"schema": func(*completer) []candidate {
		var out []candidate
		for _, n := range schema.Names() {
			out = append(out, candidate{word: n})
		}
		return out
	},
}

// takesRunFlags reports whether a command reads the global flags itself,
// before the program it runs.
func takesRunFlags(name string) bool { return name == "run" || name == "shell" }

// completeWords returns the candidates for the last of words, the words
// typed after "aicage"; the others are complete.
func completeWords(app *cli.App, k *completer, words []string) []candidate {
	cur, done := words[len(words)-1], words[:len(words)-1]
	i, val := skipFlags(app.Flags, done)
	if val != "" {
		return complete(flagValues[val], k, cur, "")
	}
	if i == len(done) {
		if strings.HasPrefix(cur, "-") {
			return completeFlag(app.Flags, k, cur, candidate{"--version", "print the version"})
		}
		return filter(commandNames(app), cur)
	}
	cmd := app.Command(done[i])
	if cmd == nil || cmd.Hidden {
		return nil
	}
	args := done[i+1:]
	switch {
	case cmd.Name == "run":
		return completeRun(globalFlags, k, args, cur)
	case takesRunFlags(cmd.Name):
		return completeFlags(globalFlags, k, args, cur)
	}
	if j, val := skipFlags(cmd.Flags, args); val != "" {
		return complete(flagValues[val], k, cur, "")
	} else if j < len(args) {
		return nil // argValues complete the first argument only
	}
	if strings.HasPrefix(cur, "-") {
		return completeFlag(cmd.Flags, k, cur)
	}
	return complete(argValues[cmd.Name], k, cur, "")
}

// completeRun completes `run [FLAGS] NAME ARGS…` and `run [FLAGS] -- CMD ARGS…`.
func completeRun(flags []cli.Flag, k *completer, args []string, cur string) []candidate {
	i, val := skipFlags(flags, args)
	switch {
	case val != "":
		return complete(flagValues[val], k, cur, "")
	case i < len(args) && args[i] == "--" && i+1 == len(args):
		return []candidate{{word: wantCommands}}
	case i < len(args):
		return []candidate{{word: wantFiles}}
	case strings.HasPrefix(cur, "-"):
		return completeFlag(flags, k, cur, candidate{"--", "run any command: -- CMD ARGS…"})
	}
	return filter(k.commands(), cur)
}

// completeFlags completes a command that takes only flags.
func completeFlags(flags []cli.Flag, k *completer, args []string, cur string) []candidate {
	i, val := skipFlags(flags, args)
	switch {
	case val != "":
		return complete(flagValues[val], k, cur, "")
	case i < len(args):
		return nil
	}
	return completeFlag(flags, k, cur)
}

// skipFlags returns the index of the first word of args that is not one of
// flags (or a flag's value), and the name of the flag whose value the next
// word is, if the last word is one that takes a value.
func skipFlags(flags []cli.Flag, args []string) (int, string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return i, ""
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := lookupFlag(flags, name); f != nil && takesValue(f) {
			if i+1 == len(args) {
				return i + 1, f.Names()[0]
			}
			i++
		}
	}
	return len(args), ""
}

// completeFlag completes a word that starts with "-": a flag's name, or
// the value after "--flag=".
func completeFlag(flags []cli.Flag, k *completer, cur string, extra ...candidate) []candidate {
	if name, _, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
		if f := lookupFlag(flags, name); f != nil && takesValue(f) {
			prefix := cur[:strings.Index(cur, "=")+1]
			return complete(flagValues[f.Names()[0]], k, cur, prefix)
		}
		return nil
	}
	var cands []candidate
	for _, f := range ownFlags(flags) {
		desc := ""
		if d, ok := f.(cli.DocGenerationFlag); ok {
			desc = d.GetUsage()
		}
		cands = append(cands, candidate{"--" + f.Names()[0], desc})
	}
	cands = append(cands, candidate{"--help", "show help"})
	return filter(append(cands, extra...), cur)
}

// complete filters what values returns by cur; prefix, as "--profile=", is
// part of cur and of every candidate.
func complete(values func(*completer) []candidate, k *completer, cur, prefix string) []candidate {
	if values == nil {
		return nil
	}
	var out []candidate
	for _, cd := range values(k) {
		if strings.HasPrefix(cd.word, ":") {
			out = append(out, cd)
			continue
		}
		cd.word = prefix + cd.word
		out = append(out, cd)
	}
	return filter(out, cur)
}

// filter keeps the candidates that start with cur, and every directive.
func filter(cands []candidate, cur string) []candidate {
	var out []candidate
	for _, cd := range cands {
		if strings.HasPrefix(cd.word, cur) || strings.HasPrefix(cd.word, ":") {
			out = append(out, cd)
		}
	}
	return out
}

func commandNames(app *cli.App) []candidate {
	var out []candidate
	for _, c := range app.Commands {
		if !c.Hidden {
			out = append(out, candidate{c.Name, c.Usage})
		}
	}
	return out
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// ownFlags are flags without urfave/cli's --help and --version, which
// it adds to the lists when the app runs; the callers add them where they
// apply.
func ownFlags(flags []cli.Flag) []cli.Flag {
	var own []cli.Flag
	for _, f := range flags {
		if n := f.Names()[0]; n != "help" && n != "version" {
			own = append(own, f)
		}
	}
	return own
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}
