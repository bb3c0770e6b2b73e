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
	b.Reset()
	writeEnvironment(&b, vr.Result)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
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

// writeEnvironment prints what was captured beside the load: the mesh
// detected, each resource figure (mean, largest sample, what was
// assigned, where it came from, or why it is missing), and the captures
// that were asked for and did not succeed, with their reasons. Nothing
// when none was made.
func writeEnvironment(b *strings.Builder, r *spec.PerformanceTestResult) {
	if m := r.GetMeshConfig(); m.GetDetected() != "" {
		line := m.GetDetected()
		if v := m.GetMeshBuild(); v != "" {
			line += " " + v
		}
		if mode := m.GetMtlsMode(); mode != "" {
			line += ", mTLS " + mode
		}
		fmt.Fprintf(b, "\nmesh       %s\n", line)
	}
	if res := r.GetResources(); len(res) > 0 {
		b.WriteString("\nresources  mean, largest sample and assigned, by source\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		var missing []string
		for _, u := range res {
			if u.GetError() != "" {
				missing = append(missing, fmt.Sprintf("  %s %s (%s) not captured: %s\n", u.GetComponent(), u.GetClass(), u.GetSource(), u.GetError()))
				continue
			}
			assigned := "-"
			if u.GetAssigned() > 0 {
				assigned = "of " + stats.FormatValue(u.GetAssigned())
			}
			largest := "-"
			if len(u.GetSeries()) > 0 {
				largest = "max " + stats.FormatValue(u.GetMax())
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\t%s\t%s\n", u.GetComponent(), u.GetClass(),
				stats.FormatValue(u.GetUsed()), u.GetUnit(), largest, assigned, u.GetSource())
		}
		tw.Flush()
		for _, m := range missing {
			b.WriteString(m)
		}
	}
	var failed []string
	for _, c := range r.GetCaptures() {
		// "skipped" is a capture nobody asked for (no kubeconfig, say).
		if st := c.GetStatus(); st != "ok" && st != "skipped" {
			failed = append(failed, fmt.Sprintf("%s %s: %s", c.GetName(), c.GetStatus(), c.GetReason()))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n")
		for i, f := range failed {
			label := "captures"
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(b, "%-10s %s\n", label, f)
		}
	}
}
