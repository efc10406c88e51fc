//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/project"
)

// BenchmarkEntryCompile is what `aicage run` does in-process before the
// command starts, without the process start-up and the integrity snapshot
// (benchmarked in cage/integrity): find and decode the config, check trust,
// resolve the profile, compile the policy and prepare the state directory.
// It runs in a trusted git project with the aiAgent profile, as bench/ does.
func BenchmarkEntryCompile(b *testing.B) {
	dir := b.TempDir()
	home, proj := filepath.Join(dir, "home"), filepath.Join(dir, "proj")
	for _, d := range []string{home, proj} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": home + "/.config", "XDG_DATA_HOME": home + "/.local/share",
		"XDG_STATE_HOME": home + "/.local/state", "PATH": "/usr/local/bin:/usr/bin:/bin",
	} {
		b.Setenv(k, v)
	}
	if err := os.WriteFile(filepath.Join(proj, ".aicage.toml"), []byte("profile = \"aiAgent\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("git", "init", "-q", proj).CombinedOutput(); err != nil {
		b.Skipf("git init: %v %s", err, out)
	}
	b.Chdir(proj)
	h, err := projectHost()
	if err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(proj, ".aicage.toml")
	data, _ := os.ReadFile(cfg)
	if err := project.NewTrustStore(h.TrustDir()).Allow(cfg, data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := projectHost()
		if err != nil {
			b.Fatal(err)
		}
		host := cageHost(h)
		sess, err := resolve(nil, request{argv: []string{"/bin/true"}, noPrompt: true}, h)
		if err != nil {
			b.Fatal(err)
		}
		pol, err := cage.Compile(sess.spec, host)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cage.PrepareState(pol); err != nil {
			b.Fatal(err)
		}
	}
}
