package smprun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// Outputs say where the results of a series go and what they must meet:
// the outputs of smp run.
type Outputs struct {
	// File is where each variant's SMP result is written, in JSON or
	// YAML by its extension (.json, .yaml or .yml); with several
	// variants, VariantPath(File, name) each. "" writes none.
	File string
	// Format is what Write prints: text (also ""), json, yaml, or fortio
	// (Fortio's result JSON). Only text prints several variants.
	Format string
	// Report is a self-contained HTML report of every variant.
	Report string
	// HDRLog is the latency histogram as an HdrHistogram interval log;
	// with several variants, VariantPath(HDRLog, name) each.
	HDRLog string
	// JUnit is the SLO checks as JUnit XML; it needs SLOs.
	JUnit string
	// SLOs are the objectives every variant's result must meet.
	SLOs []stats.SLO
}

// OutputFormats are the values Outputs.Format takes.
func OutputFormats() []string { return []string{"text", "json", "yaml", "fortio"} }

// Check refuses outputs that could not be written, before a run rather
// than after it: an unknown format, a result file that is neither JSON nor
// YAML, a file in a directory that does not exist, JUnit without SLOs.
// Every error is bad input.
func (o Outputs) Check() error {
	if o.Format != "" && !slices.Contains(OutputFormats(), o.Format) {
		return fmt.Errorf("--format %q: allowed are %s", o.Format, strings.Join(OutputFormats(), ", "))
	}
	if o.File != "" {
		switch strings.ToLower(filepath.Ext(o.File)) {
		case ".json", ".yaml", ".yml":
		default:
			return fmt.Errorf("-o %s: the file name must end in .json, .yaml or .yml", o.File)
		}
	}
	for _, f := range []struct{ flag, path string }{{"-o", o.File}, {"--report", o.Report}, {"--hdr-log", o.HDRLog}, {"--junit", o.JUnit}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(f.path)); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: directory %s does not exist", f.flag, f.path, filepath.Dir(f.path))
		}
	}
	if o.JUnit != "" && len(o.SLOs) == 0 {
		return errors.New("--junit writes the --slo checks: give at least one --slo")
	}
	return nil
}

// OutputError is an output that could not be written; the measurement was
// taken.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// Write delivers the results of a series: it writes the result files, the
// HDR logs and the HTML report, prints the results on stdout in the
// format asked for, checks the SLOs on every variant and prints the checks
// (on stdout with the text format, else on stderr, so that a JSON result
// stays parseable) and writes them as JUnit XML, and, with several
// variants, prints the comparison of each with the first. It returns the
// checks. An output that could not be written is an *OutputError.
func (o Outputs) Write(stdout, stderr io.Writer, vrs []*VariantResult) ([]SLOCheck, error) {
	if len(vrs) == 0 {
		return nil, errors.New("no results to write")
	}
	if err := o.writeResults(stdout, vrs); err != nil {
		return nil, &OutputError{err}
	}
	checks := CheckSLOs(vrs, o.SLOs)
	if err := o.writeChecks(stdout, stderr, vrs, checks); err != nil {
		return checks, &OutputError{err}
	}
	if len(vrs) > 1 {
		cs, err := Compare(vrs, stats.Options{})
		if err != nil {
			return checks, err
		}
		fmt.Fprintln(stdout)
		if err := stats.WriteComparisons(stdout, cs, "text"); err != nil {
			return checks, &OutputError{err}
		}
	}
	return checks, nil
}

// writeResults writes the result files (File, HDRLog, Report) and prints
// the results on stdout in the chosen format.
func (o Outputs) writeResults(stdout io.Writer, vrs []*VariantResult) error {
	several := len(vrs) > 1
	path := func(p, name string) string {
		if several {
			return VariantPath(p, name)
		}
		return p
	}
	results := make([]*spec.PerformanceTestResult, len(vrs))
	names := make([]string, len(vrs))
	for i, vr := range vrs {
		results[i], names[i] = vr.Result, vr.Name
		if o.File != "" {
			if err := spec.WriteFile(path(o.File, vr.Name), vr.Result); err != nil {
				return err
			}
		}
		if o.HDRLog != "" {
			if err := createFile(path(o.HDRLog, vr.Name), func(w io.Writer) error { return report.WriteHDRLog(w, vr.Result) }); err != nil {
				return err
			}
		}
	}
	if o.Report != "" {
		err := createFile(o.Report, func(w io.Writer) error {
			return report.WriteHTML(w, results, report.Options{Names: names, Generated: time.Now()})
		})
		if err != nil {
			return err
		}
	}
	switch o.Format {
	case "", "text":
		for i, vr := range vrs {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if err := vr.WriteText(stdout); err != nil {
				return err
			}
		}
		return nil
	case "fortio":
		b, err := report.Fortio(results[0])
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	default:
		b, err := spec.Encode(results[0], o.Format)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
}

// writeChecks prints the SLO checks and writes them as JUnit XML.
func (o Outputs) writeChecks(stdout, stderr io.Writer, vrs []*VariantResult, checks []SLOCheck) error {
	if len(checks) == 0 {
		return nil
	}
	w := stderr
	if o.Format == "" || o.Format == "text" {
		w = stdout
		fmt.Fprintln(w)
	}
	for _, c := range checks {
		fmt.Fprintln(w, c)
	}
	if o.JUnit == "" {
		return nil
	}
	jc := make([]report.Check, len(checks))
	for i, c := range checks {
		jc[i] = report.Check{Name: "SLO " + c.SLO.Text, Pass: c.Pass, Message: c.Message(), Group: c.Variant}
	}
	var elapsed time.Duration
	for _, vr := range vrs {
		elapsed += vr.Load.Elapsed
	}
	return createFile(o.JUnit, func(w io.Writer) error {
		return report.WriteJUnit(w, "smp run", jc, vrs[0].Load.Start, elapsed)
	})
}

// createFile creates path and writes it with write.
func createFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Verdict is what a series came to once its outputs are written, for its
// exit status: the SLO checks that failed and the results that are
// partial.
type Verdict struct {
	// Failed are the failed checks, as printed (SLOCheck.String).
	Failed []string
	// Partial says of each partial result "the result is partial: REASON".
	Partial []string
}

// Judge returns the verdict on a series' results and their checks.
func Judge(vrs []*VariantResult, checks []SLOCheck) Verdict {
	var v Verdict
	for _, vr := range vrs {
		if vr.Result.GetPartial() {
			v.Partial = append(v.Partial, "the result is partial: "+vr.Result.GetPartialReason())
		}
	}
	for _, c := range checks {
		if !c.Pass {
			v.Failed = append(v.Failed, c.String())
		}
	}
	return v
}
