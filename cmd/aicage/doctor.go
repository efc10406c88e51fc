package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/seccomp"
	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:   "doctor",
		Usage:  "check the kernel and environment: what the cage enforces here",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: doctorAction,
	})
}

// doctorReport is `aicage doctor --json`.
type doctorReport struct {
	SchemaVersion int               `json:"schema_version"`
	LandlockABI   int               `json:"landlock_abi"`
	RequiredABI   int               `json:"required_abi"`
	MaxABI        int               `json:"max_abi"`
	Enforceable   bool              `json:"enforceable"` // false: run refuses without --best-effort
	Error         string            `json:"error,omitempty"`
	Protections   []cage.Protection `json:"protections"`
}

func doctorAction(c *cli.Context) error {
	if c.Bool("json") {
		return doctorJSON(c)
	}
	abi := kernelABI()
	w := c.App.Writer
	fmt.Fprintf(w, "landlock: ABI %d (aicage needs %d for every protection it promises, uses up to %d)\n",
		abi, cage.RequiredABI, cage.MaxABI)
	prots := cage.Protections(abi, "dns", seccomp.Supported() == nil && seccomp.BrokerSupported() == nil)
	printProtections(w, prots)
	if _, err := cage.CheckABI(abi, false); err != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "the cage cannot be enforced on this kernel")
		fmt.Fprintln(w, "advice: use a kernel with Landlock ABI 6 or later (Linux 6.12+) with \"landlock\" in the lsm= boot parameter;")
		fmt.Fprintln(w, "        --best-effort runs anyway, without the protections marked missing")
		return failCode(exitUnavailable, err)
	}
	if err := seccomp.Supported(); err != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "the seccomp filter cannot be installed here, so the holes it closes stay open")
		fmt.Fprintln(w, "advice: aicage's filter knows amd64 and arm64; --best-effort runs with Landlock alone")
		return failCode(exitUnavailable, err, "--best-effort runs with Landlock alone, without the filter's protections")
	}
	advice(w, prots)
	return nil
}

// printProtections prints one line a protection: state, name, why.
func printProtections(w io.Writer, prots []cage.Protection) {
	for _, p := range prots {
		line := fmt.Sprintf("%-9s %s", p.State, p.Name)
		if p.Why != "" {
			line += ": " + p.Why
		}
		fmt.Fprintln(w, line)
	}
}

func advice(w io.Writer, prots []cage.Protection) {
	var weak int
	for _, p := range prots {
		if p.State != "enforced" {
			weak++
		}
	}
	fmt.Fprintln(w)
	if weak == 0 {
		fmt.Fprintln(w, "every protection is enforced on this kernel")
		return
	}
	fmt.Fprintf(w, "the cage is enforced; %d protections are degraded or missing on this kernel (above).\n", weak)
	fmt.Fprintln(w, "advice: a newer kernel closes them; until then, keep secrets off the paths and ports the config grants")
}

// doctorJSON prints the same as doctor, as JSON; the exit status is the
// same too.
func doctorJSON(c *cli.Context) error {
	abi := kernelABI()
	r := doctorReport{SchemaVersion: statusSchemaVersion, LandlockABI: abi, RequiredABI: cage.RequiredABI, MaxABI: cage.MaxABI, Enforceable: true,
		Protections: cage.Protections(abi, "dns", seccomp.Supported() == nil && seccomp.BrokerSupported() == nil)}
	var err error
	if _, err = cage.CheckABI(abi, false); err == nil {
		err = seccomp.Supported()
	}
	if err != nil {
		r.Enforceable, r.Error = false, err.Error()
	}
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	if e := enc.Encode(r); e != nil {
		return e
	}
	if err != nil {
		return failCode(exitUnavailable, err)
	}
	return nil
}
