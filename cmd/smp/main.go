// Command smp is the single binary of the smp project: load generation,
// the built-in target, validation, comparison and MeshMark for Service Mesh
// Performance (SMP) documents. It only parses flags and calls packages
// (ARCHITECTURE.md says which).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smp-project/smp/smprun"
	"github.com/spf13/cobra"
)

// Exit codes: a contract with scripts and CI systems, kept as it is. The
// same table is in exitCodesHelp (smp --help) and in the README;
// TestExitCodesDocumented checks that they agree.
const (
	exitOK          = 0
	exitThreshold   = 1 // the test ran but failed a threshold (SLO, regression budget)
	exitBadInput    = 2 // bad config, flags, files or output paths
	exitCannotRun   = 3 // target unreachable or untrusted at the start
	exitPartial     = 4 // interrupted, or otherwise partial
	exitOutputError = 5 // measured, but an output could not be written
)

// exitCodesHelp is the exit code table of smp --help.
const exitCodesHelp = `Exit codes:
  0  success
  1  the test ran but failed a threshold (--slo, compare --max-regression)
  2  bad input: config, flags, files, output paths; a test that needs more
     open files than the process may have (ulimit -n)
  3  the test could not run: the target refused, did not answer, or its
     TLS certificate is not trusted (--cacert, -k) at the start
  4  interrupted (Ctrl-C, SIGTERM, SIGHUP) or otherwise partial: the partial result
     is still reported and written
  5  the measurement was taken but an output (-o, --report, --hdr-log,
     --junit, stdout) could not be written: the result is saved to
     smp-result-*.yaml in the temporary directory, path on stderr`

// exitError carries the exit code a command wants. Commands wrap errors with
// badInput, thresholdFailed, cannotRun, partial or outputFailed; any other
// error exits 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(err error) error        { return &exitError{exitBadInput, err} }
func thresholdFailed(err error) error { return &exitError{exitThreshold, err} }
func cannotRun(err error) error       { return &exitError{exitCannotRun, err} }
func partial(err error) error         { return &exitError{exitPartial, err} }
func outputFailed(err error) error    { return &exitError{exitOutputError, err} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "smp",
		Short: "Service Mesh Performance: load, measure, compare",
		Long: `smp generates load over HTTP/1.1, HTTP/2, gRPC, TCP and UDP with latency measured
from each request's intended send time, serves a built-in workload (smp target),
writes SMP results, compares runs and computes MeshMark.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       smprun.Version(),
	}
	root.SetVersionTemplate(smprun.VersionLine() + "\n")
	// Flag parsing errors are bad input too.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(
		newValidateCmd(),
		newCompareCmd(),
		newMeshmarkCmd(),
		newRunCmd(),
		newQuickstartCmd(),
		newTargetCmd(),
		newAgentCmd(),
		newLabCmd(),
		newProxyCmd(),
		newReportCmd(),
		newImportCmd(),
		newServeCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "print the version of smp, the Go version and the platform",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), smprun.VersionLine())
				return err
			},
		},
	)
	return root
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns its exit code; tests call it
// with buffers for stdout and stderr.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "smp:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Cobra reports unknown commands and wrong argument counts as plain
	// errors: those are bad input as well.
	if isUsageError(err) {
		return exitBadInput
	}
	return 1
}

// isUsageError tells cobra's own usage errors (which it returns as plain
// errors) from failures of a command.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// args wraps a cobra argument check so that its failure exits with code 2.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return badInput(err)
		}
		return nil
	}
}
