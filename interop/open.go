package interop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/smp-project/smp/meshery"
	"github.com/smp-project/smp/spec"
)

// Kind is what a file was found to hold.
type Kind string

// The kinds of file Read understands. The SMP kinds are package spec's.
const (
	KindConfig       = Kind(spec.KindConfig)       // an SMP PerformanceTestConfig
	KindMeshery      = Kind(spec.KindMeshery)      // Meshery's {test, mesh} file: an SMP config and its mesh
	KindResult       = Kind(spec.KindResult)       // an SMP PerformanceTestResult
	KindLegacyResult = Kind(spec.KindLegacyResult) // the flat result shape of early SMP tooling

	KindMesheryProfile Kind = "meshery-profile" // Meshery performance profiles: one, a list, or a page of Meshery's list
	KindMesheryResult  Kind = "meshery-result"  // Meshery's stored result, Fortio's JSON inside (one, or a list merged)
	KindMesheryResults Kind = "meshery-results" // several Meshery results: the export array, or a page of Meshery's results list
	KindFortio         Kind = "fortio"          // a Fortio result JSON
)

// noun names a kind in a message: "a Fortio result, not a test config".
func (k Kind) noun() string {
	switch k {
	case KindMeshery:
		return "Meshery test file"
	case KindLegacyResult:
		return "legacy result"
	case KindMesheryProfile:
		return "Meshery performance profile"
	case KindMesheryResult:
		return "Meshery result"
	case KindMesheryResults:
		return "list of Meshery results"
	case KindFortio:
		return "Fortio result"
	}
	return string(k)
}

// Document is what one file was found to hold, converted to SMP.
type Document struct {
	File   string
	Format string // "yaml" or "json", as written
	Kind   Kind
	// Result is set for the kinds that are results: SMP and legacy
	// results, Fortio and Meshery results. For a list of Meshery results
	// it is the one chosen with the Index option, else the first valid one.
	Result *spec.PerformanceTestResult
	// Results are every valid result of the file, in file order: Result
	// alone, or each valid element of a list of Meshery results.
	Results []*spec.PerformanceTestResult
	// Invalid are the problems of the elements of a list (of Meshery
	// results or profiles) that were skipped as malformed, each naming
	// its element's index; the valid elements load. Empty otherwise.
	Invalid spec.Errors
	// Configs are set for the kinds that are test configs: the one config
	// of an SMP config or Meshery {test, mesh} file, or one per Meshery
	// profile in file order (only the chosen one, with the Profile
	// option). A result's own config is Result.Config, not here.
	Configs []*spec.PerformanceTestConfig
	// Mesh is the mesh of the document: the one a config names (for
	// Meshery's {test, mesh} file, its mesh), the one a result ran on;
	// nil when none, or when the file holds several profiles.
	Mesh *spec.ServiceMesh
	// Notes say what was understood differently, converted with a loss,
	// or not kept.
	Notes []string
	// Uncorrected is true for a result whose latency was timed from each
	// request's actual send, not from its intended send as smp does: it is
	// not corrected for coordinated omission. Fortio's are; so are
	// Meshery's, except those of wrk2. It is false for SMP documents.
	Uncorrected bool

	smp      *spec.Document     // the SMP kinds, as package spec loaded them
	profiles []*meshery.Profile // the profiles behind Configs
}

// Option changes how Read understands a file.
type Option func(*options)

type options struct {
	profile string
	index   int // -1: not chosen
}

// Index chooses one result, by its 0-based position, from a list of
// Meshery results (the export array or a page of Meshery's results list).
// A file of another kind is then an error, except for index 0 of a file
// holding one result.
func Index(i int) Option {
	return func(o *options) { o.index = i }
}

// Profile chooses one profile, by name or id, from a Meshery profile file
// that may hold several. A file of another kind is then an error.
func Profile(name string) Option {
	return func(o *options) { o.profile = name }
}

// Open reads the file at path: see Read. Errors are spec.Errors naming
// the file.
func Open(path string, opts ...Option) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, spec.Errors{{File: path, Msg: "cannot read: " + unwrapPathError(err)}}
	}
	defer f.Close()
	return ReadFrom(f, path, opts...)
}

// ReadFrom reads a document from r, such as standard input: see Read.
// name stands for it in errors and notes. At most spec.MaxFileSize bytes
// are read; a larger input is refused.
func ReadFrom(r io.Reader, name string, opts ...Option) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, spec.MaxFileSize+1))
	if err != nil {
		return nil, spec.Errors{{File: name, Msg: "cannot read: " + err.Error()}}
	}
	return Read(data, name, opts...)
}

