package schema_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/aicage/aicage/docs/schema"
	"github.com/aicage/aicage/docs/schema/schematest"
	"github.com/aicage/aicage/project"
	"github.com/aicage/aicage/templates"
)

func TestSchemasCompile(t *testing.T) {
	for _, name := range schema.Names() {
		doc, err := schema.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schematest.Compile(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := schema.Get("nope"); err == nil || !strings.Contains(err.Error(), "config, status, doctor") {
		t.Errorf("Get(nope) = %v", err)
	}
}

// TestConfigSchemaMatchesDecoder: every key the decoder accepts (the toml
// tags of project.Config, which DisallowUnknownFields enforces) is in the
// schema with the same type and a description, and the schema has no key
// the decoder refuses.
func TestConfigSchemaMatchesDecoder(t *testing.T) {
	doc, _ := schema.Get("config")
	drift, err := schematest.Drift(doc, reflect.TypeFor[project.Config](), schematest.Options{Tag: "toml", Described: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drift {
		t.Errorf("aicage.schema.json drifted from project.Config: %s", d)
	}
}

// TestTemplatesValidate: every template, as TOML, is valid against the
// schema, and starts with the #:schema line that points editors at it.
func TestTemplatesValidate(t *testing.T) {
	doc, _ := schema.Get("config")
	for _, name := range templates.Names() {
		data, err := templates.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := toml.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := schematest.ValidateValue(doc, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if want := "#:schema " + schema.URL; string(first) != want {
			t.Errorf("%s starts with %q, want %q", name, first, want)
		}
	}
}

// TestConfigSchemaAgrees: configs the decoder takes, the schema takes, and
// some it refuses for a value, the schema refuses too.
func TestConfigSchemaAgrees(t *testing.T) {
	doc, _ := schema.Get("config")
	for _, tc := range []struct {
		name, toml string
		ok         bool
	}{
		{"design example", designExample, true},
		{"empty", "", true},
		{"unknown key", "[network]\nconect = [443]\n", false},
		{"port out of range", "[network]\nconnect = [70000]\n", false},
		{"udp value", "[network]\nudp = \"some\"\n", false},
		{"hardlinks value", "[filesystem]\nhardlinks = \"copy\"\n", false},
		{"egress value", "[network]\negress = \"tor\"\n", false},
		{"wrong type", "[ssh]\nagent = \"yes\"\n", false},
		{"command without argv", "[commands.x]\ndescription = \"x\"\n", false},
		{"command on_create", "[commands.x]\nargv = [\"x\"]\n[commands.x.lifecycle]\non_create = \"make\"\n", false},
		{"command name", "[commands.\"-x\"]\nargv = [\"x\"]\n", false},
		{"builtin profile redefined", "[profiles.aiAgent]\nextends = \"offline\"\n", false},
		{"reserved env", "[env]\nset = { AICAGE = \"0\" }\n", false},
		{"env name", "[env]\npass = [\"A-B\"]\n", false},
		{"credential incomplete", "[credentials.a]\nsource = \"env:A\"\n", false},
		{"credential source", "[credentials.a]\nsource = \"A\"\nupstream = \"https://a\"\nheader = \"x: {}\"\nbase_url_env = \"B\"\nkey_env = \"K\"\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := project.Parse("/p/.aicage.toml", []byte(tc.toml))
			if (perr == nil) != tc.ok {
				t.Fatalf("the decoder says %v, want ok=%v", perr, tc.ok)
			}
			var v map[string]any
			if err := toml.Unmarshal([]byte(tc.toml), &v); err != nil {
				t.Fatal(err)
			}
			if v == nil {
				v = map[string]any{}
			}
			err := schematest.ValidateValue(doc, v)
			if (err == nil) != tc.ok {
				t.Errorf("the schema says %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// designExample is the configuration of DESIGN.md, every section used.
const designExample = `
profile = "aiAgent"
shell = "bash"

[filesystem]
ro  = ["~/.config/nvim"]
rox = []
rw  = ["~/.cache/go-build"]
rwx = []
hardlinks = "refuse"

[home]
copy = ["~/.gitconfig"]
link = ["~/.claude"]

[network]
connect = [443, 22]
bind    = []
udp     = "dns"
hosts   = ["127.0.0.1:5432"]
unix    = ["/run/user/1000/podman/podman.sock"]
domains = ["api.anthropic.com", "*.github.com"]
egress  = "proxy"

[env]
pass  = ["ANTHROPIC_API_KEY"]
set   = { EDITOR = "vi" }
files = [".aicage/env"]

[ssh]
agent = true

[exec]
packages = []
system = true

[protect]
paths = [".envrc"]

[lifecycle]
on_create = "npm ci"
on_enter  = ""

[credentials.anthropic]
source = "env:ANTHROPIC_API_KEY"
upstream = "https://api.anthropic.com"
upstream_env = "ANTHROPIC_BASE_URL"
header = "x-api-key: {}"
base_url_env = "ANTHROPIC_BASE_URL"
key_env = "ANTHROPIC_API_KEY"

[commands.claude]
argv = ["claude"]
description = "Claude Code"
[commands.claude.network]
connect = [8443]

[profiles.strict]
extends = "offline"
[profiles.strict.network]
connect = [443]
`
