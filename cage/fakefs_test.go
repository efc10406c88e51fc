package cage

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing/fstest"
	"time"
)

// fakeFS is an in-memory filesystem for Compile's tests: paths are absolute,
// "dir/" entries are directories, "->target" contents are symlinks, and
// everything else is a file (mode 0755 when it starts with "#!" or "ELF").
type fakeFS map[string]string

func (f fakeFS) node(p string) (string, bool) {
	if p == "/" {
		return "dir/", true
	}
	v, ok := f[p]
	if ok {
		return v, true
	}
	for k := range f { // implicit parent directories
		if strings.HasPrefix(k, p+"/") {
			return "dir/", true
		}
	}
	return "", false
}

func (f fakeFS) resolve(p string, depth int) (string, error) {
	if depth > 40 {
		return "", &fs.PathError{Op: "eval", Path: p, Err: fs.ErrInvalid}
	}
	parts := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	for i, part := range parts {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		v, ok := f.node(next)
		if !ok {
			return "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		}
		if t, isLink := strings.CutPrefix(v, "->"); isLink {
			if !path.IsAbs(t) {
				t = path.Join(cur, t)
			}
			rest := path.Join(append([]string{t}, parts[i+1:]...)...)
			return f.resolve(rest, depth+1)
		}
		cur = next
	}
	return cur, nil
}

func (f fakeFS) EvalSymlinks(p string) (string, error) { return f.resolve(p, 0) }

func (f fakeFS) info(p string) (fs.FileInfo, error) {
	v, ok := f.node(p)
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	m := &fstest.MapFile{Data: []byte(v), ModTime: time.Unix(0, 0), Mode: 0o644}
	switch {
	case v == "dir/":
		m.Mode = fs.ModeDir | 0o755
	case strings.HasPrefix(v, "->"):
		m.Mode = fs.ModeSymlink | 0o777
	case strings.HasPrefix(v, "#!") || strings.HasPrefix(v, "ELF"):
		m.Mode = 0o755
	}
	return fileInfo{name: path.Base(p), f: m}, nil
}

func (f fakeFS) Lstat(p string) (fs.FileInfo, error) { return f.info(p) }

func (f fakeFS) Stat(p string) (fs.FileInfo, error) {
	r, err := f.resolve(p, 0)
	if err != nil {
		return nil, err
	}
	return f.info(r)
}

func (f fakeFS) ReadDir(p string) ([]fs.DirEntry, error) {
	r, err := f.resolve(p, 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []fs.DirEntry
	for k := range f {
		rest, ok := strings.CutPrefix(k, r+"/")
		if r == "/" {
			rest, ok = strings.TrimPrefix(k, "/"), true
		}
		if !ok || rest == "" {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if seen[name] {
			continue
		}
		seen[name] = true
		fi, _ := f.info(path.Join(r, name))
		out = append(out, fs.FileInfoToDirEntry(fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (f fakeFS) ReadHead(p string, n int) ([]byte, error) {
	r, err := f.resolve(p, 0)
	if err != nil {
		return nil, err
	}
	v := f[r]
	if len(v) > n {
		v = v[:n]
	}
	return []byte(v), nil
}

type fileInfo struct {
	name string
	f    *fstest.MapFile
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return int64(len(i.f.Data)) }
func (i fileInfo) Mode() fs.FileMode  { return i.f.Mode }
func (i fileInfo) ModTime() time.Time { return i.f.ModTime }
func (i fileInfo) IsDir() bool        { return i.f.Mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }
