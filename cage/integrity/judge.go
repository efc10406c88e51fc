package integrity

import (
	"slices"
	"sort"
	"strings"
)

// judgement is the verdict on a changed git config file.
type judgement struct {
	snap, cur *gitConfig
	snapVals  map[string][]cfgValue
	curVals   map[string][]cfgValue
	oldURLs   map[string]bool
	remotes   map[string]bool // remotes with a URL in the result
	verdict   map[string]string
}

// judge compares the current file with the snapshot key by key. It returns
// the file to write (nil when cur may stay as it is) and, for every key
// that was put back, why ("forbidden key core.fsmonitor").
func judge(snap, cur *gitConfig) (out *gitConfig, restored []string) {
	j := &judgement{
		snap: snap, cur: cur,
		snapVals: snap.values(), curVals: cur.values(),
		oldURLs: map[string]bool{}, remotes: map[string]bool{},
		verdict: map[string]string{},
	}
	for name, vals := range j.snapVals {
		if isURLKey(name) {
			for _, v := range vals {
				j.oldURLs[v.v] = true
			}
		}
	}
	names := make([]string, 0, len(j.curVals)+len(j.snapVals))
	for n := range j.curVals {
		names = append(names, n)
	}
	for n := range j.snapVals {
		if _, ok := j.curVals[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	// Remote references are judged last, against the remotes that survive.
	var refs []string
	for _, n := range names {
		if remoteRefKeys[keyPattern(n)] {
			refs = append(refs, n)
			continue
		}
		j.decide(n)
	}
	j.collectRemotes()
	for _, n := range refs {
		j.decide(n)
	}
	if len(j.verdict) == 0 {
		return nil, nil
	}
	return j.rebuild(), j.reasons()
}

// decide records a verdict for name when its change is not allowed.
func (j *judgement) decide(name string) {
	old, cur := j.snapVals[name], j.curVals[name]
	if slices.Equal(old, cur) {
		return
	}
	check, ok := allowedKey(name)
	if !ok {
		j.verdict[name] = "forbidden key " + name
		return
	}
	if check == nil {
		return
	}
	for _, v := range cur {
		if !slices.Contains(old, v) && !check(v, j) {
			j.verdict[name] = "forbidden value of " + name
			return
		}
	}
}

// collectRemotes notes which remotes have a URL once the verdicts so far
// are applied.
func (j *judgement) collectRemotes() {
	for name := range j.curVals {
		j.noteRemote(name, j.verdict[name] == "")
	}
	for name := range j.snapVals {
		j.noteRemote(name, j.verdict[name] != "")
	}
}

func (j *judgement) noteRemote(name string, kept bool) {
	if !kept || !strings.HasPrefix(name, "remote.") || !strings.HasSuffix(name, ".url") {
		return
	}
	if nick := strings.TrimSuffix(strings.TrimPrefix(name, "remote."), ".url"); nick != "" {
		j.remotes[nick] = true
	}
}

// rebuild is the current file without the entries of every key with a
// verdict, followed by the snapshot's entries for those keys.
func (j *judgement) rebuild() *gitConfig {
	out := &gitConfig{}
	for _, l := range j.cur.lines {
		if l.header || j.verdict[l.name()] == "" {
			out.lines = append(out.lines, l)
		}
	}
	for _, l := range j.snap.lines {
		if !l.header && j.verdict[l.name()] != "" {
			out.lines = append(out.lines, l)
		}
	}
	return j.dropEmptyHeaders(out)
}

// dropEmptyHeaders removes the section headers the cage added that lost
// every entry to a verdict, so that a file whose every change was
// forbidden comes out as the snapshot (and is put back byte for byte).
func (j *judgement) dropEmptyHeaders(c *gitConfig) *gitConfig {
	snapHeaders := map[string]int{}
	for _, l := range j.snap.lines {
		if l.header {
			snapHeaders[l.base]++
		}
	}
	kept := map[string]int{}
	out := &gitConfig{}
	for i, l := range c.lines {
		if l.header {
			empty := i+1 == len(c.lines) || c.lines[i+1].header
			if empty && kept[l.base] >= snapHeaders[l.base] {
				continue
			}
			kept[l.base]++
		}
		out.lines = append(out.lines, l)
	}
	return out
}

func (j *judgement) reasons() []string {
	var keys, values []string
	for name, why := range j.verdict {
		if strings.HasPrefix(why, "forbidden key ") {
			keys = append(keys, name)
		} else {
			values = append(values, name)
		}
	}
	sort.Strings(keys)
	sort.Strings(values)
	var out []string
	switch len(keys) {
	case 0:
	case 1:
		out = append(out, "forbidden key "+keys[0])
	default:
		out = append(out, "forbidden keys "+strings.Join(keys, ", "))
	}
	for _, v := range values {
		out = append(out, "forbidden value of "+v)
	}
	return out
}
