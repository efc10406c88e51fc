package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// configCheck is one look at a GitConfig item.
type configCheck struct {
	dirfd int
	it    *itemState
	out   []finding
}

func (c *configCheck) note(what string, err error) {
	if err != nil {
		what = fmt.Sprintf("%s: %v", what, err)
	}
	c.out = append(c.out, finding{path: c.it.Path, what: what, err: err})
}

// reconcileConfig judges a git config file by meaning: changes to allowed
// keys are kept and become the snapshot; any other change is undone. The
// file left in place is always one that reads back through our parser to
// what was judged, so what git reads is what was judged.
func reconcileConfig(dirfd int, it *itemState) []finding {
	c := &configCheck{dirfd: dirfd, it: it}
	name, want := it.name(), it.want
	st, err := lstatAt(dirfd, name)
	switch {
	case errors.Is(err, unix.ENOENT):
		if want.typ != absent {
			c.note("deleted", replaceAt(dirfd, name, want))
		}
	case err != nil:
		c.note("cannot inspect", err)
	case typeOf(&st) != regular:
		if want.typ == absent {
			c.note("created inside the cage", removeAt(dirfd, name))
			break
		}
		what := "replaced by " + describe(&st)
		if err := removeAt(dirfd, name); err != nil {
			c.note(what, err)
			break
		}
		c.note(what, replaceAt(dirfd, name, want))
	case want.typ == regular && perm(&st) != want.mode:
		err := chmodAt(dirfd, name, want.mode)
		c.note("mode changed", err)
		if err == nil {
			c.content()
		}
	default:
		c.content()
	}
	return c.out
}

// content judges what the regular file says.
func (c *configCheck) content() {
	name, want := c.it.name(), c.it.want
	data, st, err := readAt(c.dirfd, name, maxConfigSize)
	if err == nil && want.typ == regular && bytes.Equal(data, want.data) {
		if uint64(st.Nlink) > 1 && uint64(st.Nlink) > want.nlink {
			c.note("hard-linked from elsewhere", replaceAt(c.dirfd, name, want))
		}
		return
	}
	var cur *gitConfig
	if err == nil {
		cur, err = parseGitConfig(data)
	}
	switch {
	case err != nil && want.typ == absent:
		c.note("created inside the cage (not valid git config)", removeAt(c.dirfd, name))
	case err != nil:
		c.note("modified (not valid git config)", replaceAt(c.dirfd, name, want))
	default:
		mode := want.mode
		if want.typ == absent {
			mode = perm(&st) & 0o666
		}
		c.judged(cur, data, mode, uint64(st.Nlink))
	}
}

// judged keeps cur when its changes are allowed, else writes it back
// without the forbidden ones.
func (c *configCheck) judged(cur *gitConfig, data []byte, mode uint32, nlink uint64) {
	name, want := c.it.name(), c.it.want
	fixed, reasons := judge(c.it.cfg, cur)
	if fixed == nil {
		// Allowed: keep it, in the form git's own writer uses.
		canon := cur.format()
		if !bytes.Equal(canon, data) || nlink > 1 {
			if err := replaceAt(c.dirfd, name, &node{typ: regular, mode: mode, data: canon}); err != nil {
				c.note("cannot rewrite", err)
				return
			}
		}
		c.it.want, c.it.cfg = &node{typ: regular, mode: mode, nlink: 1, data: canon}, cur
		return
	}
	what := strings.Join(reasons, "; ")
	if !hasEntries(fixed) && want.typ == absent {
		c.note(what, removeAt(c.dirfd, name))
		return
	}
	next := &node{typ: regular, mode: mode, nlink: 1, data: fixed.format()}
	if want.typ == regular && bytes.Equal(next.data, c.it.cfg.format()) {
		next.data = want.data // back to the snapshot exactly, comments and all
	}
	if err := replaceAt(c.dirfd, name, next); err != nil {
		c.note(what, err)
		return
	}
	c.note(what, nil)
	c.it.want, c.it.cfg = next, fixed
}

func hasEntries(cfg *gitConfig) bool {
	for _, l := range cfg.lines {
		if !l.header {
			return true
		}
	}
	return false
}
