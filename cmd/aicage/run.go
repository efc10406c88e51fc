package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/seccomp"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "run",
		Usage:     "run [commands.NAME] from the config, or any command after --, in the cage",
		ArgsUsage: "NAME [ARGS...] | -- CMD [ARGS...]",
		// Flag parsing stops at the command: everything after NAME or --
		// belongs to it. Leading --profile and --best-effort are read by hand.
		SkipFlagParsing: true,
		Action:          runAction,
	})
}

// runFlags are the flags `run` and `shell` accept before the command.
type runFlags struct {
	profile    string
	bestEffort bool
}

func parseRunArgs(c *cli.Context) (runFlags, []string, error) {
	f := runFlags{profile: c.String("profile"), bestEffort: c.Bool("best-effort")}
	args := c.Args().Slice()
	for len(args) > 0 {
		switch a := args[0]; {
		case a == "--best-effort":
			f.bestEffort = true
			args = args[1:]
		case a == "--profile" && len(args) > 1:
			f.profile = args[1]
			args = args[2:]
		case len(a) > len("--profile=") && a[:len("--profile=")] == "--profile=":
			f.profile = a[len("--profile="):]
			args = args[1:]
		case a == "--profile":
			return f, nil, fail(errors.New("--profile needs a profile name"), "e.g. 'aicage run --profile offline -- CMD'")
		case a != "--" && strings.HasPrefix(a, "-"):
			return f, nil, fail(fmt.Errorf("unknown flag %s", a),
				"flags go before the command: --profile NAME, --best-effort; put the command after --")
		default:
			return f, args, nil
		}
	}
	return f, args, nil
}

func runAction(c *cli.Context) error {
	f, args, err := parseRunArgs(c)
	if err != nil {
		return err
	}
	if len(args) == 0 || (args[0] == "--" && len(args) == 1) {
		return fail(errors.New("run needs a command"),
			"run 'aicage run NAME' for a command of the config, or 'aicage run -- CMD ARGS…' for any command")
	}
	req := request{flags: f}
	if args[0] == "--" {
		req.argv = args[1:]
	} else {
		req.name, req.argv = args[0], args[1:]
	}
	return enter(c, req)
}

// request is what `run` or `shell` asks for.
type request struct {
	flags runFlags
	name  string   // [commands.NAME], or "" for a raw command
	argv  []string // the raw command, or the extra args for NAME
	shell bool
	// noPrompt makes an untrusted config fail instead of asking: the shell
	// hook never prompts.
	noPrompt bool
	// prepare, if set, may adjust the compiled policy (env, argv) after the
	// state directory exists and before the cage starts; finish runs after
	// every process of the cage is gone. The shell hooks use them.
	prepare func(*cage.Policy) error
	finish  func(*cage.Policy) error
}

