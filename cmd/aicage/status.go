package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/broker"
	"github.com/aicage/aicage/cage/integrity"
	"github.com/aicage/aicage/project"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:   "status",
		Usage:  "the project, its trust state, every grant and where it came from, and what this kernel enforces",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: statusAction,
	})
}

// statusFile is where, relative to the private home, aicage leaves the
// policy it compiled, so that `aicage status` inside the cage (which cannot
// read the real home or the trust store) can show what the cage was given.
// Inside, it is $XDG_STATE_HOME/aicage/policy.json.
const statusFile = ".local/state/aicage/policy.json"

// statusSchemaVersion is the version of `aicage status --json` and
// `aicage doctor --json`: it changes when a field changes meaning or goes
// away, not when one is added.
const statusSchemaVersion = 1

// report is `aicage status --json`: snake_case keys, and [] for an empty
// list, never null.
type report struct {
	SchemaVersion int               `json:"schema_version"`
	Config        string            `json:"config"` // "" with the built-in profile
	Trust         string            `json:"trust"`  // trusted, untrusted, changed, denied, built-in, unknown
	Profile       string            `json:"profile"`
	Chain         []string          `json:"profile_chain,omitempty"`
	Root          string            `json:"root"`
	StateDir      string            `json:"state_dir"`
	InsideCage    bool              `json:"inside_cage"`
	LandlockABI   int               `json:"landlock_abi"`
	Grants        []cage.Rule       `json:"grants"`
	Connect       []cage.Port       `json:"connect"`
	Bind          []cage.Port       `json:"bind"`
	UDP           string            `json:"udp"`
	Hardlinks     string            `json:"hardlinks"`        // [filesystem] hardlinks: refuse, break or allow
	Broker        *broker.Policy    `json:"broker,omitempty"` // what the connect broker allows; absent without it
	Egress        *cage.Egress      `json:"egress,omitempty"` // the proxy's allowlist; absent in direct mode
	Credentials   []credentialState `json:"credentials"`      // keys injected by the supervisor, never printed
	Refused       []broker.Refusal  `json:"last_refusals"`    // the newest entries of the broker's log
	Env           []string          `json:"env"`              // names only: values may be secrets
	Skipped       []cage.Skipped    `json:"skipped"`
	Protected     []string          `json:"protected"`     // restored if changed from inside
	Restores      []string          `json:"last_restores"` // what the last session undid
	RestoreN      int               `json:"last_restore_count"`
	HomeCopy      []cage.CopyOp     `json:"home_copy"`
	HomeLink      []cage.LinkOp     `json:"home_link"`
	Packages      []cage.Package    `json:"packages,omitempty"` // [exec] packages with their closures
	Protections   []cage.Protection `json:"protections"`
	Error         string            `json:"error,omitempty"`
}

func statusAction(c *cli.Context) error {
	r, err := buildReport(c)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		r.emptyLists()
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printReport(c.App.Writer, r)
	return nil
}

// emptyLists makes every nil list of the report an empty one, so that the
// JSON has [] where there is nothing.
func (r *report) emptyLists() {
	empty := func(p any) {
		switch l := p.(type) {
		case *[]string:
			if *l == nil {
				*l = []string{}
			}
		case *[]cage.Rule:
			if *l == nil {
				*l = []cage.Rule{}
			}
		case *[]cage.Port:
			if *l == nil {
				*l = []cage.Port{}
			}
		case *[]cage.Skipped:
			if *l == nil {
				*l = []cage.Skipped{}
			}
		case *[]cage.CopyOp:
			if *l == nil {
				*l = []cage.CopyOp{}
			}
		case *[]cage.LinkOp:
			if *l == nil {
				*l = []cage.LinkOp{}
			}
		case *[]cage.Protection:
			if *l == nil {
				*l = []cage.Protection{}
			}
		case *[]broker.Refusal:
			if *l == nil {
				*l = []broker.Refusal{}
			}
		}
	}
	for _, p := range []any{&r.Chain, &r.Grants, &r.Connect, &r.Bind, &r.Env, &r.Skipped, &r.Protected,
		&r.Restores, &r.HomeCopy, &r.HomeLink, &r.Protections, &r.Refused} {
		empty(p)
	}
	if r.Credentials == nil {
		r.Credentials = []credentialState{}
	}
}

