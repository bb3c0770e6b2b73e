package smprun

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// YAML by its extension (.json, .yaml or .yml; YAML to an existing
	// file that is not a regular file, such as /dev/stdout); with several
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
// YAML, JUnit without SLOs, and every output path that could not be
// written (CheckPaths of a single result). Every error is bad input.
func (o Outputs) Check() error {
	if o.Format != "" && !slices.Contains(OutputFormats(), o.Format) {
		return fmt.Errorf("--format %q: allowed are %s", o.Format, strings.Join(OutputFormats(), ", "))
	}
	if o.File != "" && !special(o.File) {
		switch strings.ToLower(filepath.Ext(o.File)) {
		case ".json", ".yaml", ".yml":
		default:
			return fmt.Errorf("-o %s: the file name must end in .json, .yaml or .yml", o.File)
		}
	}
	if err := o.CheckPaths(nil); err != nil {
		return err
	}
	if o.Report != "" && !special(o.Report) {
		switch ext := strings.ToLower(filepath.Ext(o.Report)); ext {
		case ".html", ".htm", "":
		default:
			// Not a silent HTML file named .pdf.
			return fmt.Errorf("--report %s: the report is HTML; name it .html (a browser prints it to PDF)", o.Report)
		}
	}
	if o.JUnit != "" && len(o.SLOs) == 0 {
		return errors.New("--junit writes the --slo checks: give at least one --slo")
	}
	return nil
}

// special reports whether path exists and is not a regular file or a
// directory: /dev/stdout, /dev/null, a named pipe. A result written there
// is YAML whatever its name.
func special(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && !st.Mode().IsRegular()
}

// outputPath is a file Write writes, and the flag that named it.
type outputPath struct{ flag, path string }

// paths are the files Write writes for variants named names (one result
// when there are fewer than two).
func (o Outputs) paths(names []string) []outputPath {
	var ps []outputPath
	perVariant := func(flag, p string) {
		if p == "" {
			return
		}
		if len(names) < 2 {
			ps = append(ps, outputPath{flag, p})
			return
		}
		for _, n := range names {
			ps = append(ps, outputPath{flag, VariantPath(p, n)})
		}
	}
	perVariant("-o", o.File)
	perVariant("--hdr-log", o.HDRLog)
	if o.Report != "" {
		ps = append(ps, outputPath{"--report", o.Report})
	}
	if o.JUnit != "" {
		ps = append(ps, outputPath{"--junit", o.JUnit})
	}
	return ps
}

// CheckPaths refuses output paths that could not be written, for variants
// named names (with fewer than two, the paths as given; else per variant,
// VariantPath): a path that is a directory, a directory that does not
// exist or is not writable (a temporary file is created in it and
// removed), and two outputs on the same file. An existing file that is not
// a regular file (/dev/null, /dev/stdout) is written in place, so its
// directory need not be writable, and it may be named twice.
func (o Outputs) CheckPaths(names []string) error {
	seen := map[string]outputPath{}
	checked := map[string]error{}
	for _, p := range o.paths(names) {
		st, err := os.Stat(p.path)
		switch {
		case err == nil && st.IsDir():
			return fmt.Errorf("%s %s: is a directory", p.flag, p.path)
		case err == nil && !st.Mode().IsRegular():
			continue // written in place: see writeFile
		}
		key := p.path
		if abs, err := filepath.Abs(p.path); err == nil {
			key = abs
		}
		if q, ok := seen[key]; ok {
			return fmt.Errorf("%s %s: the same file as %s %s; give each output its own file", p.flag, p.path, q.flag, q.path)
		}
		seen[key] = p
		dir := filepath.Dir(p.path)
		derr, ok := checked[dir]
		if !ok {
			derr = checkDir(dir)
			checked[dir] = derr
		}
		if derr != nil {
			return fmt.Errorf("%s %s: %w", p.flag, p.path, derr)
		}
	}
	return nil
}

