package report

import (
	"fmt"

	"github.com/smp-project/smp/meshery"
	"github.com/smp-project/smp/spec"
)

// Kinds of file Import understands.
const (
	KindFortio         = "fortio"          // a Fortio result JSON
	KindMesheryResult  = "meshery-result"  // Meshery's stored result (Fortio JSON inside)
	KindMesheryProfile = "meshery-profile" // a Meshery performance profile
	KindSMP            = "smp"             // anything package spec loads
)

// Imported is what Import made of a file: a result or a test config.
type Imported struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Result is set for results, Config for profiles and SMP configs.
	Result *spec.PerformanceTestResult
	Config *spec.PerformanceTestConfig
	// Notes say what was understood differently or not kept.
	Notes []string
}

// Import converts a file from another tool into SMP: a Fortio result, a
// Meshery result (Fortio's JSON inside Meshery's wrapper), a Meshery
// performance profile (profile selects one by name when the file holds
// several), or any document package spec loads (SMP configs and results,
// Meshery's {test, mesh} file, legacy results), which comes back in the
// current form. Problems are spec.Errors naming the file and field.
func Import(data []byte, file, profile string) (*Imported, error) {
	isProfile := meshery.IsProfile(data)
	if profile != "" && !isProfile {
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("a profile name (%q) was given but the file is not a Meshery profile list", profile)}}
	}
	switch kind := fortioKind(data); {
	case kind != "":
		res, err := ImportFortio(data, file)
		if err != nil {
			return nil, err
		}
		note := "latency: " + res.GetGenerator().GetName() + " times each request from its actual send (not corrected for coordinated omission); the histogram is rebuilt from its buckets"
		if res.GetGenerator().GetName() == "smp" {
			note = "latency: written by smp (corrected); the histogram is rebuilt from the Fortio buckets, to within 1%"
		}
		return &Imported{Kind: kind, Result: res, Notes: []string{note}}, nil
	case isProfile:
		profiles, err := meshery.Parse(data, file)
		if err != nil {
			return nil, err
		}
		p, err := meshery.Select(profiles, profile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		cfg, notes, err := p.Config()
		if err != nil {
			return nil, err
		}
		return &Imported{Kind: KindMesheryProfile, Config: cfg, Notes: notes}, nil
	}
	doc, err := spec.Load(data, file)
	if err != nil {
		return nil, err
	}
	im := &Imported{Kind: KindSMP, Result: doc.Result, Notes: doc.Notes}
	if doc.Result == nil {
		im.Config = doc.Config
	}
	return im, nil
}
