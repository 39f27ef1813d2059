package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/config"
)

// doctorUsage is the help of sker doctor.
const doctorUsage = `
Recover a node (docs/operations.md):
  sker doctor [--repair] [--json] [flags]
      checks each canvas's checkpoint in the store against its journal:
      a canvas whose journal does not continue its checkpoint cannot load
      (the seqs lost are named), journal records of canvases the store does
      not have are orphans. Changes nothing without --repair; with it,
      removes those canvases' journal records (a canvas then continues from
      its checkpoint). With the embedded NATS server or SQLite, stop the
      node first.
      Exits 1 while problems remain.
`

// errDoctorProblems makes sker doctor exit 1 once it printed its report.
var errDoctorProblems = errors.New("doctor: problems remain")

// doctor checks (and with --repair mends) the store against the journal.
func doctor(ctx context.Context, args []string, getenv func(string) string) error {
	bools, rest := takeBools(args, "repair", "json")
	cfg, extra, err := config.Load(rest, getenv, ".env")
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("doctor: unexpected arguments %q", extra)
	}
	rep, err := app.Doctor(ctx, cfg, bools["repair"], nil)
	if err != nil {
		return err
	}
	if bools["json"] {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(os.Stdout)
	}
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	if rep.ProblemsRemained > 0 {
		return fmt.Errorf("%w: %d", errDoctorProblems, rep.ProblemsRemained)
	}
	return nil
}

// takeBools removes the flags named in own (--name or -name, no value)
// from args and returns which were given and the other arguments.
func takeBools(args []string, own ...string) (map[string]bool, []string) {
	vals := map[string]bool{}
	var rest []string
	for _, a := range args {
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && contains(own, name) {
			vals[name] = true
			continue
		}
		rest = append(rest, a)
	}
	return vals, rest
}
