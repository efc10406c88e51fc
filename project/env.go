package project

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/joho/godotenv"

	"github.com/aicage/aicage/cage"
)

const maxEnvFileSize = 1 << 20 // 1 MiB

// env resolves [env] in precedence order, pass < files < set: a later entry
// for the same name wins. aicage's own environment is only read, never
// changed. Unset pass names are skipped silently (a key you do not have is
// not an error); a missing env file is an error naming it, because a
// config that says it needs one would otherwise run with less than it
// asked for, silently.
func (pl *plan) env(h Host) ([]cage.EnvVar, error) {
	var out []cage.EnvVar
	for _, p := range pl.m.pass {
		if v, ok := lookupEnvOK(h.Env, p.value); ok {
			out = append(out, cage.EnvVar{Name: p.value, Value: v, Source: p.source})
		}
	}
	for _, f := range pl.m.files {
		vars, err := readEnvFile(pl.root, expand(f.value, h.Home, pl.root))
		if err != nil {
			return nil, f.at.errorf("create it, or remove it from [env] files", "env file %s: %v", f.value, err)
		}
		src := fmt.Sprintf("file %s (%s)", f.value, f.source)
		for _, k := range sortedKeys(vars) {
			if err := checkEnvName(f.at, k); err != nil {
				return nil, err
			}
			out = append(out, cage.EnvVar{Name: k, Value: vars[k], Source: src})
		}
	}
	for _, s := range pl.m.set {
		out = append(out, cage.EnvVar{Name: s.name, Value: s.value, Source: s.source})
	}
	return out, nil
}

// readEnvFile parses a dotenv file that must lie beneath root. The project
// is writable from inside the cage, so the file is opened with
// RESOLVE_BENEATH: a symlink planted there cannot make aicage, outside the
// cage, read ~/.aws/credentials into the next cage's environment.
// godotenv expands ${VAR} only from the file itself, never from aicage's
// environment.
func readEnvFile(root, path string) (map[string]string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !lexicallyInside(path, root) {
		return nil, fmt.Errorf("is outside the project")
	}
	dir, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	f, err := dir.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("no such file")
	case err != nil && strings.Contains(err.Error(), "escapes"):
		return nil, errors.New("leads outside the project through a symlink")
	case err != nil:
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEnvFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxEnvFileSize {
		return nil, fmt.Errorf("is larger than %d bytes", maxEnvFileSize)
	}
	vars, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, err
	}
	return vars, nil
}
