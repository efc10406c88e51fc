package templates_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/aicage/aicage/project"
	"github.com/aicage/aicage/templates"
)

func TestNames(t *testing.T) {
	want := []string{"generic", "aider", "claude", "codex", "copilot", "gemini", "opencode"}
	if got := templates.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestGetUnknown(t *testing.T) {
	for _, name := range []string{"", "nope", "../templates", "claude.toml"} {
		if _, err := templates.Get(name); err == nil || !strings.Contains(err.Error(), "unknown template") {
			t.Errorf("Get(%q) = %v", name, err)
		}
	}
}

// TestTemplatesDecodeStrictly: every key of every template is a key of
// .aicage.toml, and each agent template starts its agent.
func TestTemplatesDecodeStrictly(t *testing.T) {
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			data, err := templates.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			var cfg project.Config
			d := toml.NewDecoder(bytes.NewReader(data))
			d.DisallowUnknownFields()
			if err := d.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := project.Parse("/p/"+project.ConfigName, data); err != nil {
				t.Fatal(err)
			}
			if name == templates.Default {
				return
			}
			c := cfg.Commands[name]
			if c == nil || c.Argv[0] != name || c.Description == "" {
				t.Errorf("[commands.%s] = %+v", name, c)
			}
			if len(cfg.Env.Pass) == 0 && len(cfg.Credentials) == 0 {
				t.Error("neither injects nor passes an API key variable")
			}
			if cfg.Network.Egress == nil || *cfg.Network.Egress != "proxy" || len(cfg.Network.Domains) == 0 {
				t.Errorf("egress = %v with %d domains, want the proxy and the agent's hosts", cfg.Network.Egress, len(cfg.Network.Domains))
			}
			if len(cfg.Network.Connect) != 1 || cfg.Network.Connect[0] != 443 {
				t.Errorf("connect = %v", cfg.Network.Connect)
			}
		})
	}
}
