package load

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smp-project/smp/hist"
)

// WriteText writes a readable summary of r: requests and rates, errors,
// the corrected and uncorrected percentile tables, the generator's own
// lateness, and one line per client when there are several.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	t := &r.Total
	fmt.Fprintf(&b, "%s for %v", t.Pacer, r.Elapsed.Round(time.Millisecond))
	if r.Warmup > 0 {
		fmt.Fprintf(&b, " after %v warm-up", r.Warmup)
	}
	fmt.Fprintf(&b, ", %d %s", t.Workers, plural(t.Workers, "worker", "workers"))
	if r.Share.Count > 1 {
		fmt.Fprintf(&b, ", share %d of %d", r.Share.Index+1, r.Share.Count)
	}
	b.WriteString("\n")
	seen := map[string]bool{}
	for _, e := range t.Endpoints {
		if !seen[e] {
			seen[e] = true
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if r.Partial {
		fmt.Fprintf(&b, "PARTIAL RESULT: %s\n", r.PartialReason)
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "requests   %d total, %d ok, %d errors (%s)\n", t.Requests, t.OK, t.Errors, percent(t.Errors, t.Requests))
	if t.OpenLoop {
		fmt.Fprintf(&b, "rate       %.1f/s actual, %.1f/s requested\n", t.ActualQPS, t.RequestedQPS)
	} else {
		fmt.Fprintf(&b, "rate       %.1f/s (closed loop)\n", t.ActualQPS)
	}
	if len(t.ErrorReasons)+len(t.Failures) > 0 {
		var parts []string
		for _, reason := range sortedKeys(t.ErrorReasons) {
			parts = append(parts, fmt.Sprintf("%s %d", reason, t.ErrorReasons[reason]))
		}
		for _, code := range SortedCodes(t.Failures) {
			parts = append(parts, fmt.Sprintf("status %d: %d", code, t.Failures[code]))
		}
		fmt.Fprintf(&b, "errors     %s\n", strings.Join(parts, ", "))
		for _, reason := range sortedKeys(t.ErrorReasons) {
			for _, m := range t.ErrorMessages[reason] {
				fmt.Fprintf(&b, "           %s × %d: %s\n", reason, m.Count, m.Message)
			}
		}
	}
	if len(t.Codes) > 0 {
		var parts []string
		for _, code := range SortedCodes(t.Codes) {
			parts = append(parts, fmt.Sprintf("%d: %d", code, t.Codes[code]))
		}
		fmt.Fprintf(&b, "codes      %s\n", strings.Join(parts, ", "))
	}
	b.WriteString("\n")

	ps := DefaultPercentiles()
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	if t.OK > 0 {
		fmt.Fprint(tw, "latency ms\tmin\tmean")
		for _, p := range ps {
			fmt.Fprintf(tw, "\tp%g", p)
		}
		fmt.Fprint(tw, "\tmax\t\n")
	}
	row := func(name string, h *hist.Histogram) {
		fmt.Fprintf(tw, "%s\t%s\t%s", name, ms(h.Min()), ms(h.Mean()))
		for _, v := range h.Percentiles(ps) {
			fmt.Fprintf(tw, "\t%s", ms(v))
		}
		fmt.Fprintf(tw, "\t%s\t\n", ms(h.Max()))
	}
	switch {
	case t.OK == 0:
		// Not a table of zeros: there is no latency to show.
		b.WriteString("latency    no successful requests: nothing to time (failed requests are timed below)\n")
	case t.OpenLoop:
		row("corrected", t.Latency)
		row("uncorrected", t.Uncorrected)
	default:
		row("(closed loop)", t.Latency)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if e := t.ErrorLatency; e != nil && e.Count() > 0 {
		fmt.Fprintf(&b, "\nfailed     %d timed: p50 %s ms, p99 %s ms, max %s ms (from due time)\n",
			e.Count(), ms(e.Percentile(50)), ms(e.Percentile(99)), ms(e.Max()))
	}
	if c := t.Connections; c.Setup != nil && c.Opened+c.Failed+c.Reconnects > 0 {
		fmt.Fprintf(&b, "\nconnections %d opened before the start", c.Opened)
		if c.Failed > 0 {
			fmt.Fprintf(&b, " (%d failed)", c.Failed)
		}
		fmt.Fprintf(&b, ", %d reconnects", c.Reconnects)
		if c.ReconnectsFailed > 0 {
			fmt.Fprintf(&b, " (%d failed)", c.ReconnectsFailed)
		}
		if c.Setup.Count() > 0 {
			fmt.Fprintf(&b, "; set-up p50 %s ms, p99 %s ms, max %s ms", ms(c.Setup.Percentile(50)), ms(c.Setup.Percentile(99)), ms(c.Setup.Max()))
		}
		b.WriteString("\n")
	}
	if t.OpenLoop {
		l := t.Lateness
		fmt.Fprintf(&b, "generator  lateness p50 %s ms, p99 %s ms, max %s ms; %d sends more than %v late",
			ms(l.Percentile(50)), ms(l.Percentile(99)), ms(l.Max()), t.LateSends, LateThreshold)
		if t.Unsent > 0 {
			fmt.Fprintf(&b, "; %d due and never sent", t.Unsent)
		}
		b.WriteString("\n")
		if t.Requests > 0 && t.LateSends*100 > t.Requests {
			b.WriteString("           more than 1% of sends were late: the generator (its CPU) could not keep its\n" +
				"           schedule, and its own delay is part of the corrected latency\n")
		}
		busy := r.CPU.Busy(r.Elapsed+r.Warmup, r.Cores)
		if sat := t.Saturation; sat.Slots > 0 {
			fmt.Fprintf(&b, "saturation %d requests (%s) waited for a free connection, %s s in all, max %s ms\n",
				sat.Slots, percent(sat.Slots, t.Requests), fmt.Sprintf("%.3f", sat.Wait.Seconds()), ms(sat.Max))
			if t.Requests > 0 && sat.Slots*100 > t.Requests {
				// Little's law: the connections busy on average are rate ×
				// latency; sized for the tail, rate × p99.
				need := int(math.Ceil(t.RequestedQPS * t.Uncorrected.Percentile(99).Seconds()))
				fmt.Fprintf(&b, "           all %d connections were busy: the client's concurrency, not the target alone,\n"+
					"           delayed them; about %d would carry %.0f/s at this p99 (%s × %s ms)\n",
					t.Workers, max(need, t.Workers+1), t.RequestedQPS, fmt.Sprintf("%.0f/s", t.RequestedQPS), ms(t.Uncorrected.Percentile(99)))
			}
			if busy > 0.8 {
				// A connection is busy until its worker has read the
				// answer: with the CPU saturated, answers are read late
				// and the wait is partly the generator's own.
				fmt.Fprintf(&b, "           the generator's CPU was %.0f%% busy: part of these waits is its own, reading answers late\n", 100*busy)
			}
		}
	}
	if c := r.CPU; c.User+c.Sys > 0 {
		fmt.Fprintf(&b, "client CPU user %.2f s, kernel %.2f s (%.0f%% of %d %s)", c.User.Seconds(), c.Sys.Seconds(),
			100*r.CPU.Busy(r.Elapsed+r.Warmup, r.Cores), r.Cores, plural(r.Cores, "core", "cores"))
		if t.Requests > 0 {
			fmt.Fprintf(&b, "; %.1f µs user, %.1f µs kernel a request", float64(c.User.Microseconds())/float64(t.Requests), float64(c.Sys.Microseconds())/float64(t.Requests))
		}
		b.WriteString("\n")
	}
	if s := t.Latency.Saturated(); s > 0 {
		fmt.Fprintf(&b, "note       %d latencies above 1 h were recorded as 1 h\n", s)
	}

	if len(t.PerEndpoint) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "requests\terrors\trate/s\tp50 ms\tp99 ms\tmax ms\t  endpoint\n")
		for _, e := range t.PerEndpoint {
			p50, p99, mx := "-", "-", "-"
			if e.OK > 0 {
				p50, p99, mx = ms(e.Latency.Percentile(50)), ms(e.Latency.Percentile(99)), ms(e.Latency.Max())
			}
			fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t%s\t%s\t  %s\n", e.Requests, e.Errors, e.ActualQPS, p50, p99, mx, e.URL)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Generators) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "share\trequests\terrors\tlateness p99 ms\tCPU\tclock offset ms\tfirst send ms\t  agent\n")
		for _, g := range r.Generators {
			status := ""
			if g.Note != "" {
				status = " — " + g.Note
			}
			if g.Lost {
				status = fmt.Sprintf(" — LOST at %.1fs: %s; %d unsent", g.LostAt.Seconds(), g.Note, g.Unsent)
			}
			fmt.Fprintf(tw, "%d/%d\t%d\t%d\t%s\t%.0f%%\t%s ± %s\t%s\t  %s%s\n", g.Share.Index+1, g.Share.Count, g.Requests, g.Errors,
				ms(g.LatenessP99), 100*g.CPUBusy, fmt.Sprintf("%+.3f", float64(g.ClockOffset)/float64(time.Millisecond)), ms(g.ClockUncertainty),
				ms(g.StartOffset), g.Address, status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Clients) > 1 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "client\tschedule\trequests\terrors\trate/s\tp50 ms\tp99 ms\tmax ms\t\n")
		for _, c := range r.Clients {
			p50, p99, mx := "-", "-", "-"
			if c.OK > 0 {
				p50, p99, mx = ms(c.Latency.Percentile(50)), ms(c.Latency.Percentile(99)), ms(c.Latency.Max())
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t\n", c.Name, c.Pacer, c.Requests, c.Errors, c.ActualQPS, p50, p99, mx)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ms formats a duration in milliseconds with microsecond resolution.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

func percent(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

func sortedKeys(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }
