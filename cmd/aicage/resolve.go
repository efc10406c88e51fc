package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"github.com/aicage/aicage/cage"
	"github.com/urfave/cli/v2"
)

// resolve finds the project for the request. TEMPORARY: built-in aiAgent
// only, until the project package lands.
func resolve(c *cli.Context, req request, host cage.Host) (*session, error) {
	dir, err := cwd()
	if err != nil {
		return nil, fail(err)
	}
	if req.name != "" {
		return nil, fail(errors.New("no .aicage.toml: there are no named commands"), "use 'aicage run -- CMD'")
	}
	root := dir
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			root = d
			break
		}
	}
	sum := sha256.Sum256([]byte(root))
	state := filepath.Join(host.StateDir, "projects", filepath.Base(root)+"-"+hex.EncodeToString(sum[:])[:12])
	spec := cage.Spec{
		Root: root, StateDir: state, Profile: "aiAgent", Argv: req.argv, Cwd: dir,
		Connect:    []cage.Port{{Port: 443, Source: "profile aiAgent"}, {Port: 22, Source: "profile aiAgent"}},
		UDP:        "dns",
		SSHAgent:   true,
		ExecSystem: true,
		BestEffort: req.flags.bestEffort,
	}
	printf("no .aicage.toml found: using the built-in aiAgent profile for %s", root)
	return &session{spec: spec}, nil
}
