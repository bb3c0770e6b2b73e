package report

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/smp-project/smp/spec"
)

// Formats are what Write writes: html, fortio, hdrlog, csv-intervals and
// csv-percentiles.
func Formats() []string {
	return []string{"html", "fortio", "hdrlog", "csv-intervals", "csv-percentiles"}
}

// FormatFor is the format an output file's extension implies: .json is
// fortio, .hlog and .hdr hdrlog, .csv csv-intervals, anything else html.
func FormatFor(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "fortio"
	case ".hlog", ".hdr":
		return "hdrlog"
	case ".csv":
		return "csv-intervals"
	}
	return "html"
}

// CheckFormat refuses a format Write does not know, or n results for a
// format that writes one (fortio, hdrlog).
func CheckFormat(format string, n int) error {
	if !slices.Contains(Formats(), format) {
		return fmt.Errorf("--format %q: allowed are %s", format, strings.Join(Formats(), ", "))
	}
	if (format == "fortio" || format == "hdrlog") && n != 1 {
		return fmt.Errorf("--format %s writes one result; %d given", format, n)
	}
	return nil
}

// Write writes results in one of Formats; opts.Names name them in the
// HTML and CSV formats. What fails here is the content of a result, such
// as a histogram that does not decode, or w.
func Write(w io.Writer, format string, results []*spec.PerformanceTestResult, opts Options) error {
	if err := CheckFormat(format, len(results)); err != nil {
		return err
	}
	switch format {
	case "html":
		return WriteHTML(w, results, opts)
	case "fortio":
		b, err := Fortio(results[0])
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "hdrlog":
		return WriteHDRLog(w, results[0])
	case "csv-intervals":
		return WriteIntervalsCSV(w, results, opts.Names)
	default: // csv-percentiles
		return WritePercentilesCSV(w, results, opts.Names)
	}
}

// ResultNames names each result read from files[i] by its name field,
// else its file name without the extension; when two names collide, the
// file paths name them all.
func ResultNames(results []*spec.PerformanceTestResult, files []string) []string {
	names := make([]string, len(results))
	seen := map[string]bool{}
	unique := true
	for i, r := range results {
		names[i] = r.GetName()
		if names[i] == "" {
			names[i] = strings.TrimSuffix(filepath.Base(files[i]), filepath.Ext(files[i]))
		}
		unique = unique && !seen[names[i]]
		seen[names[i]] = true
	}
	if !unique {
		copy(names, files)
	}
	return names
}
