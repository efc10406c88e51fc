// Package templates holds the configurations 'aicage init' writes, one TOML
// file per agent, embedded in the binary. Each grants what its agent needs
// and says why in comments; every one must decode strictly.
package templates

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.toml
var files embed.FS

// Default is the template 'aicage init' uses without --template.
const Default = "generic"

// Names lists the templates, the default first.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && n != Default {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return append([]string{Default}, names...)
}

// Get returns a template's bytes.
func Get(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\.`) || name == "" {
		return nil, fmt.Errorf("unknown template %q; templates: %s", name, strings.Join(Names(), ", "))
	}
	data, err := files.ReadFile(name + ".toml")
	if err != nil {
		return nil, fmt.Errorf("unknown template %q; templates: %s", name, strings.Join(Names(), ", "))
	}
	return data, nil
}
