package main

import (
	"errors"
	"fmt"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check SMP documents and say what each was understood to be",
		Long: `Validate loads each file (YAML or JSON; plain SMP configs and results, Meshery's
{test, mesh} files, v0.0.1-era and flat legacy results), reports every problem with
its file, line, field path and what is allowed, and exits 2 if any file is invalid.

Other tools' documents that smp reads are checked as they are converted, and the
line says what they became: Fortio result JSON, Meshery results (Fortio's JSON
inside) and Meshery performance profiles. Notes say what a conversion changed or
dropped, such as Fortio's latency being timed without correction for coordinated
omission.`,
		Example: `  smp validate test.yaml result.json
  smp validate fortio-result.json meshery-profiles.json`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			out := cmd.OutOrStdout()
			bad := 0
			for _, f := range files {
				d, err := interop.Open(f)
				if err != nil {
					bad++
					var errs spec.Errors
					if errors.As(err, &errs) {
						for _, e := range errs {
							fmt.Fprintln(cmd.ErrOrStderr(), e)
						}
					} else {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
					}
					continue
				}
				if len(d.Invalid) > 0 {
					// A list whose malformed elements were skipped: the
					// others load, but the file is not valid.
					bad++
					for _, e := range d.Invalid {
						fmt.Fprintln(cmd.ErrOrStderr(), e)
					}
					fmt.Fprintf(out, "%s: invalid: %d malformed element(s) skipped; the others: %s\n", f, len(d.Invalid), d.Summary())
					printNotes(out, d)
					continue
				}
				fmt.Fprintf(out, "%s: ok: %s\n", f, d.Summary())
				printNotes(out, d)
			}
			if bad > 0 {
				return badInput(fmt.Errorf("%d of %d files invalid", bad, len(files)))
			}
			return nil
		},
	}
}
