package project

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"

	"github.com/aicage/aicage/docs/schema"
)

// TestSchemaValues: the values the config schema allows and defaults to are
// the decoder's: enums, reserved and built-in names, the name patterns, and
// the defaults an empty config resolves to. (The keys and types are compared
// in docs/schema's tests.)
func TestSchemaValues(t *testing.T) {
	doc, _ := schema.Get("config")
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	at := func(path ...string) any {
		var cur any = root
		for _, p := range path {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		return cur
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	prop := func(def, key string, rest ...string) any {
		return at(append([]string{"$defs", def, "properties", key}, rest...)...)
	}
	for _, tc := range []struct {
		what      string
		got, want []string
	}{
		{"udp", strs(prop("network", "udp", "enum")), udpModes},
		{"hardlinks", strs(prop("filesystem", "hardlinks", "enum")), hardlinkModes},
		{"egress", strs(prop("network", "egress", "enum")), egressModes},
		{"built-in profiles", strs(at("properties", "profiles", "propertyNames", "not", "enum")), BuiltinProfiles()},
		{"reserved variables", strs(at("$defs", "env_name", "not", "enum")), reservedEnv},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: schema %q, decoder %q", tc.what, tc.got, tc.want)
		}
	}

	samples := []string{"a", "A1", "claude", "my-profile.v2", "x_y", "-x", ".x", "_x", "1", "a b", "é", "", "a/b", "AICAGE", "a-b"}
	for _, tc := range []struct {
		what  string
		re    string
		valid func(string) bool
	}{
		{"name", at("$defs", "name", "pattern").(string), validName},
		{"profile", at("properties", "profile", "pattern").(string), validName},
		{"extends", prop("profile", "extends", "pattern").(string), validName},
		{"variable", at("$defs", "env_name", "pattern").(string), validEnvName},
	} {
		re := regexp.MustCompile(tc.re)
		for _, s := range samples {
			if re.MatchString(s) != tc.valid(s) {
				t.Errorf("%s %q: schema pattern says %v, decoder %v", tc.what, s, re.MatchString(s), tc.valid(s))
			}
		}
	}

	// The defaults are those of an empty config, which uses the default
	// profile.
	h, proj := testHost(t)
	p, err := load(t, h, proj, "", Options{Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"profile", at("properties", "profile", "default"), DefaultProfile},
		{"udp", prop("network", "udp", "default"), p.Spec.UDP},
		{"hardlinks", prop("filesystem", "hardlinks", "default"), p.Spec.Hardlinks},
		{"ssh agent", prop("ssh", "agent", "default"), p.Spec.SSHAgent},
		{"exec system", prop("exec", "system", "default"), p.Spec.ExecSystem},
		{"egress", prop("network", "egress", "default"), orDefault(p.Spec.Egress, "direct")},
	} {
		if tc.got != tc.want {
			t.Errorf("default %s: schema %v, an empty config %v", tc.what, tc.got, tc.want)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
