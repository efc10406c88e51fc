package integrity

import (
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	p := newProject(t)
	set, err := ProtectedSet(p.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range set.Items {
		t.Logf("%s %v %s", it.Path, it.Kind, it.Source)
	}
	p.start()
	t.Logf("watches %v", p.w.fsw.WatchList())
	writeFile(t, filepath.Join(p.root, ".git/hooks/pre-commit"), p.evilHook(), 0o755)
	p.waitEvent(".git/hooks/pre-commit", "created inside the cage")
	p.git("config", "core.fsmonitor", p.evil)
	p.waitEvent(".git/config", "forbidden key core.fsmonitor")
	p.runEverything()
	p.noMarker()
	evs, err := p.w.Close()
	t.Log(evs, err)
	t.Log(readFile(t, filepath.Join(p.root, ".git/config")))
}
