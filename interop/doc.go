// Package interop is the one way in for outside documents: every file smp
// reads as a test config or a result comes through Open (or Read, for
// bytes, and ReadFrom, for standard input), which says what the file was
// found to be and converts it to SMP.
//
// It understands
//
//   - SMP documents in every dialect package spec loads: plain configs and
//     results in YAML or JSON, Meshery's {test, mesh} file, v0.0.1-era
//     field names and the flat legacy result shape;
//   - Meshery performance profiles, one or a list or a page of Meshery's
//     profile list, converted to SMP test configs by package meshery;
//   - Fortio's result JSON (HTTP and gRPC runs), and Meshery's stored
//     result with Fortio's JSON inside, converted to SMP results here.
//
// The parsers stay where they are (spec, meshery) and their errors keep
// their quality: every problem is a spec.FieldError with the file, line,
// field path, value and what is allowed, gathered in a spec.Errors.
// Conversions that lose or reinterpret something say so in
// Document.Notes, and Document.Uncorrected marks results whose latency is
// not corrected for coordinated omission.
package interop