// checkDir says why files cannot be created in dir, if they cannot.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("directory %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".smp-check-*")
	if err != nil {
		if e := errors.Unwrap(err); e != nil {
			err = e
		}
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// OutputError is an output that could not be written; the measurement was
// taken.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// Write delivers the results of a series: it checks the SLOs on every
// variant and stores the checks in its result, prints the results on stdout
// in the format asked for, prints the
// checks (on stdout with the text format, else on stderr, so that a JSON
// result stays parseable), with several variants prints the comparison of
// each with the first, and then writes the files: the results, the HDR
// logs, the HTML report and the checks as JUnit XML, each atomically
// (writeFile). It returns the checks. An output that could not be written
// is an *OutputError; the others are still written, and a result that was
// not written to a file is saved to a fallback file in os.TempDir(), whose
// path is printed on stderr.
func (o Outputs) Write(stdout, stderr io.Writer, vrs []*VariantResult) ([]SLOCheck, error) {
	if len(vrs) == 0 {
		return nil, errors.New("no results to write")
	}
	var errs []error
	// The checks first: each result carries its own (slo_checks) in every
	// output, stdout included.
	checks := CheckSLOs(vrs, o.SLOs)
	StoreChecks(vrs, checks)
	if err := o.printResults(stdout, vrs); err != nil {
		errs = append(errs, fmt.Errorf("stdout: %w", err))
	}
	if err := o.printChecks(stdout, stderr, checks); err != nil {
		errs = append(errs, fmt.Errorf("stdout: %w", err))
	}
	if len(vrs) > 1 {
		cs, err := Compare(vrs, stats.Options{})
		if err != nil {
			return checks, err
		}
		fmt.Fprintln(stdout)
		if ro := vrs[0].Result.GetRunOrder(); ro != nil {
			fmt.Fprintln(stdout, OrderText(ro, len(vrs)))
		}
		if err := stats.WriteComparisons(stdout, cs, "text"); err != nil {
			errs = append(errs, fmt.Errorf("stdout: %w", err))
		}
	}
	saved, ferrs := o.writeFiles(vrs, checks)
	errs = append(errs, ferrs...)
	if len(errs) == 0 {
		return checks, nil
	}
	for i, vr := range vrs {
		if saved[i] {
			continue
		}
		if p, err := saveFallback(vr.Result); err != nil {
			errs = append(errs, fmt.Errorf("fallback: %w", err))
		} else {
			fmt.Fprintf(stderr, "smp: the result is saved to %s\n", p)
		}
	}
	return checks, &OutputError{errors.Join(errs...)}
}

// saveFallback saves a result that could not be written where it was
// asked for to a new file in os.TempDir() and returns its path.
func saveFallback(r *spec.PerformanceTestResult) (string, error) {
	data, err := spec.Encode(r, "yaml")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "smp-result-*.yaml")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeFiles writes the output files, going on past a failure: the result
// files, the HDR logs, the HTML report and the JUnit XML. saved tells of
// each variant whether its result file was written.
func (o Outputs) writeFiles(vrs []*VariantResult, checks []SLOCheck) (saved []bool, errs []error) {
	several := len(vrs) > 1
	path := func(p, name string) string {
		if several {
			return VariantPath(p, name)
		}
		return p
	}
	saved = make([]bool, len(vrs))
	results := make([]*spec.PerformanceTestResult, len(vrs))
	names := make([]string, len(vrs))
	for i, vr := range vrs {
		results[i], names[i] = vr.Result, vr.Name
		if o.File != "" {
			p := path(o.File, vr.Name)
			err := writeFile(p, func(w io.Writer) error {
				data, err := spec.Encode(vr.Result, spec.FormatForPath(p))
				if err != nil {
					return err
				}
				_, err = w.Write(data)
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("-o: %w", err))
			} else {
				saved[i] = true
			}
		}
		if o.HDRLog != "" {
			if err := writeFile(path(o.HDRLog, vr.Name), func(w io.Writer) error { return report.WriteHDRLog(w, vr.Result) }); err != nil {
				errs = append(errs, fmt.Errorf("--hdr-log: %w", err))
			}
		}
	}
	if o.Report != "" {
		err := writeFile(o.Report, func(w io.Writer) error {
			return report.WriteHTML(w, results, report.Options{Names: names, Generated: time.Now()})
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("--report: %w", err))
		}
	}
	if o.JUnit != "" && len(checks) > 0 {
		jc := make([]report.Check, len(checks))
		for i, c := range checks {
			jc[i] = report.Check{Name: "SLO " + c.SLO.Text, Pass: c.Pass, Message: c.Message(), Group: c.Variant}
		}
		var elapsed time.Duration
		for _, vr := range vrs {
			elapsed += vr.Load.Elapsed
		}
		err := writeFile(o.JUnit, func(w io.Writer) error {
			return report.WriteJUnit(w, "smp run", jc, vrs[0].Load.Start, elapsed)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("--junit: %w", err))
		}
	}
	return saved, errs
}

// printResults prints the results on stdout in the chosen format.
func (o Outputs) printResults(stdout io.Writer, vrs []*VariantResult) error {
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
		b, err := report.Fortio(vrs[0].Result)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	default:
		b, err := spec.Encode(vrs[0].Result, o.Format)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
}

// printChecks prints the SLO checks.
func (o Outputs) printChecks(stdout, stderr io.Writer, checks []SLOCheck) error {
	if len(checks) == 0 {
		return nil
	}
	w := stderr
	if o.Format == "" || o.Format == "text" {
		w = stdout
		fmt.Fprintln(w)
	}
	for _, c := range checks {
		if _, err := fmt.Fprintln(w, c); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes path with write, atomically: to a temporary file in
// the same directory, synced, then renamed over path, so that path holds
// either its old content or all of the new, never part of it. A path that
// exists and is not a regular file (/dev/null, /dev/stdout, a named pipe)
// cannot be replaced by a rename: it is written in place. A symbolic link
// to a regular file is followed, and its target replaced.
func writeFile(path string, write func(io.Writer) error) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return writeInPlace(path, write)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeInPlace opens path, which is not a regular file, and writes it.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !strings.Contains(err.Error(), path) {
		err = fmt.Errorf("write %s: %w", path, err)
	}
	return err
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
