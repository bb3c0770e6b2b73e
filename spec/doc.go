// Package spec holds the Service Mesh Performance (SMP) messages and turns
// documents into them and back.
//
// The messages are generated from proto/ (upstream SMP v0.6.1 names and field
// numbers; smp's extensions from field 100 up). Load reads YAML or JSON in
// every dialect found in the wild — plain SMP, Meshery's {test, mesh}
// wrapper, v0.0.1/v0.1-era field names, the flat legacy result shape — and
// converts them to the current messages; Validate reports every problem with
// its file, field path, bad value and what is allowed; Encode writes YAML or
// JSON with a stable field order that loads back to an equal message.
package spec
