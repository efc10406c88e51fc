package project

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions remembers where every key and value of a document was written,
// so that errors found after decoding (a port out of range, a refused path)
// still name file:line:col. go-toml's typed decoding keeps no positions; its
// own parser does.
type positions struct {
	keys   map[string]unstable.Position // key path → where the key was written
	values map[string]unstable.Position // key path (with "#i" for array items) → where the value starts
	byPos  map[[2]int][]string          // line, column of a key → its full path
}

// keyPath joins key parts; array items are "#0", "#1", ….
func keyPath(parts ...string) string { return strings.Join(parts, "\x00") }

// dotted renders key parts for a message: network.connect[1].
func dotted(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if strings.HasPrefix(p, "#") {
			b.WriteString("[" + p[1:] + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if p == "" || strings.ContainsAny(p, ". \"'") {
			p = strconv.Quote(p)
		}
		b.WriteString(p)
	}
	return b.String()
}

// indexPositions walks a document that go-toml already accepted.
func indexPositions(data []byte) *positions {
	ps := &positions{
		keys:   map[string]unstable.Position{},
		values: map[string]unstable.Position{},
		byPos:  map[[2]int][]string{},
	}
	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			prefix = ps.key(&p, nil, e.Key())
			if e.Kind == unstable.ArrayTable {
				k := keyPath(prefix...)
				prefix = append(prefix, "#"+strconv.Itoa(arrays[k]))
				arrays[k]++
			}
		case unstable.KeyValue:
			ps.keyValue(&p, prefix, e)
		}
	}
	return ps
}

// key records each part of a (dotted) key and returns the full path.
func (ps *positions) key(p *unstable.Parser, prefix []string, it unstable.Iterator) []string {
	path := append([]string(nil), prefix...)
	for it.Next() {
		n := it.Node()
		path = append(path, string(n.Data))
		full := append([]string(nil), path...)
		if n.Raw.Length > 0 {
			pos := p.Shape(n.Raw).Start
			if _, ok := ps.keys[keyPath(full...)]; !ok {
				ps.keys[keyPath(full...)] = pos
			}
			ps.byPos[[2]int{pos.Line, pos.Column}] = full
		}
	}
	return path
}

func (ps *positions) keyValue(p *unstable.Parser, prefix []string, n *unstable.Node) {
	path := ps.key(p, prefix, n.Key())
	ps.value(p, path, n.Value())
}

func (ps *positions) value(p *unstable.Parser, path []string, v *unstable.Node) {
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind != unstable.Comment {
				ps.value(p, append(append([]string(nil), path...), "#"+strconv.Itoa(i)), c)
				i++
			}
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			ps.keyValue(p, path, it.Node())
		}
	default:
		if v.Raw.Length > 0 {
			ps.values[keyPath(path...)] = p.Shape(v.Raw).Start
		}
	}
}

// at returns where the value (or else the key) at path was written, falling
// back to the nearest enclosing key.
func (ps *positions) at(path ...string) (line, col int) {
	if ps == nil {
		return 0, 0
	}
	if pos, ok := ps.values[keyPath(path...)]; ok {
		return pos.Line, pos.Column
	}
	for n := len(path); n > 0; n-- {
		if pos, ok := ps.keys[keyPath(path[:n]...)]; ok {
			return pos.Line, pos.Column
		}
	}
	return 0, 0
}
