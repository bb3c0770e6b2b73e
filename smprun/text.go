package smprun

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// WriteText writes a readable summary of a variant result: the engine's summary
// (of all runs merged, with several), then, with several runs, a line per
// run and the median of each metric across runs with its interval.
func (vr *VariantResult) WriteText(w io.Writer) error {
	var b strings.Builder
	if vr.Name != "" {
		fmt.Fprintf(&b, "== %s ==\n", vr.Name)
	}
	if len(vr.Result.GetRuns()) > 0 {
		fmt.Fprintf(&b, "%d runs, all requests merged:\n", len(vr.Result.GetRuns()))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := vr.Load.WriteText(w); err != nil {
		return err
	}
	if hints := Hints(&vr.Load.Total); len(hints) > 0 {
		b.Reset()
		b.WriteString("\n")
		for _, h := range hints {
			fmt.Fprintf(&b, "hint       %s\n", h)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	if len(vr.Result.GetRuns()) == 0 {
		return nil
	}
	b.Reset()
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "run\trequests\terrors\trate/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\n")
	for i, r := range vr.Result.GetRuns() {
		partial := ""
		if r.GetPartial() {
			partial = " (partial)"
		}
		fmt.Fprintf(tw, "%d%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", i+1, partial, r.GetRequests().GetTotal(), r.GetRequests().GetErrors(),
			r.GetActualQps(), value(r, stats.P50), value(r, stats.P90), value(r, stats.P99), value(r, stats.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(vr.Result.GetSummary()) > 0 {
		b.WriteString("\n")
		writeSummaries(&b, vr.Result.GetSummary())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func value(r *spec.PerformanceTestResult, m stats.Metric) string {
	v, ok := stats.Value(r, m)
	if !ok {
		return "n/a"
	}
	return stats.FormatValue(v)
}

// writeSummaries prints the across-run summaries: median and interval.
func writeSummaries(b *strings.Builder, ss []*spec.MetricSummary) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "across runs\tmedian\tinterval\t\n")
	for _, s := range ss {
		interval := fmt.Sprintf("none: %d runs are too few for %g%%", s.GetRuns(), 100*s.GetConfidence())
		if s.GetHasInterval() {
			interval = fmt.Sprintf("[%s, %s] %.1f%%", stats.FormatValue(s.GetLow()), stats.FormatValue(s.GetHigh()), 100*s.GetConfidence())
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t\n", s.GetMetric(), stats.FormatValue(s.GetMedian()), s.GetUnit(), interval)
	}
	tw.Flush()
}
