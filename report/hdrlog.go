package report

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// WriteHDRLog writes r's latency histogram as an HdrHistogram interval log
// (format 1.3), which HdrHistogram's log readers, HistogramLogProcessor and
// plotters read:
//
//	#[Histogram log format version 1.3]
//	#[StartTime: 1764064800.123 (seconds since epoch), 2025-11-25T10:00:00.123Z]
//	#[BaseTime: ...]
//	"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//	0.000,60.000,12.345,HISTF...
//
// A result written by smp keeps a histogram per interval (1 s steps): the
// log then has one line per interval that had answers (an interval without
// any has no line, rather than a line of zeros). An older result, or one
// without interval histograms, gives one line covering the run. Timestamps
// are relative to StartTime. Values are microseconds, as recorded
// (the Java tools assume nanoseconds by default: pass
// -outputValueUnitRatio 1000 to HistogramLogProcessor for milliseconds);
// Interval_Max is in milliseconds. The payload is the result's "hdr-v2"
// encoding itself, which is the log's compressed-histogram format.
func WriteHDRLog(w io.Writer, r *spec.PerformanceTestResult) error {
	h, err := resultHistogram(r)
	if err != nil {
		return fmt.Errorf("hdr log: %w", err)
	}
	if h == nil {
		return fmt.Errorf("hdr log: the result has no latency histogram (histogram.data)")
	}
	var start time.Time
	if t := r.GetStartTime(); t != nil {
		start = t.AsTime().UTC()
	}
	length := r.GetDurationS()
	if length <= 0 && r.GetEndTime() != nil && !start.IsZero() {
		length = r.GetEndTime().AsTime().Sub(start).Seconds()
	}
	length = max(length, 0)
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "#[Histogram log format version 1.3]")
	if !start.IsZero() {
		secs := float64(start.UnixMilli()) / 1000
		fmt.Fprintf(bw, "#[StartTime: %.3f (seconds since epoch), %s]\n", secs, start.Format("2006-01-02T15:04:05.000Z07:00"))
		// An explicit BaseTime marks the timestamps below as relative.
		fmt.Fprintf(bw, "#[BaseTime: %.3f (seconds since epoch)]\n", secs)
	}
	fmt.Fprintf(bw, "#[smp: %s; values in microseconds, Interval_Max in milliseconds]\n", oneLine(resultLabel(r)))
	fmt.Fprintln(bw, `"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`)
	if !writeIntervalLines(bw, r, length) {
		fmt.Fprintf(bw, "%.3f,%.3f,%.3f,%s\n", 0.0, length, durMs(h.Max()), r.GetHistogram().GetData())
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("hdr log: %w", err)
	}
	return nil
}

// oneLine keeps a label from breaking the log's line structure.
func oneLine(s string) string {
	out := []rune(s)
	for i, c := range out {
		if c == '\n' || c == '\r' || c == ']' {
			out[i] = ' '
		}
	}
	if s == "" {
		return "result"
	}
	return string(out)
}

// writeIntervalLines writes a log line per interval histogram of r and
// reports whether r had any. Each histogram is decoded to check it and to
// read its max; an interval's length runs to the next one's offset (the last
// to the end of the run).
func writeIntervalLines(w io.Writer, r *spec.PerformanceTestResult, length float64) bool {
	ivs := r.GetIntervals()
	any := false
	for _, iv := range ivs {
		if iv.GetHistogram() != "" {
			any = true
			break
		}
	}
	if !any {
		return false
	}
	for i, iv := range ivs {
		if iv.GetLatencies() == 0 || iv.GetHistogram() == "" {
			continue
		}
		h, err := hist.Decode(iv.GetHistogram())
		if err != nil {
			continue
		}
		end := length
		if i+1 < len(ivs) {
			end = ivs[i+1].GetOffsetS()
		}
		fmt.Fprintf(w, "%.3f,%.3f,%.3f,%s\n", iv.GetOffsetS(), max(end-iv.GetOffsetS(), 0), durMs(h.Max()), iv.GetHistogram())
	}
	return true
}
