package project

import (
	"regexp"
	"testing"
)

// TestNamesMatchTheirPatterns checks the hand-written validators against
// the patterns they replace.
func TestNamesMatchTheirPatterns(t *testing.T) {
	name := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	env := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for _, s := range []string{"", "a", "A9", "9a", "_a", ".a", "-a", "a.b-c_d", "a b", "a/b", "é", "aé", "a\x00",
		"A_B", "_", "__", "1", "a1", "a-", "a.", "claude", "dev.net", "x$y", "ÄB"} {
		if got, want := validName(s), name.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, want %v", s, got, want)
		}
		if got, want := validEnvName(s), env.MatchString(s); got != want {
			t.Errorf("validEnvName(%q) = %v, want %v", s, got, want)
		}
	}
}