func buildReport(c *cli.Context) (*report, error) {
	r := &report{SchemaVersion: statusSchemaVersion, LandlockABI: kernelABI(), InsideCage: os.Getenv("AICAGE") == "1"}
	if r.InsideCage {
		return insideReport(r)
	}
	h, err := projectHost()
	if err != nil {
		return nil, err
	}
	f, err := project.Discover(h.Cwd)
	if err != nil {
		return nil, failProject(err)
	}
	opts := project.Options{Profile: c.String("profile"), Args: []string{"true"}}
	var p *project.Project
	if f == nil {
		r.Trust = "built-in"
		p, err = project.Default(h, opts)
	} else {
		r.Config = f.Path
		r.Trust = trustState(h, f)
		var cfg *project.Config
		if cfg, err = project.Parse(f.Path, f.Data); err == nil {
			p, err = project.Resolve(cfg, h, opts)
		}
	}
	if err != nil {
		return nil, failProject(err)
	}
	r.Profile, r.Chain = p.Spec.Profile, p.Chain
	host := cageHost(h)
	if err := resolvePackages(&p.Spec, host); err != nil {
		return nil, err
	}
	pol, err := cage.Compile(p.Spec, host)
	if err != nil {
		return nil, fail(err)
	}
	fillFromPolicy(r, pol)
	r.Skipped = slices.DeleteFunc(r.Skipped, func(s cage.Skipped) bool {
		return s.Source == "command" // about the placeholder "true" above, not the user's command
	})
	fillIntegrity(r, cageHost(h), pol)
	return r, nil
}

// fillIntegrity lists the protected set and the restores of the last session.
func fillIntegrity(r *report, host cage.Host, pol *cage.Policy) {
	if set, err := integrity.ProtectedSet(pol.Root, pol.Protect); err == nil {
		for _, it := range set.Items {
			r.Protected = append(r.Protected, it.Path)
		}
	}
	store := integrityStore(host, pol.Root)
	r.RestoreN, _ = integrity.LastSessionCount(store)
	events, _ := integrity.LastSession(store)
	for _, e := range events {
		r.Restores = append(r.Restores, e.String())
	}
}

func trustState(h project.Host, f *project.File) string {
	st, err := project.NewTrustStore(h.TrustDir()).State(f.Path, f.Data)
	if err != nil {
		return "unknown"
	}
	return strings.ToLower(st.String())
}

func fillFromPolicy(r *report, pol *cage.Policy) {
	r.Root, r.StateDir, r.Profile = pol.Root, pol.StateDir, pol.Profile
	r.Grants, r.Connect, r.Bind, r.UDP, r.Skipped = pol.Rules, pol.Connect, pol.Bind, pol.UDP, pol.Skipped
	r.HomeCopy, r.HomeLink = pol.HomeCopy, pol.HomeLink
	r.Hardlinks = pol.Hardlinks
	if r.Hardlinks == "" {
		r.Hardlinks = "refuse"
	}
	r.Packages = pol.Packages
	for _, kv := range pol.Env {
		name, _, _ := strings.Cut(kv, "=")
		r.Env = append(r.Env, name)
	}
	r.Protections = cage.Protections(r.LandlockABI, pol.UDP, pol.Broker != nil && !pol.NoSeccomp)
	r.Broker, r.Egress = pol.Broker, pol.Egress
	r.Credentials = credentialStates(pol.Credentials, r.InsideCage)
	r.Protections = append(r.Protections, egressProtection(pol))
	r.Refused = lastRefusals(pol, maxRefusalsShown)
}

// insideReport shows what the supervisor recorded at entry: inside, the
// real home and the trust store are out of reach by design.
func insideReport(r *report) (*report, error) {
	r.Root, r.Profile, r.Trust = os.Getenv("AICAGE_ROOT"), os.Getenv("AICAGE_PROFILE"), "unknown"
	if f, err := project.Discover(r.Root); err == nil && f != nil {
		r.Config = f.Path
	}
	data, err := os.ReadFile(filepath.Join(os.Getenv("HOME"), statusFile))
	var pol cage.Policy
	if err == nil && json.Unmarshal(data, &pol) == nil {
		fillFromPolicy(r, &pol)
	} else {
		r.Protections = cage.Protections(r.LandlockABI, "", false)
		r.Error = "the policy recorded at entry is not readable"
	}
	return r, nil
}

// recordPolicy leaves the compiled policy in the state directory for
// `aicage status` inside the cage. It is informational: the cage can
// overwrite it, and fools only itself.
func recordPolicy(pol *cage.Policy) {
	if data, err := json.Marshal(pol); err == nil {
		cage.WriteHomeFile(pol, statusFile, data)
	}
}

