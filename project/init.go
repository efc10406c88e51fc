package project

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aicage/aicage/templates"
)

// InitResult says what Init did.
type InitResult struct {
	ConfigPath   string
	Overwrote    bool // an existing .aicage.toml was replaced (--force)
	GitignoreNew bool // .gitignore did not exist and was created
	IgnoreAdded  bool // ".aicage/" was added to .gitignore
}

// InitDir is where 'aicage init' writes: the git top-level, else cwd.
func InitDir(cwd string) string {
	if r := GitRoot(cwd); r != "" {
		return r
	}
	return filepath.Clean(cwd)
}

// Init writes dir/.aicage.toml from a template and makes sure .gitignore
// lists .aicage/ (the private home and state) exactly once. It never
// replaces an existing config unless force is set.
func Init(h Host, dir, template string, force bool) (*InitResult, error) {
	data, err := templates.Get(template)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("unknown template %q%s", template, didYouMean(template, templates.Names())), Hint: "templates: " + strings.Join(templates.Names(), ", ")}
	}
	if why := newGuard(h, dir, nil).checkRoot(dir); why != "" {
		return nil, &Error{Msg: fmt.Sprintf("cannot make %s a project: %s", tilde(dir, h.Home), why),
			Hint: "run 'aicage init' in a project directory"}
	}
	path := filepath.Join(dir, ConfigName)
	res := &InitResult{ConfigPath: path}
	if _, err := os.Lstat(path); err == nil {
		if !force {
			return nil, &Error{File: path, Msg: "already exists",
				Hint: "run 'aicage edit' to change it, or 'aicage init --force' to replace it"}
		}
		res.Overwrote = true
	}
	if err := writeConfig(path, data, force); err != nil {
		return nil, err
	}
	res.GitignoreNew, res.IgnoreAdded, err = ignoreState(dir)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// writeConfig creates the file (O_EXCL: never through a symlink), or with
// force replaces it atomically.
func writeConfig(path string, data []byte, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".aicage.toml.tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// ignoreLines are the .gitignore lines that already keep .aicage/ out.
var ignoreLines = []string{".aicage", ".aicage/", "/.aicage", "/.aicage/", ".aicage/*", "/.aicage/*"}

// ignoreState appends ".aicage/" to dir/.gitignore unless a line already
// ignores it, touching no other line. The file is never opened through a
// symlink: the project is writable from the cage.
func ignoreState(dir string) (created, added bool, err error) {
	path := filepath.Join(dir, ".gitignore")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
		created = true
	}
	if err != nil {
		return false, false, fmt.Errorf("updating %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, false, fmt.Errorf("updating %s: not a regular file", path)
	}
	old, err := io.ReadAll(io.LimitReader(f, maxConfigSize))
	if err != nil {
		return false, false, fmt.Errorf("updating %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		if contains(ignoreLines, strings.TrimSpace(sc.Text())) {
			return created, false, nil
		}
	}
	line := ".aicage/\n"
	if len(old) > 0 && old[len(old)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return false, false, fmt.Errorf("updating %s: %w", path, err)
	}
	return created, true, f.Close()
}
