package main

import (
	"fmt"

	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

func newImportCmd() *cobra.Command {
	var output, profile string
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
                              mesh and Kubernetes version Meshery recorded).
  Meshery perf profile     -> SMP test config, to rerun with smp run -f. A file with
                              several profiles needs --profile NAME.
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
			data, err := readInput(file)
			if err != nil {
				return badInput(err)
			}
			im, err := report.Import(data, file, profile)
			if err != nil {
				return badInput(err)
			}
			var msg proto.Message = im.Result
			what := "result"
			if im.Result == nil {
				if im.Config == nil {
					return badInput(fmt.Errorf("%s: holds neither a result nor a test config", file))
				}
				msg, what = im.Config, "test config"
			}
			for _, n := range im.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: note: %s\n", file, n)
			}
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
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s -> %s (%s)\n", file, im.Kind, output, what)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", `output file, .json or .yaml ("-" or none for standard output)`)
	cmd.Flags().StringVar(&profile, "profile", "", "the profile to convert, by name or id, when the file holds several")
	return cmd
}
