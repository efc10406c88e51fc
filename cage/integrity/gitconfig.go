package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// maxConfigSize bounds a git config file we are willing to judge by meaning;
// a larger one is treated as not valid git config.
const maxConfigSize = 1 << 20 // 1 MiB

// gitConfig is a git config file as git itself reads it: section headers and
// entries in file order. Comments and layout are not kept; format writes the
// file back in the form git's own writer uses, so a file git wrote comes
// back byte for byte.
type gitConfig struct {
	lines []cfgLine
}

// cfgLine is a section header or an entry.
type cfgLine struct {
	header bool
	// base is the section as git names it ("core", "remote.origin"): the
	// section name lowercased, then a dot and the subsection if there is one.
	base string
	// key is the entry's key lowercased; raw is the key as written, kept
	// so that rewriting a file does not change its spelling.
	key, raw string
	value    string
	noValue  bool // "key" without "=": git reads it as true
}

// name is the entry's full name as git matches it: "remote.origin.url".
func (l cfgLine) name() string { return l.base + "." + l.key }

var errBadConfig = errors.New("not valid git config")

// parseGitConfig reads b the way git's config parser (config.c) does. It
// accepts a subset of what git accepts: NUL bytes, entries before the first
// section and empty section names are refused, so that whatever it accepts
// means the same to both.
func parseGitConfig(b []byte) (*gitConfig, error) {
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errBadConfig, maxConfigSize)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: NUL byte", errBadConfig)
	}
	p := &cfgParser{b: b}
	if len(b) > 0 && b[0] == 0xef {
		if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			return nil, fmt.Errorf("%w: partial byte order mark", errBadConfig)
		}
		p.i = 3
	}
	cfg := &gitConfig{}
	base, comment := "", false
	for {
		c := p.next()
		switch {
		case c == '\n':
			if p.eof {
				return cfg, nil
			}
			comment = false
			continue
		case comment || isSpace(c):
			continue
		case c == '#' || c == ';':
			comment = true
			continue
		case c == '[':
			name, err := p.baseVar()
			if err != nil {
				return nil, p.fail(err)
			}
			if name == "" || strings.HasPrefix(name, ".") {
				return nil, p.fail(errors.New("empty section name"))
			}
			base = name
			cfg.lines = append(cfg.lines, cfgLine{header: true, base: base})
			continue
		case !isAlpha(c):
			return nil, p.fail(fmt.Errorf("unexpected %q", c))
		}
		if base == "" {
			return nil, p.fail(errors.New("entry outside any section"))
		}
		line, err := p.entry(c)
		if err != nil {
			return nil, p.fail(err)
		}
		line.base = base
		cfg.lines = append(cfg.lines, line)
	}
}

// cfgParser mirrors git's get_next_char: CR LF reads as LF, and the end of
// the input reads as a final LF with eof set.
type cfgParser struct {
	b    []byte
	i    int
	eof  bool
	line int
}

func (p *cfgParser) next() byte {
	if p.i >= len(p.b) {
		p.eof = true
		return '\n'
	}
	c := p.b[p.i]
	p.i++
	if c == '\r' && p.i < len(p.b) && p.b[p.i] == '\n' {
		p.i++
		c = '\n'
	}
	if c == '\n' {
		p.line++
	}
	return c
}

func (p *cfgParser) fail(err error) error {
	return fmt.Errorf("%w: line %d: %v", errBadConfig, p.line+1, err)
}

// baseVar reads a section header after "[" (git's get_base_var).
func (p *cfgParser) baseVar() (string, error) {
	var name []byte
	for {
		c := p.next()
		switch {
		case p.eof:
			return "", errors.New("unterminated section header")
		case c == ']':
			return string(name), nil
		case isSpace(c):
			return p.extendedBaseVar(name, c)
		case !isKeyChar(c) && c != '.':
			return "", fmt.Errorf("bad section name character %q", c)
		}
		name = append(name, toLower(c))
	}
}

// extendedBaseVar reads the ` "subsection"]` part (get_extended_base_var).
func (p *cfgParser) extendedBaseVar(name []byte, c byte) (string, error) {
	for {
		if c == '\n' {
			return "", errors.New("incomplete section header")
		}
		c = p.next()
		if !isSpace(c) {
			break
		}
	}
	if c != '"' {
		return "", errors.New(`subsection must be quoted: [section "subsection"]`)
	}
	name = append(name, '.')
	for {
		c := p.next()
		if c == '\n' {
			return "", errors.New("incomplete section header")
		}
		if c == '"' {
			break
		}
		if c == '\\' {
			if c = p.next(); c == '\n' {
				return "", errors.New("incomplete section header")
			}
		}
		name = append(name, c)
	}
	if p.next() != ']' {
		return "", errors.New(`section header must end with "]"`)
	}
	return string(name), nil
}

// entry reads "key [= value]" whose first character is first (get_value).
func (p *cfgParser) entry(first byte) (cfgLine, error) {
	key, raw := []byte{toLower(first)}, []byte{first}
	var c byte
	for {
		c = p.next()
		if p.eof || !isKeyChar(c) {
			break
		}
		key, raw = append(key, toLower(c)), append(raw, c)
	}
	for c == ' ' || c == '\t' {
		c = p.next()
	}
	line := cfgLine{key: string(key), raw: string(raw)}
	if c == '\n' {
		line.noValue = true
		return line, nil
	}
	if c != '=' {
		return line, fmt.Errorf("expected \"=\" after key %q", raw)
	}
	v, err := p.value()
	line.value = v
	return line, err
}

// value reads a value after "=" (git's parse_value, as of git 2.39: a run of
// unquoted whitespace inside the value reads as that many spaces; newer git
// keeps the characters, which format never relies on).
func (p *cfgParser) value() (string, error) {
	var v []byte
	quote, comment, space := false, false, 0
	for {
		c := p.next()
		if c == '\n' {
			if quote {
				return "", errors.New("unterminated quoted value")
			}
			return string(v), nil
		}
		if comment {
			continue
		}
		if isSpace(c) && !quote {
			if len(v) > 0 {
				space++
			}
			continue
		}
		if !quote && (c == ';' || c == '#') {
			comment = true
			continue
		}
		for ; space > 0; space-- {
			v = append(v, ' ')
		}
		switch c {
		case '\\':
			switch c = p.next(); c {
			case '\n':
				continue
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'n':
				c = '\n'
			case '\\', '"':
			default:
				return "", fmt.Errorf("unknown escape \\%c", c)
			}
			v = append(v, c)
		case '"':
			quote = !quote
		default:
			v = append(v, c)
		}
	}
}

// git's sane ctype: isspace is exactly TAB, LF, CR and SP.
func isSpace(c byte) bool   { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isKeyChar(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' || c == '-' }
func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// values returns every entry's values by full name, in file order.
func (cfg *gitConfig) values() map[string][]cfgValue {
	m := map[string][]cfgValue{}
	for _, l := range cfg.lines {
		if !l.header {
			m[l.name()] = append(m[l.name()], cfgValue{l.value, l.noValue})
		}
	}
	return m
}

// cfgValue is one value of a key; noValue is the bare "key" form.
type cfgValue struct {
	v       string
	noValue bool
}

// all returns the values of the entries named name.
func (cfg *gitConfig) all(name string) []string {
	var out []string
	for _, l := range cfg.lines {
		if !l.header && l.name() == name {
			out = append(out, l.value)
		}
	}
	return out
}
