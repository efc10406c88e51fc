package cage

import (
	"path/filepath"
	"strings"
)

// expand turns a path as the config spells it into an absolute one: "~" and
// "$ORIG_HOME" mean the real home, a relative path is relative to the
// project root.
func expand(p, home, root string) string {
	switch {
	case p == "~" || p == "$ORIG_HOME":
		return home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case strings.HasPrefix(p, "$ORIG_HOME/"):
		return filepath.Join(home, p[len("$ORIG_HOME/"):])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// tilde shortens a path under home for display.
func tilde(p, home string) string {
	if home != "" && home != "/" && within(p, home) {
		return "~" + strings.TrimPrefix(p, home)
	}
	return p
}
