package smprun

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is this binary's version: the module version when it was built
// with `go install …@version`, otherwise "devel", followed by the commit it
// was built from when the build recorded one ("devel+3f2a9c1e0b7d", with
// "-dirty" when the tree had uncommitted changes). `go run` records no
// commit.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if v == "devel" && rev != "" {
		v += "+" + rev[:min(len(rev), 12)]
		if dirty {
			v += "-dirty"
		}
	}
	return v
}

// VersionLine is what `smp version` prints: the version, the Go version and
// the platform.
func VersionLine() string {
	return fmt.Sprintf("smp %s (%s, %s/%s)", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
