package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/smp-project/smp/meshmark"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
)

func newMeshmarkCmd() *cobra.Command {
	var (
		sloP99       string
		measurements string
		outFile      string
		index        int
	)
	cmd := &cobra.Command{
		Use:   "meshmark FILE...",
		Short: "MeshMark score of results that carry resource figures",
		Long: `MeshMark rates a mesh's efficiency from 0 to 100: for each resource class (cpu,
memory, network) the share of what the mesh's components were assigned that they left
unused (MUE = 1 - used/assigned), weighted by 1+w with w in [-0.5, 0.5] and averaged;
with --slo-p99, a latency class min(1, SLO / achieved p99) joins them; the score is
100 x the mean of the classes. The breakdown printed shows every term.

The resource figures come from the result's "resources", or from --measurements, a
YAML file:

  service_level: {slo_p99_ms: 25, achieved_p99_ms: 27.5}   # both optional
  resources:
    - {component: sidecar, class: cpu, used: 180, assigned: 500, unit: mcores, weight: 0.2}

-o writes the result with "resources" and "meshmark" filled in, so that anyone can
recompute the score.`,
		Example: `  smp meshmark result.json --slo-p99 25ms
  smp meshmark result.yaml --measurements usage.yaml -o scored.yaml`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			var slo float64
			if sloP99 != "" {
				d, err := time.ParseDuration(sloP99)
				if err != nil || d <= 0 {
					return badInput(fmt.Errorf("--slo-p99 %q: want a positive duration such as 25ms", sloP99))
				}
				slo = float64(d) / float64(time.Millisecond)
			}
			if len(files) > 1 && (measurements != "" || outFile != "") {
				return badInput(errors.New("--measurements and -o apply to one result: give one FILE"))
			}
			var m *meshmark.Measurements
			if measurements != "" {
				var err error
				if m, err = meshmark.LoadMeasurements(measurements); err != nil {
					return badInput(err)
				}
			}
			out := cmd.OutOrStdout()
			for i, f := range files {
				d, err := openResult(cmd, f, index)
				if err != nil {
					return err
				}
				r := d.Result
				mm, err := meshmark.ScoreResult(r, m, slo)
				if err != nil {
					return badInput(fmt.Errorf("%s: %w", f, err))
				}
				if i > 0 {
					fmt.Fprintln(out)
				}
				if err := meshmark.WriteBreakdown(out, f, mm); err != nil {
					return err
				}
				if outFile != "" {
					if err := spec.WriteFile(outFile, r); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&sloP99, "slo-p99", "", "objective for the p99 latency, e.g. 25ms: adds the latency class")
	fl.StringVar(&measurements, "measurements", "", "YAML file of resource figures (replaces the result's)")
	fl.IntVar(&index, "index", -1, "from a list of Meshery results, score the result at this 0-based index (default: the first valid one)")
	fl.StringVarP(&outFile, "output", "o", "", "write the result with resources and meshmark filled in (.json or .yaml)")
	return cmd
}
