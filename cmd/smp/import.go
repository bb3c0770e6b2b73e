package main

import (
	"fmt"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

func newImportCmd() *cobra.Command {
	var output, profile string
	var index int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Convert a Fortio or Meshery result, or a Meshery profile, to SMP",
		Long: `Import reads a file from another tool and writes it as an SMP document:

  Fortio result JSON       -> SMP result. The latency histogram is rebuilt from
                              Fortio's buckets (each bucket's count spread evenly over
                              its range, as Fortio assumes when it interpolates), and
                              p50/p90/p99 are the figures Fortio printed. Fortio times
                              each call from its actual send: the latency is not
                              corrected for coordinated omission.
  Meshery result JSON      -> SMP result (Fortio's JSON inside, plus the test name,
                              mesh and Kubernetes version Meshery recorded). A
                              runner_results list is merged into one result.
  Meshery results export   -> one SMP result: the first valid one, or --index N.
  or results page             A malformed element is skipped with a note naming it.
  Meshery perf profile     -> SMP test config, to rerun with smp run -f. A file with
                              several profiles needs --profile NAME; a malformed profile
                              does not stop another from being chosen.
  any SMP document         -> the same document in the current form.

The output format follows the -o file's extension (.json, else YAML); without -o
the document goes to standard output as YAML. Notes on what was not kept go to
standard error.`,
		Example: `  smp import fortio-result.json -o result.yaml
  smp import meshery-profiles.json --profile istio-productpage -o test.yaml
  smp run -f test.yaml`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			file := files[0]
			opts := []interop.Option{interop.Profile(profile)}
			if index >= 0 {
				opts = append(opts, interop.Index(index))
			}
			d, err := interop.Open(file, opts...)
			if err != nil {
				return badInput(err)
			}
			var msg proto.Message = d.Result
			what := "result"
			if d.Result == nil {
				cfg, _, err := d.TestConfig()
				if err != nil {
					return badInput(fmt.Errorf("%w with --profile NAME", err))
				}
				msg, what = cfg, "test config"
			}
			printNotes(cmd.ErrOrStderr(), d)
			if output == "" || output == "-" {
				b, err := spec.Encode(msg, "yaml")
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := spec.WriteFile(output, msg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s -> %s (%s)\n", file, d.Kind, output, what)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", `output file, .json or .yaml ("-" or none for standard output)`)
	cmd.Flags().StringVar(&profile, "profile", "", "the profile to convert, by name or id, when the file holds several")
	cmd.Flags().IntVar(&index, "index", -1, "the result to convert, by 0-based position, from a list of Meshery results (default: the first valid one)")
	return cmd
}
