package cage

import (
	"path/filepath"
	"strings"
)

// Expand turns a path as the config spells it into an absolute one: "~",
// "$ORIG_HOME" and "${ORIG_HOME}" mean the real home, a relative path is
// relative to the project root.
func Expand(p, home, root string) string {
	for _, pre := range []string{"~", "$ORIG_HOME", "${ORIG_HOME}"} {
		if p == pre {
			return home
		}
		if strings.HasPrefix(p, pre+"/") {
			return filepath.Join(home, p[len(pre)+1:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

func expand(p, home, root string) string { return Expand(p, home, root) }

// Within reports whether p is dir or lies below it.
func Within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func within(p, dir string) bool { return Within(p, dir) }

// Tilde shortens a path under home for display.
func Tilde(p, home string) string {
	if home != "" && home != "/" && within(p, home) {
		return "~" + strings.TrimPrefix(p, home)
	}
	return p
}

func tilde(p, home string) string { return Tilde(p, home) }
