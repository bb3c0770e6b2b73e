package main

import (
	"fmt"
	"io"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
)

// openResult reads a result of any kind package interop understands (SMP,
// Fortio, Meshery) and prints its notes on standard error. Errors are bad
// input. From a list of Meshery results, d.Result is the one chosen with
// index (>= 0), else the first valid one (a note says so).
func openResult(cmd *cobra.Command, path string, index int) (*interop.Document, error) {
	var opts []interop.Option
	if index >= 0 {
		opts = append(opts, interop.Index(index))
	}
	d, err := interop.Open(path, opts...)
	if err != nil {
		return nil, badInput(err)
	}
	if _, err := d.TestResult(); err != nil {
		return nil, badInput(err)
	}
	printNotes(cmd.ErrOrStderr(), d)
	return d, nil
}

// openResults reads the results of a command's arguments, in order. A
// file holding a list of Meshery results gives every valid one when
// several is true and no index is chosen, else its one chosen result (see
// openResult); files names each result's source for its default name
// ("export.json[1]" for the second of a list).
func openResults(cmd *cobra.Command, paths []string, several bool, index int) (docs []*interop.Document, results []*spec.PerformanceTestResult, files []string, err error) {
	for _, p := range paths {
		d, err := openResult(cmd, p, index)
		if err != nil {
			return nil, nil, nil, err
		}
		docs = append(docs, d)
		if several && index < 0 && len(d.Results) > 1 {
			for i, r := range d.Results {
				results = append(results, r)
				files = append(files, fmt.Sprintf("%s[%d]", p, i))
			}
			continue
		}
		results = append(results, d.Result)
		files = append(files, p)
	}
	return docs, results, files, nil
}

// loadConfig reads a test config of any kind package interop understands
// (an SMP config, Meshery's {test, mesh} file, a Meshery performance
// profile, so that a Meshery user can rerun a profile as it is) and prints
// its notes on standard error.
func loadConfig(cmd *cobra.Command, file string) (*spec.PerformanceTestConfig, *spec.ServiceMesh, error) {
	d, err := interop.Open(file)
	if err != nil {
		return nil, nil, badInput(err)
	}
	cfg, mesh, err := d.TestConfig()
	if err != nil {
		if d.Kind == interop.KindMesheryProfile {
			err = fmt.Errorf("%w (smp import --profile NAME writes one as an SMP config)", err)
		}
		return nil, nil, badInput(err)
	}
	printNotes(cmd.ErrOrStderr(), d)
	return cfg, mesh, nil
}

// printNotes prints what reading a document noted, one line each.
func printNotes(w io.Writer, d *interop.Document) {
	for _, n := range d.Notes {
		fmt.Fprintf(w, "%s: note: %s\n", d.File, n)
	}
}