func printReport(w io.Writer, r *report) {
	if r.Config == "" {
		fmt.Fprintf(w, "config:   none (built-in %s profile)\n", r.Profile)
	} else {
		fmt.Fprintf(w, "config:   %s (%s)\n", r.Config, r.Trust)
	}
	fmt.Fprintf(w, "root:     %s\nstate:    %s\n", r.Root, r.StateDir)
	fmt.Fprintf(w, "profile:  %s", r.Profile)
	if len(r.Chain) > 1 {
		fmt.Fprintf(w, " (%s)", strings.Join(r.Chain, " → "))
	}
	fmt.Fprintln(w)
	if r.InsideCage {
		fmt.Fprintln(w, "inside:   yes — grants as compiled at entry")
	}
	fmt.Fprintf(w, "kernel:   Landlock ABI %d\n\ngrants:\n", r.LandlockABI)
	for _, g := range r.Grants {
		fmt.Fprintf(w, "  %-4s %s  (%s)\n", g.Access, g.Path, g.Source)
	}
	for _, c := range r.HomeCopy {
		fmt.Fprintf(w, "  copy %s → %s  (%s)\n", c.From, c.To, c.Source)
	}
	for _, l := range r.HomeLink {
		fmt.Fprintf(w, "  link %s → %s  (%s)\n", l.Link, l.Target, l.Source)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped %s (%s): %s\n", s.Path, s.Source, s.Reason)
	}
	fmt.Fprintf(w, "  hard links from outside in the writable trees: %s\n", r.Hardlinks)
	printPackages(w, r.Packages)
	fmt.Fprintln(w, "\nnetwork:")
	fmt.Fprintf(w, "  connect %s\n  bind    %s\n  udp     %s\n", ports(r.Connect), ports(r.Bind), r.UDP)
	printBroker(w, r)
	if len(r.Credentials) > 0 {
		fmt.Fprintln(w, "\ncredentials (the cage holds a placeholder, the supervisor the key):")
		for _, c := range r.Credentials {
			fmt.Fprintf(w, "  %s: %s → %s to %s\n", c.Name, c.State, c.Header, c.Upstream)
		}
	}
	fmt.Fprintf(w, "\nenvironment: %s\n", strings.Join(r.Env, " "))
	if !r.InsideCage {
		fmt.Fprintln(w, "\nprotected (restored when changed from inside):")
		for _, p := range r.Protected {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintf(w, "restores in the last session: %d\n", r.RestoreN)
		for _, e := range r.Restores {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintln(w, "\nprotections:")
	printProtections(w, r.Protections)
	if r.Error != "" {
		fmt.Fprintf(w, "\nnote: %s\n", r.Error)
	}
}

// egressProtection says whether traffic is limited to host names.
func egressProtection(pol *cage.Policy) cage.Protection {
	p := cage.Protection{Name: "traffic only to the host names in [network] domains (egress proxy)"}
	switch {
	case pol.Egress != nil && pol.Broker != nil && !pol.NoSeccomp:
		p.State = "enforced"
		p.Why = "the supervisor's proxy sees host names and ports, never TLS contents; an allowed host is allowed whole"
	case pol.Egress != nil:
		p.State = "missing"
		p.Why = `egress = "proxy" needs the connect broker, which is not running here`
	default:
		p.State = "missing"
		p.Why = `egress = "direct": any public host on an allowed port; set egress = "proxy" and [network] domains (the agent templates do)`
	}
	return p
}

// maxRefusalsShown is how many of the broker's refusals status shows.
const maxRefusalsShown = 10

// printBroker shows what the connect broker allows and what it refused.
func printBroker(w io.Writer, r *report) {
	if r.Broker == nil {
		fmt.Fprintln(w, "  broker  none: Landlock's port rules alone decide")
		return
	}
	for _, u := range r.Broker.Unix {
		fmt.Fprintf(w, "  unix    %s %s  (%s)\n", u.Kind, u.Path, u.Source)
	}
	for _, h := range r.Broker.Hosts {
		fmt.Fprintf(w, "  host    %s  (%s)\n", h, h.Source)
	}
	if r.Egress != nil {
		fmt.Fprintln(w, "  egress  proxy: only these names, through the supervisor's proxy")
		for _, d := range r.Egress.Domains {
			fmt.Fprintf(w, "  domain  %s  (%s)\n", d, d.Source)
		}
	} else {
		fmt.Fprintln(w, "  egress  direct: public addresses on the connect ports")
	}
	if r.Broker.UDP == "dns" && r.Egress == nil {
		var rs []string
		for _, a := range r.Broker.Resolvers {
			rs = append(rs, a.String())
		}
		fmt.Fprintf(w, "  dns     port 53 of %s\n", strings.Join(rs, ", "))
	}
	if len(r.Refused) == 0 {
		return
	}
	fmt.Fprintf(w, "\nrefused by the connect broker (newest last, at most %d):\n", maxRefusalsShown)
	for _, x := range r.Refused {
		fmt.Fprintf(w, "  %s %s %s[%d] %s: %s\n", x.Time.Format("2006-01-02 15:04:05"), x.Op, x.Command, x.PID, x.Dest, x.Rule)
	}
}

func ports(ps []cage.Port) string {
	if len(ps) == 0 {
		return "none"
	}
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%d (%s)", p.Port, p.Source))
	}
	return strings.Join(s, ", ")
}

// printPackages lists [exec] packages with their closures' size.
func printPackages(w io.Writer, pkgs []cage.Package) {
	if len(pkgs) == 0 {
		return
	}
	fmt.Fprintln(w, "\npackages:")
	for _, p := range pkgs {
		fmt.Fprintf(w, "  %s  (%s): %s, closure %d store paths, %s\n",
			p.Entry, p.Source, strings.Join(p.Paths, " "), len(p.Closure), humanSize(p.Size))
	}
	fmt.Fprintln(w, "  note: Landlock checks execute at execve, not at mmap: a dynamic loader in these closures can run any readable program")
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
