package main

import (
	"errors"
	"fmt"

	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check SMP documents and say what each was understood to be",
		Long: `Validate loads each file (YAML or JSON; plain SMP configs and results, Meshery's
{test, mesh} files, v0.0.1-era and flat legacy results), reports every problem with
its file, line, field path and what is allowed, and exits 2 if any file is invalid.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			out := cmd.OutOrStdout()
			bad := 0
			for _, f := range files {
				doc, err := spec.LoadFile(f)
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
				fmt.Fprintf(out, "%s: ok: %s\n", f, doc.Summary())
				for _, n := range doc.Notes {
					fmt.Fprintf(out, "%s: note: %s\n", f, n)
				}
			}
			if bad > 0 {
				return badInput(fmt.Errorf("%d of %d files invalid", bad, len(files)))
			}
			return nil
		},
	}
}
