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
//     result with Fortio's JSON inside (runner_results an object, or a
//     list merged into one result), converted to SMP results here;
//   - lists of Meshery results: the export array and a page of Meshery's
//     results list ({page, page_size, total_count, results}), one SMP
//     result per element (Document.Results; Index chooses one).
//
// In a list (of results or of profiles) a malformed element does not
// block the others: it is skipped, its problems naming its index in
// Document.Invalid and in a note, unless it is the one chosen. A test
// config naming another load generator than smp gets a note that smp
// runs it on its own.
//
// The parsers stay where they are (spec, meshery) and their errors keep
// their quality: every problem is a spec.FieldError with the file, line,
// field path, value and what is allowed, gathered in a spec.Errors.
// Conversions that lose or reinterpret something say so in
// Document.Notes, and Document.Uncorrected marks results whose latency is
// not corrected for coordinated omission.
package interop