// Read finds what data holds and converts it to SMP: an SMP document of
// any dialect package spec loads (plain configs and results, Meshery's
// {test, mesh} file, legacy results), a Meshery performance profile (or a
// list or page of them), a Fortio result JSON, or Meshery's stored result
// (Fortio's JSON inside). Every document is checked as it is converted;
// the error, when not nil, is a spec.Errors listing the problems with the
// file, line, field path, the value and what is allowed. file names the
// input in errors and notes.
func Read(data []byte, file string, opts ...Option) (*Document, error) {
	o := options{index: -1}
	for _, opt := range opts {
		opt(&o)
	}
	if len(data) > spec.MaxFileSize {
		// Refused before any parser looks at it.
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("file is larger than %d MiB; the documents smp reads are a few KiB to a few hundred", spec.MaxFileSize>>20)}}
	}
	kind := fortioKind(data)
	if kind == "" && meshery.IsProfile(data) {
		kind = KindMesheryProfile
	}
	if o.profile != "" && kind != KindMesheryProfile {
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("a profile name (%q) was given but the file is not a Meshery profile list", o.profile)}}
	}
	if o.index < -1 {
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("--index %d: must not be negative", o.index)}}
	}
	if o.index > 0 && kind != KindMesheryResults {
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("--index %d was given but the file holds one document, not a list of Meshery results", o.index)}}
	}
	switch kind {
	case KindMesheryResults:
		return readMesheryResults(data, file, o)
	case KindFortio, KindMesheryResult:
		res, notes, err := readFortio(data, file)
		if err != nil {
			return nil, err
		}
		note, uncorrected := latencyNote(res.GetGenerator().GetName())
		return &Document{File: file, Format: "json", Kind: kind, Result: res, Results: []*spec.PerformanceTestResult{res},
			Mesh: res.GetMesh(), Notes: append(notes, note), Uncorrected: uncorrected}, nil
	case KindMesheryProfile:
		return readProfiles(data, file, o.profile)
	}
	sd, err := spec.Load(data, file)
	if err != nil {
		return nil, err
	}
	d := &Document{File: file, Format: sd.Format, Kind: Kind(sd.Kind), Result: sd.Result, Mesh: sd.Mesh, Notes: sd.Notes, smp: sd}
	if sd.Result == nil {
		d.Configs = []*spec.PerformanceTestConfig{sd.Config}
		d.Notes = append(d.Notes, generatorNotes(sd.Config)...)
	} else {
		d.Results = []*spec.PerformanceTestResult{sd.Result}
	}
	return d, nil
}

// readProfiles converts Meshery performance profiles: the one named, else
// every one in the file. A malformed profile of a list does not block the
// others: it is skipped, its problems (naming its index) in
// Document.Invalid and a note, unless it is the one named.
func readProfiles(data []byte, file, name string) (*Document, error) {
	profiles, err := meshery.ParseEach(data, file)
	if err != nil {
		return nil, err
	}
	all := profiles
	if name != "" {
		p, err := meshery.Select(profiles, name)
		if err != nil {
			return nil, spec.Errors{{File: file, Msg: err.Error()}}
		}
		profiles = []*meshery.Profile{p}
	}
	d := &Document{File: file, Format: formatOf(data), Kind: KindMesheryProfile, profiles: profiles}
	var errs spec.Errors
	skip := func(p *meshery.Profile, es spec.Errors) {
		errs = append(errs, es...)
		if len(all) > 1 {
			d.Notes = append(d.Notes, fmt.Sprintf("profile %s %q: skipped, malformed: %s", p.Path, p.Name, strings.Join(errorTexts(es), "; ")))
		}
	}
	for _, p := range all {
		if name != "" && p != profiles[0] && len(p.Errs) > 0 {
			skip(p, p.Errs)
		}
	}
	for _, p := range profiles {
		if len(p.Errs) > 0 {
			if name != "" {
				return nil, p.Errs
			}
			skip(p, p.Errs)
			continue
		}
		cfg, notes, err := p.Config()
		if err != nil {
			var es spec.Errors
			if !errors.As(err, &es) {
				return nil, err
			}
			if name != "" {
				return nil, es
			}
			skip(p, es)
			continue
		}
		notes = append(notes, generatorNotes(cfg)...)
		for _, n := range notes {
			if len(profiles) > 1 {
				n = "profile " + strconv.Quote(p.Name) + ": " + n
			}
			d.Notes = append(d.Notes, n)
		}
		d.Configs = append(d.Configs, cfg)
	}
	d.Invalid = errs
	if len(d.Configs) == 0 {
		return nil, errs
	}
	if len(d.Configs) == 1 {
		d.Mesh = d.Configs[0].GetMesh()
	}
	return d, nil
}

