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
// input.
func openResult(cmd *cobra.Command, path string) (*interop.Document, error) {
	d, err := interop.Open(path)
	if err != nil {
		return nil, badInput(err)
	}
	if _, err := d.TestResult(); err != nil {
		return nil, badInput(err)
	}
	printNotes(cmd.ErrOrStderr(), d)
	return d, nil
}

// openResults reads the results of a command's arguments, in order.
func openResults(cmd *cobra.Command, paths []string) ([]*interop.Document, []*spec.PerformanceTestResult, error) {
	docs := make([]*interop.Document, len(paths))
	results := make([]*spec.PerformanceTestResult, len(paths))
	for i, p := range paths {
		d, err := openResult(cmd, p)
		if err != nil {
			return nil, nil, err
		}
		docs[i], results[i] = d, d.Result
	}
	return docs, results, nil
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
