package hardlinks

import (
	"slices"
	"strings"
)

// Tool is a program that likely made some of the links, and what makes it
// copy instead.
type Tool struct {
	Name  string // "pnpm"
	Store string // where its other names likely are
	Fix   string // the setting that makes it copy
	Count int    // links that look like its work
}

var tools = []struct {
	Tool
	marks []string // path fragments of its links
}{
	{Tool{Name: "pnpm", Store: "its content-addressable store (~/.local/share/pnpm/store)",
		Fix: "package-import-method=copy (or clone) in .npmrc, then pnpm install --force"},
		[]string{"/node_modules/"}},
	{Tool{Name: "uv", Store: "its cache (~/.cache/uv)",
		Fix: "link-mode = \"copy\" in uv.toml (or UV_LINK_MODE=copy), then uv sync --reinstall"},
		[]string{"/site-packages/", "/.venv/"}},
	{Tool{Name: "git", Store: "the repository it was cloned from (git clone of a local path)",
		Fix: "git repack -a -d in it, and clone with --no-hardlinks or a file:// URL"},
		[]string{"/.git/objects/"}},
}

// LikelyTools says which tools probably made links, most links first.
func LikelyTools(links []Link) []Tool {
	var out []Tool
	for _, t := range tools {
		n := 0
		for _, l := range links {
			for _, m := range t.marks {
				if strings.Contains(l.Path, m) {
					n++
					break
				}
			}
		}
		if n > 0 {
			t.Count = n
			out = append(out, t.Tool)
		}
	}
	slices.SortStableFunc(out, func(a, b Tool) int { return b.Count - a.Count })
	return out
}
