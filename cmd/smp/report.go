package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/smp-project/smp/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var (
		output, format, title string
		names                 []string
		index                 int
	)
	cmd := &cobra.Command{
		Use:   "report RESULT...",
		Short: "Write an HTML report of results, or convert a result for other tools",
		Long: `Report reads SMP results (or Fortio/Meshery result JSON; a list of Meshery results
gives each of its valid results, or the one --index N chooses) and writes one of:

  html             one self-contained page: summary, latency percentile spectrum of all
                   results overlaid, latency and throughput over time with errors marked,
                   latency histogram, comparison against the first result, environment
                   and configuration. It opens without network access.
  fortio           Fortio's HTTPRunnerResults JSON (Fortio's UI and Meshery read it);
                   one result.
  hdrlog           an HdrHistogram interval log (HistogramLogProcessor, plotters);
                   one result. Values are microseconds.
  csv-intervals    the per-second time series of every result.
  csv-percentiles  latency percentiles of every result.

The format follows the output file's extension (.html, .json, .hlog, .csv) unless
--format is given. Without -o, HTML goes to report.html and the other formats to
standard output; "-o -" writes to standard output.`,
		Example: `  smp report result.yaml -o report.html
  smp report baseline.json istio.json linkerd.json --name baseline --name istio --name linkerd
  smp report result.yaml --format fortio -o fortio.json
  smp report result.yaml --format hdrlog -o latency.hlog`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			if format == "" {
				format = report.FormatFor(output)
			}
			if err := report.CheckFormat(format, len(files)); err != nil {
				return badInput(err)
			}
			if len(names) > len(files) {
				return badInput(fmt.Errorf("%d --name values for %d results", len(names), len(files)))
			}
			// A list of Meshery results gives each of its valid results,
			// except to the formats that write one result.
			several := report.CheckFormat(format, 2) == nil
			_, results, files, err := openResults(cmd, files, several, index)
			if err != nil {
				return err
			}
			given := report.ResultNames(results, files)
			copy(given, names)
			var buf bytes.Buffer
			if err := report.Write(&buf, format, results, report.Options{Title: title, Names: given}); err != nil {
				// What fails here is the content of a result (a histogram
				// that does not decode): bad input.
				return badInput(fmt.Errorf("%s: %w", strings.Join(files, ", "), err))
			}
			if output == "" && format == "html" {
				output = "report.html"
			}
			if output == "" || output == "-" {
				_, err := cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s of %d result(s), %d bytes\n", output, format, len(results), buf.Len())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", `output file ("-" for standard output)`)
	f.StringVar(&format, "format", "", "html, fortio, hdrlog, csv-intervals or csv-percentiles (default: from the output file's extension)")
	f.StringVar(&title, "title", "", "title of the HTML report")
	f.IntVar(&index, "index", -1, "from a list of Meshery results, take only the result at this 0-based index (default: every valid one, or the first for fortio and hdrlog)")
	f.StringArrayVar(&names, "name", nil, "name of each result in legends and tables, in order (repeat the flag)")
	return cmd
}
