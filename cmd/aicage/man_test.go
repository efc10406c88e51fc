package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/aicage.1 from 'aicage man'")

// manPage is the committed copy of the page, for readers of the
// repository and for packagers.
var manPage = filepath.Join("..", "..", "docs", "aicage.1")

func renderMan(t *testing.T) []byte {
	t.Helper()
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	if code := exitCode(app.Run([]string{"aicage", "man"})); code != 0 {
		t.Fatalf("aicage man: exit %d", code)
	}
	return out.Bytes()
}

func TestManPageCommitted(t *testing.T) {
	got := renderMan(t)
	if *update {
		if err := os.WriteFile(manPage, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatalf("%v\nregenerate it: go test ./cmd/aicage -run TestManPageCommitted -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/aicage.1 differs from 'aicage man'; regenerate it: go test ./cmd/aicage -run TestManPageCommitted -update")
	}
}

// TestManPageComplete checks that every command and flag a user can type
// is on the page, and that it ends up in no section of its own.
func TestManPageComplete(t *testing.T) {
	page := string(renderMan(t))
	app := newApp()
	for _, cmd := range app.Commands {
		name := `\fBaicage ` + roffText(cmd.Name) + `\fR`
		if cmd.Hidden {
			if strings.Contains(page, name) {
				t.Errorf("the hidden command %s is on the page", cmd.Name)
			}
			continue
		}
		if !strings.Contains(page, ".TP\n"+name) {
			t.Errorf("command %s is not on the page", cmd.Name)
		}
		for _, f := range append(cmd.Flags, globalFlags...) {
			if n := f.Names()[0]; !strings.Contains(page, `\fB\-\-`+roffText(n)+`\fR`) {
				t.Errorf("flag --%s of %s is not on the page", n, cmd.Name)
			}
		}
	}
	for _, want := range []string{".TH AICAGE 1 ", ".SH EXIT STATUS", `\fB125\fR`, `\fB126\fR`, `\fB127\fR`,
		".SH ENVIRONMENT", `\fBAICAGE_ROOT\fR`, ".SH FILES", `\fB\&.aicage.toml\fR`, "aicage/trust/"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestManPageRenders runs the page through groff's man macros with every
// warning on, where groff is installed.
func TestManPageRenders(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = bytes.NewReader(renderMan(t))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

func TestManTakesNoArguments(t *testing.T) {
	var errBuf bytes.Buffer
	stderr = &errBuf
	defer func() { stderr = os.Stderr }()
	app := newApp()
	app.Writer = &bytes.Buffer{}
	if code := exitCode(app.Run([]string{"aicage", "man", "x"})); code != exitSetup {
		t.Errorf("exit %d, want %d", code, exitSetup)
	}
	if e := errBuf.String(); !strings.Contains(e, "aicage: error: ") || !strings.Contains(e, "aicage: hint: ") {
		t.Errorf("want an error and a hint, got:\n%s", e)
	}
}
