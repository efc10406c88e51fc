package inject

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Source kinds of [credentials.NAME] source.
const (
	FromEnv     = "env:"
	FromFile    = "file:"
	FromCommand = "command:"
)

// commandTimeout bounds a secret command (pass, secret-tool, op).
const commandTimeout = 30 * time.Second

// maxSecret bounds what a source may give.
const maxSecret = 64 << 10 // 64 KiB

// CheckSource checks the spelling of a source.
func CheckSource(s string) error {
	for _, p := range []string{FromEnv, FromFile, FromCommand} {
		if rest, ok := strings.CutPrefix(s, p); ok && strings.TrimSpace(rest) != "" {
			return nil
		}
	}
	return fmt.Errorf("%q is not a secret source: write \"env:NAME\", \"file:PATH\" or \"command:CMD\"", s)
}

// Read reads a secret from its source, outside the cage: a variable of
// env, a file (a leading ~ is home), or the output of a command run with
// sh -c. An unset variable gives ("", nil): the credential is not used.
func Read(source string, env []string, home string) (string, error) {
	switch {
	case strings.HasPrefix(source, FromEnv):
		name := strings.TrimPrefix(source, FromEnv)
		return strings.TrimSpace(lookup(env, name)), nil
	case strings.HasPrefix(source, FromFile):
		path := strings.TrimPrefix(source, FromFile)
		if rest, ok := strings.CutPrefix(path, "~/"); ok {
			path = filepath.Join(home, rest)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		return secret(b)
	case strings.HasPrefix(source, FromCommand):
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", strings.TrimPrefix(source, FromCommand))
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
			if msg != "" {
				return "", fmt.Errorf("%w: %s", err, msg)
			}
			return "", err
		}
		return secret(out.Bytes())
	}
	return "", CheckSource(source)
}

func secret(b []byte) (string, error) {
	if len(b) > maxSecret {
		return "", fmt.Errorf("more than %d bytes: not a secret", maxSecret)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", ErrNoSecret
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("the secret spans lines; a header value cannot")
	}
	return s, nil
}

// lookup is name's value in env; the last entry wins, as in execve.
func lookup(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
