package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/hardlinks"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "unlink-hardlinks",
		Usage:     "replace each file in the project's writable trees that is hard-linked from outside with a copy",
		ArgsUsage: "[DIR]",
		Action:    unlinkHardlinksAction,
	})
}

// hardlinksShown is how many of the links an error names.
const hardlinksShown = 3

// hardlinkTrees are the trees the cage may write, but for /tmp and the
// devices: /tmp is shared with every program and changes under any check
// (see the README), and a device has no other names to protect.
func hardlinkTrees(pol *cage.Policy) []string {
	var out []string
	for _, r := range pol.Rules {
		if !strings.Contains(string(r.Access), "w") || r.Dev || r.Path == "/tmp" ||
			cage.Within(r.Path, "/dev") || cage.Within(r.Path, "/proc") || cage.Within(r.Path, "/sys") {
			continue
		}
		out = append(out, r.Path)
	}
	return out
}

// hardlinkCache is where the walk of a project's trees is kept: under
// $XDG_STATE_HOME/aicage/hardlinks, which no grant reaches (the cage could
// otherwise hide a link from the next entry).
func hardlinkCache(host cage.Host, root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(host.StateDir, "hardlinks", filepath.Base(root)+"-"+hex.EncodeToString(sum[:])[:12])
}

// findHardlinks walks pol's writable trees; full ignores the cache, and
// summary lets the report name only the first links when nothing changed.
func findHardlinks(host cage.Host, pol *cage.Policy, full, summary bool) (*hardlinks.Report, error) {
	rep, err := hardlinks.Find(hardlinkTrees(pol), hardlinks.Options{
		Cache:   hardlinkCache(host, pol.Root),
		Full:    full,
		Summary: summary,
		Progress: func() {
			printf("checking %s for hard links to files outside it (cached for the next entry)", cage.Tilde(pol.Root, host.Home))
		},
	})
	if err != nil {
		return nil, fail(err)
	}
	return rep, nil
}

// checkHardlinks applies [filesystem] hardlinks before the cage starts:
// Landlock judges paths, so a file with a name outside the writable trees
// is written there too.
func checkHardlinks(host cage.Host, pol *cage.Policy, mode string) error {
	rep, err := findHardlinks(host, pol, false, mode == "allow")
	if err != nil || rep.Files == 0 {
		return err
	}
	if mode != "allow" && len(hardlinks.Verify(rep.Outside)) < len(rep.Outside) {
		// A name elsewhere went away since the cache was written (a
		// store's garbage collection): walk in full, which refreshes it.
		if rep, err = findHardlinks(host, pol, true, false); err != nil || rep.Files == 0 {
			return err
		}
	}
	switch mode {
	case "allow":
		warningf("%s hard-linked to files outside the project: writes from the cage change those too ([filesystem] hardlinks = \"allow\")",
			countFiles(rep.Files))
		return nil
	case "break":
		n, err := breakHardlinks(rep.Outside)
		if n > 0 {
			printf("replaced %s hard-linked from outside the project with copies; the other names keep their content", files(n))
		}
		return err
	}
	return hardlinkRefusal(host, pol, rep.Files, rep.Outside)
}

// breakHardlinks gives every name of each link in the trees a copy of its
// own, and returns how many names it replaced.
func breakHardlinks(links []hardlinks.Link) (int, error) {
	n := 0
	for _, l := range links {
		for _, name := range l.Names {
			l.Path = name
			if err := hardlinks.Break(l); err != nil {
				return n, fail(err)
			}
			n++
		}
	}
	return n, nil
}

// countFiles is "1 file is" or "N files are".
func countFiles(n int) string {
	if n == 1 {
		return "1 file is"
	}
	return fmt.Sprintf("%d files are", n)
}

func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// hardlinkRefusal names the first links, the tools that likely made them,
// and what to do.
func hardlinkRefusal(host cage.Host, pol *cage.Policy, files int, links []hardlinks.Link) error {
	var names []string
	for _, l := range links[:min(len(links), hardlinksShown)] {
		p := l.Path
		if rel, err := filepath.Rel(pol.Root, p); err == nil && !strings.HasPrefix(rel, "..") {
			p = rel
		} else {
			p = cage.Tilde(p, host.Home)
		}
		names = append(names, p)
	}
	list := strings.Join(names, ", ")
	if more := files - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	err := fmt.Errorf("%s hard-linked to files outside the project, which writes from the cage would change too: %s",
		countFiles(files), list)
	var hints []string
	for _, t := range hardlinks.LikelyTools(links) {
		hints = append(hints, fmt.Sprintf("%d of them look like %s's work, with their other names likely in %s: set %s", t.Count, t.Name, t.Store, t.Fix))
	}
	hints = append(hints, "run 'aicage unlink-hardlinks' to replace each with a copy, or set [filesystem] hardlinks = \"break\" (copy at every entry) or \"allow\" (warn only)")
	return fail(err, hints...)
}

// unlinkHardlinksAction walks the project's writable trees in full,
// without the cache, and breaks every link with a name outside them.
func unlinkHardlinksAction(c *cli.Context) error {
	h, err := projectHost()
	if err != nil {
		return err
	}
	if insideCage(h) {
		// Inside, the real home and aicage's state are out of reach, and the
		// trees the cage sees are not the ones the next entry checks.
		return fail(errors.New("cannot unlink hard links from inside a cage"),
			"leave the cage (exit) and run 'aicage unlink-hardlinks' there")
	}
	if c.Args().Len() > 1 {
		return fail(fmt.Errorf("unlink-hardlinks takes one directory, got %d arguments", c.Args().Len()))
	}
	if dir := c.Args().First(); dir != "" {
		if h.Cwd, err = filepath.Abs(dir); err != nil {
			return fail(err)
		}
	}
	host := cageHost(h)
	sess, err := resolve(c, request{argv: []string{"/bin/true"}}, h)
	if err != nil {
		return err
	}
	pol, err := cage.Compile(sess.spec, host)
	if err != nil {
		return fail(err)
	}
	rep, err := findHardlinks(host, pol, true, false)
	if err != nil {
		return err
	}
	n, err := breakHardlinks(rep.Outside)
	printf("replaced %s hard-linked from outside the project with copies (%d directories checked; %s linked only inside, left alone)",
		files(n), rep.Dirs, files(rep.Inside))
	return err
}
