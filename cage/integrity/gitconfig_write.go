package integrity

import (
	"bytes"
	"strings"
)

// format writes cfg in the layout git's own writer uses: "[section]" or
// `[section "subsection"]` headers and "\tkey = value" entries. An entry
// whose section differs from the header above it gets a header of its own.
func (cfg *gitConfig) format() []byte {
	var b bytes.Buffer
	cur, started := "", false
	for _, l := range cfg.lines {
		if l.header || !started || l.base != cur {
			writeHeader(&b, l.base)
			cur, started = l.base, true
			if l.header {
				continue
			}
		}
		b.WriteByte('\t')
		b.WriteString(l.raw)
		if !l.noValue {
			b.WriteString(" = ")
			writeValue(&b, l.value)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func writeHeader(b *bytes.Buffer, base string) {
	section, sub, hasSub := strings.Cut(base, ".")
	b.WriteByte('[')
	b.WriteString(section)
	if hasSub {
		b.WriteString(` "`)
		for i := 0; i < len(sub); i++ {
			if sub[i] == '"' || sub[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(sub[i])
		}
		b.WriteByte('"')
	}
	b.WriteString("]\n")
}

// writeValue quotes like git's write_pair, and also when the value holds a
// CR, which git's parser would otherwise read as whitespace.
func writeValue(b *bytes.Buffer, v string) {
	quote := strings.ContainsAny(v, ";#\r") ||
		strings.HasPrefix(v, " ") || strings.HasSuffix(v, " ")
	if quote {
		b.WriteByte('"')
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	if quote {
		b.WriteByte('"')
	}
}