// TestConfig returns the one test config the document holds, with the mesh
// it names (nil when none). A result is an error, and so is a Meshery
// profile file holding several profiles (the Profile option chooses one).
func (d *Document) TestConfig() (*spec.PerformanceTestConfig, *spec.ServiceMesh, error) {
	if d.Result != nil {
		return nil, nil, spec.Errors{{File: d.File, Msg: fmt.Sprintf("a %s, not a test config", d.Kind.noun())}}
	}
	if len(d.Configs) != 1 || (d.Kind == KindMesheryProfile && len(d.profiles) != 1) {
		_, err := meshery.Select(d.profiles, "")
		return nil, nil, spec.Errors{{File: d.File, Msg: err.Error()}}
	}
	return d.Configs[0], d.Mesh, nil
}

// TestResult returns the result the document holds; a test config is an
// error.
func (d *Document) TestResult() (*spec.PerformanceTestResult, error) {
	if d.Result == nil {
		return nil, spec.Errors{{File: d.File, Msg: fmt.Sprintf("a %s, not a result (expected an SMP result, or Fortio or Meshery result JSON)", d.Kind.noun())}}
	}
	return d.Result, nil
}

// LatencyMix returns a note for a comparison of results whose latencies
// were timed differently: some from each request's actual send (not
// corrected for coordinated omission, Document.Uncorrected), the others
// from its intended send, as smp times them. "" when they agree.
func LatencyMix(docs []*Document) string {
	var uncorrected, corrected []string
	for _, d := range docs {
		if d.Uncorrected {
			uncorrected = append(uncorrected, d.File)
		} else {
			corrected = append(corrected, d.File)
		}
	}
	if len(uncorrected) == 0 || len(corrected) == 0 {
		return ""
	}
	return fmt.Sprintf("the latency of %s is not corrected for coordinated omission and that of %s is: "+
		"uncorrected figures are never higher than corrected ones of the same run, so part of a difference in latency may be the method, not the system",
		strings.Join(uncorrected, ", "), strings.Join(corrected, ", "))
}

// Summary says in one line what the document was understood to be and
// what it converts to: for SMP documents package spec's Summary (format,
// kind, clients, endpoints, duration, latency, rate, mesh), for other
// tools' documents their kind and the SMP document made of them.
func (d *Document) Summary() string {
	if d.smp != nil {
		return d.smp.Summary()
	}
	head := strings.ToUpper(d.Format) + ", "
	switch d.Kind {
	case KindFortio:
		head += "Fortio result (" + generatorName(d.Result) + ")"
	case KindMesheryResult:
		head += "Meshery result (" + generatorName(d.Result) + ")"
	case KindMesheryResults:
		descs := make([]string, len(d.Results))
		for i, r := range d.Results {
			descs[i] = strconv.Quote(r.GetName()) + " (" + generatorName(r) + ": " + spec.Describe(nil, r, r.GetMesh()) + ")"
		}
		return head + fmt.Sprintf("%d Meshery results, converted to SMP results: ", len(d.Results)) + strings.Join(descs, "; ")
	case KindMesheryProfile:
		if len(d.Configs) == 1 {
			return head + "Meshery performance profile " + strconv.Quote(d.Configs[0].GetName()) +
				", converted to an SMP test config: " + spec.Describe(d.Configs[0], nil, d.Mesh)
		}
		descs := make([]string, len(d.Configs))
		for i, c := range d.Configs {
			descs[i] = strconv.Quote(c.GetName()) + " (" + spec.Describe(c, nil, c.GetMesh()) + ")"
		}
		return head + fmt.Sprintf("%d Meshery performance profiles, converted to SMP test configs: ", len(d.Configs)) + strings.Join(descs, "; ")
	}
	return head + ", converted to an SMP result: " + spec.Describe(nil, d.Result, d.Mesh)
}

// generatorName names the tool that wrote a result, with its version.
func generatorName(r *spec.PerformanceTestResult) string {
	g := r.GetGenerator()
	if g.GetVersion() == "" {
		return g.GetName()
	}
	return g.GetName() + " " + g.GetVersion()
}

// formatOf tells JSON from YAML as package spec does: by the first
// character.
func formatOf(data []byte) string {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "json"
	}
	return "yaml"
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
