package project

import (
	"fmt"
	"strings"
)

// Error is a problem with a configuration file that the user can fix: it
// names the place (File:Line:Col, when known), the key, what is wrong and
// what was expected. Hint, when set, says what to do next.
type Error struct {
	File      string
	Line, Col int
	Key       string // dotted key, e.g. "network.connect"
	Msg       string
	Hint      string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// loc is where a value was written.
type loc struct {
	file      string
	line, col int
	key       string
}

func (l loc) errorf(hint, format string, v ...any) *Error {
	return &Error{File: l.file, Line: l.line, Col: l.col, Key: l.key, Msg: fmt.Sprintf(format, v...), Hint: hint}
}

// suggest returns the candidate nearest to s within edit distance 2, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours ("dsn" is
// one away from "dns").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// didYouMean formats a suggestion as a message suffix.
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" && m != s {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}
