package smprun

import (
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
