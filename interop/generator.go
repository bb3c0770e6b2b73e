package interop

import "github.com/smp-project/smp/spec"

// generatorNotes says, for a test config, that the load generator it names
// is not the one that will run it.
func generatorNotes(cfg *spec.PerformanceTestConfig) []string {
	if n := spec.GeneratorNote(cfg); n != "" {
		return []string{n}
	}
	return nil
}
