package smprun

import (
	"time"

	"github.com/smp-project/smp/load"
	"runtime"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	line := VersionLine()
	if !strings.HasPrefix(line, "smp ") || !strings.Contains(line, runtime.Version()) {
		t.Errorf("version line %q", line)
	}
	if v := Version(); v == "" || strings.ContainsAny(v, " \n") {
		t.Errorf("version %q", v)
	}
	if g := ThisGenerator(); g.Version != Version() {
		t.Errorf("results say version %q, the binary %q", g.Version, Version())
	}
}

// A log gets a progress line every 10 s of each run, not every second.
func TestLogProgress(t *testing.T) {
	var b strings.Builder
	log := LogProgress(&b, 10*time.Second, true)
	for _, ri := range []RunInfo{{Variant: "base", Run: 1, Runs: 2}, {Variant: "base", Run: 2, Runs: 2}} {
		log(ri, load.Progress{Warmup: true, Elapsed: 12 * time.Second})
		for s := 1; s <= 25; s++ {
			log(ri, load.Progress{Elapsed: time.Duration(s) * time.Second, Duration: 25 * time.Second, Requests: int64(s)})
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], " 10.0s/25s") || !strings.Contains(lines[1], " 20.0s/25s") ||
		!strings.HasPrefix(lines[2], "smp: [base 2/2]") {
		t.Errorf("progress log:\n%s", b.String())
	}
}
