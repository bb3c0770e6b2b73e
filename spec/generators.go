package spec

import (
	"fmt"
	"sort"
	"strings"
)

// NoteLabel is the result label that carries what a reader of the result
// should know about how it was made, such as a config naming another load
// generator than smp (a result has no notes field).
const NoteLabel = "smp.note"

// OtherGenerators returns the load generators other than smp that the
// config's clients name (load_generator: fortio, nighthawk, wrk2, ...),
// sorted, without duplicates; nil when none.
func OtherGenerators(cfg *PerformanceTestConfig) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cfg.GetClients() {
		g := strings.TrimSpace(c.GetLoadGenerator())
		if g == "" || strings.EqualFold(g, "smp") || seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// GeneratorNote says that a config naming other load generators (see
// OtherGenerators) runs on smp's own; "" when it names none.
func GeneratorNote(cfg *PerformanceTestConfig) string {
	gs := OtherGenerators(cfg)
	if len(gs) == 0 {
		return ""
	}
	return fmt.Sprintf("load_generator: the config names %s; smp runs the test on its own load generator (corrected latency, its own scheduling), not on %s",
		strings.Join(gs, ", "), strings.Join(gs, " or "))
}
