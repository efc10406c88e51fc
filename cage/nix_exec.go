package cage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ExecNix runs the nix programs found on Env's PATH, with Env.
type ExecNix struct{ Env []string }

// maxNixOutput bounds what aicage reads from one nix command.
const maxNixOutput = 64 << 20 // 64 MiB, far above the closure of a whole system

// Run implements Nix.
func (n ExecNix) Run(dir, name string, args ...string) ([]byte, error) {
	prog := findProgram(name, getenv(n.Env, "PATH"))
	if prog == "" {
		return nil, &NixMissingError{Name: name}
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir, cmd.Env = dir, n.Env
	stdout := &cappedBuffer{max: maxNixOutput}
	stderr := &cappedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return nil, &NixError{Stderr: stderr.String(), Err: err}
	}
	if stdout.over {
		return nil, fmt.Errorf("%s printed more than %d bytes", name, maxNixOutput)
	}
	return stdout.Bytes(), nil
}

func findProgram(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
