//go:build linux

package integrity

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gitList is what git itself reads from a config file: "name\nvalue" or
// "name" per entry. ok is false when git refuses the file.
func gitList(t *testing.T, data []byte) (entries []string, ok bool) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "config", "--file", f, "--list", "-z").Output()
	if err != nil {
		return nil, false
	}
	for _, e := range strings.Split(string(out), "\x00") {
		if e != "" {
			entries = append(entries, e)
		}
	}
	return entries, true
}

func ourList(cfg *gitConfig) []string {
	var out []string
	for _, l := range cfg.lines {
		if l.header {
			continue
		}
		if l.noValue {
			out = append(out, l.name())
		} else {
			out = append(out, l.name()+"\n"+l.value)
		}
	}
	return out
}

// checkAgainstGit fails when our parser accepts input that git reads
// differently, or when what format writes does not read back the same in
// git and in our parser. It reports whether we accepted the input.
func checkAgainstGit(t *testing.T, input string) bool {
	t.Helper()
	cfg, err := parseGitConfig([]byte(input))
	if err != nil {
		return false
	}
	want := ourList(cfg)
	got, ok := gitList(t, []byte(input))
	if !ok {
		t.Errorf("we accept what git refuses: %q", input)
		return true
	}
	if !slices.Equal(got, want) {
		t.Errorf("input %q:\n git reads %q\n we read   %q", input, got, want)
	}
	out := cfg.format()
	got, ok = gitList(t, out)
	if !ok || !slices.Equal(got, want) {
		t.Errorf("format of %q is %q: git reads %q (ok %v), want %q", input, out, got, ok, want)
	}
	again, err := parseGitConfig(out)
	if err != nil || !slices.Equal(ourList(again), want) {
		t.Errorf("format of %q does not parse back: %v", input, err)
	}
	if string(again.format()) != string(out) {
		t.Errorf("format is not stable for %q", input)
	}
	return true
}

func TestParseGitConfigAgreesWithGit(t *testing.T) {
	t.Parallel()
	needGit(t)
	accepted := []string{
		"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n",
		"[remote \"origin\"]\n\turl = https://example.com/r.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
		"[Core]\n\tFSMonitor = /x\n",
		"[core] fsmonitor = /x\n",
		"[core]fsmonitor=/x",
		"[core.]\n\tk = v\n",
		"[a.B \"C\"]\nk2\n[Sec.Sub]k3=1;c\n",
		"[a]\n\tk = a\tb  c\\\n d\n",
		"[a]\n\tk = \"x\r\"\n",
		"[a]\r\n\tk = v\r\n",
		"\xef\xbb\xbf[a]\nk=v\n",
		"[a]\n\tk = \"  quoted ; # \\\" \\\\ \\n \\t \\b \"\n",
		"[a]\n\tk = v ; comment\n\tk2 = v # comment\n",
		"; comment\n# comment\n[a] ; comment\n\tk\n",
		"[a \"sub \\\"q\\\" \\\\ x\"]\n\tk = 1\n",
		"[a \"s\\x\"]\n\tk = 1\n",
		"[a]\n\tk =\n\tk2 = \"\"\n",
		"[a]\n\tk = trailing   \n",
		"[a]\n\tk = \"a\"b\"c\"\n",
		"[a]\n\tk = x\\\n",
		"[include]\n\tpath = other\n[includeIf \"gitdir:/x/\"]\n\tpath = y\n",
		"[alias]\n\tx = !sh -c 'touch /tmp/m'\n",
		"[a]\n[b]\n[a]\n\tk = 1\n",
		"[a]\n\tk = é ü \x01\x7f\n",
		"[a-b.c-d]\n\tx-y = 1\n",
	}
	for _, in := range accepted {
		if !checkAgainstGit(t, in) {
			t.Errorf("we refuse valid config %q", in)
		}
	}
	refused := []string{
		"k = v\n", // before any section: git takes it, we do not need to
		"[ \"x\"]\n\tk = v\n",
		"[a]\n\tk = \"unterminated\n",
		"[a]\n\tk = \\q\n",
		"[a\n",
		"[a \"b\"x]\n",
		"[a]\n\t1k = v\n",
		"[a]\n\tk v\n",
		"[a]\n\tk = v\x00evil\n",
		"\xef\xbbx",
		"[a \"b\n\"]\n",
	}
	for _, in := range refused {
		if _, err := parseGitConfig([]byte(in)); err == nil {
			t.Errorf("we accept %q", in)
		}
	}
}

// TestParseGitConfigRandom compares our parser with git's on random
// combinations of the pieces config syntax is made of.
func TestParseGitConfigRandom(t *testing.T) {
	needGit(t)
	pieces := []string{
		"[core]", "[remote \"o\"]", "[a.B]", "[x \"q\\\"\\\\\"]", "[s \"sp ace\"]", "[", "]", "\"",
		" ", "\t", "\n", "\n", "\n", "\r\n", "\r", "key", "Key2", "fsmonitor", "-", "=", " = ",
		"val", "a b", "\\", "\\n", "\\t", "\\b", "\\\"", "\\\\", "\\\n", ";c", "#c", ";", "#",
		"é", "x\ty", "\"q q\"", "1",
	}
	t.Parallel()
	rng := rand.New(rand.NewSource(6))
	n := 150
	if testing.Short() {
		n = 30
	}
	var accepted int
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString(pieces[rng.Intn(4)])
		for j := rng.Intn(14); j >= 0; j-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		if checkAgainstGit(t, b.String()) {
			accepted++
		}
	}
	t.Logf("%d of %d random inputs parsed", accepted, n)
	if accepted < n/10 {
		t.Errorf("only %d of %d random inputs parsed: the generator tests too little", accepted, n)
	}

	// Well-formed lines with random values: the value syntax is where
	// quoting, escapes and comments meet.
	headers := []string{"[core]", "[Remote \"Or igin\"]", "[a.b]", "[s \"\\\"\"]", "[core] "}
	valuePieces := []string{" ", "\t", "x", "A", "\"", "\\\"", "\\\\", "\\n", "\\t", "\\b",
		";c", "#c", "\\\n", "'", "!", "=", "[", "]", "é", "\r"}
	accepted = 0
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString(headers[rng.Intn(len(headers))])
		for j := rng.Intn(3); j >= 0; j-- {
			b.WriteString("\n\tk" + string(rune('a'+j)) + " =")
			for k := rng.Intn(8); k >= 0; k-- {
				b.WriteString(valuePieces[rng.Intn(len(valuePieces))])
			}
		}
		b.WriteString("\n")
		if checkAgainstGit(t, b.String()) {
			accepted++
		}
	}
	t.Logf("%d of %d random entries parsed", accepted, n)
	if accepted < n/4 {
		t.Errorf("only %d of %d random entries parsed: the generator tests too little", accepted, n)
	}
}

func TestFormatMatchesGitWriter(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "config")
	values := []string{"plain", " lead", "trail ", "semi;colon", "hash#", "tab\there",
		"new\nline", `quote"back\slash`, "", "a  b", "x\by"}
	for i, v := range values {
		git(t, dir, "config", "--file", f, "--add", "sec.sub"+string(rune('a'+i))+".key", v)
	}
	git(t, dir, "config", "--file", f, "core.hooksPath", "x")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseGitConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cfg.format()); got != string(data) {
		t.Errorf("format differs from what git wrote:\n got %q\nwant %q", got, data)
	}
}
