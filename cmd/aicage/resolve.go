package main

import (
	"fmt"
	"os"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/project"
	"github.com/urfave/cli/v2"
)

// session is a resolved request.
type session struct {
	spec    cage.Spec
	project *project.Project
}

// resolve finds the project for the request: the nearest .aicage.toml,
// read once, decoded strictly and trusted; or, with none, the built-in
// profile for the git top-level or the cwd.
func resolve(c *cli.Context, req request, h project.Host) (*session, error) {
	f, err := project.Discover(h.Cwd)
	if err != nil {
		return nil, failProject(err)
	}
	opts := project.Options{
		Profile:    req.flags.profile,
		Command:    req.name,
		Args:       req.argv,
		Shell:      req.shell,
		BestEffort: req.flags.bestEffort,
	}
	var p *project.Project
	if f == nil {
		if p, err = project.Default(h, opts); err != nil {
			return nil, failProject(err)
		}
		printf("no %s found: using the built-in %s profile for %s", project.ConfigName, p.Spec.Profile, p.Spec.Root)
	} else {
		cfg, err := project.Parse(f.Path, f.Data)
		if err != nil {
			return nil, failProject(err)
		}
		if req.noPrompt {
			if st, _ := project.NewTrustStore(h.TrustDir()).State(f.Path, f.Data); st != project.Trusted {
				return nil, fail(fmt.Errorf("%s is blocked", f.Path), hintAllow)
			}
		} else if err := ensureTrusted(c, f, cfg, h); err != nil {
			return nil, err
		}
		if p, err = project.Resolve(cfg, h, opts); err != nil {
			return nil, failProject(err)
		}
	}
	spec := p.Spec
	if p.OnCreate != "" {
		if _, err := os.Lstat(spec.StateDir); os.IsNotExist(err) {
			spec.Before = append(spec.Before, p.OnCreate)
		}
	}
	if p.OnEnter != "" {
		spec.Before = append(spec.Before, p.OnEnter)
	}
	return &session{spec: spec, project: p}, nil
}

// cageHost is the cage's view of the host, with aicage's own directories
// taken from the project host so that both layers refuse the same paths.
func cageHost(h project.Host) cage.Host {
	ch := currentHost()
	ch.Home = h.Home
	ch.ConfigDir, ch.DataDir, ch.StateDir = h.AicageDirs()
	return ch
}