// enter resolves the project, checks trust, compiles the policy and runs the
// command under the supervisor.
func enter(c *cli.Context, req request) error {
	tr := newTracer()
	defer tr.print()
	h, err := projectHost()
	if err != nil {
		return err
	}
	host := cageHost(h)
	sess, err := resolve(c, req, h)
	if err != nil {
		return err
	}
	tr.phase("resolve and trust")
	dropped, err := cage.CheckABI(host.ABI, sess.spec.BestEffort)
	if err != nil {
		return fail(err)
	}
	for _, p := range dropped {
		warningf("--best-effort: dropped %s (%s)", p.Name, p.Why)
	}
	noSeccomp, err := checkSeccomp(sess.spec.BestEffort)
	if err != nil {
		return err
	}
	brokerOK, err := checkBroker(noSeccomp, sess.spec.BestEffort)
	if err != nil {
		return err
	}
	// The integrity snapshot needs only the root and [protect]: it runs
	// while the packages are resolved and the policy compiled, and the
	// command waits for it. Until Ready takes it over, any return stops it
	// (a watcher left running would leave the store marked "running", and
	// the next session would take that for a crash).
	watch := startWatch(host, sess.spec, tr)
	handed := false
	defer func() {
		if !handed {
			watch.cancel()
		}
	}()
	if err := resolvePackages(&sess.spec, host); err != nil {
		return err
	}
	pol, err := cage.Compile(sess.spec, host)
	if err != nil {
		var nf *cage.NotFoundError
		if errors.As(err, &nf) {
			return failCode(exitNotFound, err)
		}
		return fail(err)
	}
	tr.phase("kernel checks, compile")
	pol.NoSeccomp = noSeccomp
	if noSeccomp || !brokerOK {
		pol.Broker = nil
	}
	warnSkipped(pol.Skipped)
	if _, err := cage.PrepareState(pol); err != nil {
		return fail(err)
	}
	if req.prepare != nil {
		if err := req.prepare(pol); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err // with its own hints
			}
			return fail(err)
		}
	}
	tr.phase("state directories")
	if err := checkHardlinks(host, pol, sess.spec.Hardlinks); err != nil {
		return err
	}
	tr.phase("hard-link check")
	refused := newRefusals(pol)
	defer refused.close()
	stopEgress, err := startEgress(pol, host, refused)
	if err != nil {
		return err
	}
	defer stopEgress()
	stopCredentials, err := startCredentials(pol, host)
	if err != nil {
		return err
	}
	defer stopCredentials()
	tr.phase("proxy, credentials")
	stopWatch := func() {}
	recorded := make(chan struct{})
	status, err := cage.Run(pol, cage.RunOptions{
		// The snapshot is complete before the command starts, so nothing
		// in the cage runs before it.
		// The policy is recorded for 'aicage status' inside meanwhile, so
		// that it is there before anything inside can ask.
		Ready: func() (err error) {
			handed = true
			go func() {
				defer close(recorded)
				defer tr.span("policy.json for status")()
				recordPolicy(pol)
			}()
			stopWatch, err = watch.wait(host, pol)
			<-recorded
			return err
		},
		Refused: refused.add,
		Trace:   tr.phase,
		Span:    tr.span,
	})
	stopWatch()
	tr.phase("integrity close")
	if err != nil {
		var ee *cage.ExecError
		if errors.As(err, &ee) {
			return failCode(ee.Code(), err)
		}
		return fail(err)
	}
	if req.finish != nil {
		if err := req.finish(pol); err != nil {
			return fail(err)
		}
	}
	if status != 0 {
		return statusError(status)
	}
	return nil
}

// resolvePackages runs nix, outside the cage and before Compile, to turn
// [exec] packages into store paths and their closures.
func resolvePackages(spec *cage.Spec, host cage.Host) error {
	pkgs, err := cage.ResolvePackages(*spec, host, cage.ExecNix{Env: host.Env})
	if err != nil {
		return fail(err)
	}
	spec.Packages = pkgs
	return nil
}

func cwd() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the current directory: %w", err)
	}
	return d, nil
}

// checkSeccomp refuses to start where the seccomp filter cannot be
// installed, unless bestEffort, which drops it and says so.
func checkSeccomp(bestEffort bool) (dropped bool, err error) {
	serr := seccomp.Supported()
	if serr == nil {
		return false, nil
	}
	if !bestEffort {
		return false, fail(serr, "aicage's seccomp filter closes holes Landlock leaves (see 'aicage doctor'); pass --best-effort to run without it")
	}
	warningf("--best-effort: dropped the seccomp filter (%v)", serr)
	return true, nil
}

// checkBroker refuses to start where the connect broker cannot run, unless
// bestEffort, which leaves connections to Landlock's port rules and says so.
func checkBroker(noSeccomp, bestEffort bool) (ok bool, err error) {
	if noSeccomp {
		return false, nil
	}
	berr := seccomp.BrokerSupported()
	if berr == nil {
		return true, nil
	}
	if !bestEffort {
		return false, fail(berr, "the connect broker keeps the cage from unix sockets and addresses outside the policy (see 'aicage doctor'); pass --best-effort to run without it")
	}
	warningf("--best-effort: dropped the connect broker (%v)", berr)
	return false, nil
}

// warnSkipped says what the cage was not given. Paths that do not exist
// (an agent never set up: a template's copies and links) make one line at
// each entry, not one each; 'aicage status' lists them. Every other
// reason gets its own line.
func warnSkipped(skipped []cage.Skipped) {
	var missing []cage.Skipped
	for _, s := range skipped {
		if s.Reason == "does not exist" {
			missing = append(missing, s)
			continue
		}
		warningf("skipped %s (%s): %s", s.Path, s.Source, s.Reason)
	}
	switch len(missing) {
	case 0:
	case 1:
		warningf("skipped %s (%s): does not exist", missing[0].Path, missing[0].Source)
	default:
		warningf("skipped %d paths that do not exist (%s, …); 'aicage status' lists them", len(missing), missing[0].Path)
	}
}
