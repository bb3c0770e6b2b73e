// Package report turns SMP results into what people and their other tools
// read; it only writes (package interop reads other tools' files):
//
//   - WriteHTML: one self-contained HTML page (inline CSS, inline SVG charts
//     drawn here, a few lines of inline script for hover read-outs; nothing
//     is fetched when it is opened) with a summary table, the latency
//     percentile spectrum of several results overlaid, latency and
//     throughput over time with errors marked, the latency histogram, the
//     comparison table of package stats, and the environment and
//     configuration of each result.
//   - Fortio: Fortio's HTTPRunnerResults JSON, which Fortio's UI and Meshery
//     read (package interop reads it back).
//   - WriteHDRLog: the HdrHistogram interval log (format 1.3), read by
//     HdrHistogram's own plotters and log processors.
//   - WriteIntervalsCSV and WritePercentilesCSV, for spreadsheets.
//   - WriteJUnit: SLO checks as a JUnit XML report, for CI systems.
//
// Write writes any of the formats of smp report by name (Formats).
//
// Latency histograms in results are HdrHistogram "hdr-v2" encodings of
// microsecond values; this package decodes them with package hist, as the
// rest of smp does, so that percentiles mean the same thing everywhere.
package report
