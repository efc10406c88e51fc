package e2e

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	commands["jsonclean"] = cmdJSONClean
}

// jsonclean FILE: FILE is JSON whose every key is snake_case and no value is
// null (an empty list is [], a missing object is left out or is {}), with
// schema_version at the top.
func cmdJSONClean(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonclean FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var v map[string]any
	ts.Check(json.Unmarshal(b, &v))
	if _, ok := v["schema_version"].(float64); !ok {
		ts.Fatalf("%s: no schema_version", args[0])
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil:
			ts.Fatalf("%s: %s is null", args[0], path)
		case map[string]any:
			for k, e := range x {
				if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
					ts.Fatalf("%s: key %s%s is not snake_case", args[0], path, k)
				}
				walk(path+k+".", e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[].", e)
			}
		}
	}
	walk("", v)
}
