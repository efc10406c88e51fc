package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/aicage/aicage/project"
)

func init() {
	commands = append(commands,
		&cli.Command{
			Name:      "allow",
			Usage:     "show what the config found from DIR grants, and trust it",
			ArgsUsage: "[DIR]",
			Action:    allowAction,
		},
		&cli.Command{
			Name:      "deny",
			Usage:     "block the config found from DIR until it is allowed again",
			ArgsUsage: "[DIR]",
			Action:    denyAction,
		},
	)
}

// configDir is the DIR argument made absolute, else the cwd.
func configDir(c *cli.Context, h project.Host) (string, error) {
	switch c.Args().Len() {
	case 0:
		return h.Cwd, nil
	case 1:
		d := c.Args().First()
		if !filepath.IsAbs(d) {
			d = filepath.Join(h.Cwd, d)
		}
		return filepath.Clean(d), nil
	}
	return "", fail(fmt.Errorf("%s takes at most one directory", c.Command.Name), "run 'aicage "+c.Command.Name+" [DIR]'")
}

func noConfig(dir string) error {
	return fail(fmt.Errorf("no %s in %s or above", project.ConfigName, dir), "run 'aicage init' to write one")
}

// trustTarget is what allow and deny share: the outside host and the
// directory to look for the config from, refused inside a cage.
func trustTarget(c *cli.Context) (project.Host, string, error) {
	h, err := projectHost()
	if err != nil {
		return h, "", err
	}
	dir, err := configDir(c, h)
	if err != nil {
		return h, "", err
	}
	if insideCage(h) {
		what := "change trust"
		if c.Command.Name == "allow" {
			what = "trust"
		}
		return h, "", fail(fmt.Errorf("cannot %s from inside a cage", what),
			"leave the cage (exit) and run 'aicage "+c.Command.Name+"' there")
	}
	return h, dir, nil
}

func allowAction(c *cli.Context) error {
	h, dir, err := trustTarget(c)
	if err != nil {
		return err
	}
	f, err := project.Discover(dir)
	if err != nil {
		return failProject(err)
	}
	if f == nil {
		return noConfig(dir)
	}
	cfg, err := project.Parse(f.Path, f.Data)
	if err != nil {
		return failProject(err)
	}
	grants, err := project.Grants(cfg, h)
	if err != nil {
		return failProject(err)
	}
	store := project.NewTrustStore(h.TrustDir())
	st, err := store.State(f.Path, f.Data)
	if err != nil {
		return fail(err)
	}
	if st == project.Changed {
		if old, ok := previousGrants(store, f, h); ok {
			added, removed := project.DiffGrants(old, grants)
			printf("%s has changed since you trusted it", f.Path)
			printGrantList("now asks for:", added)
			printGrantList("no longer asks for:", removed)
		}
	}
	printGrantList(f.Path+" grants:", grants)
	if err := store.Allow(f.Path, f.Data); err != nil {
		return fail(err)
	}
	printf("trusted %s", f.Path)
	return nil
}

func denyAction(c *cli.Context) error {
	h, dir, err := trustTarget(c)
	if err != nil {
		return err
	}
	path, err := project.Find(dir)
	if err != nil {
		return fail(err)
	}
	if path == "" {
		return noConfig(dir)
	}
	if err := project.NewTrustStore(h.TrustDir()).Deny(path); err != nil {
		return fail(err)
	}
	printf("blocked %s until 'aicage allow'", path)
	return nil
}
