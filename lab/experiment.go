package lab

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"go.yaml.in/yaml/v3"
)

// Experiment is an experiment file.
type Experiment struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Baseline names the variant the others are compared with; the first
	// variant when empty.
	Baseline string `yaml:"baseline"`
	// Runs of each variant at each level (default 3); Order "random" (the
	// default: each round a new order, balanced over blocks of rounds) or
	// "alternate"; Seed 0 draws one (kept in the result).
	Runs  int    `yaml:"runs"`
	Order string `yaml:"order"`
	Seed  uint64 `yaml:"seed"`
	// Each run: Duration (default 10s) after Warmup, with Connections
	// (default 8) and a per-request Timeout; Pause between runs.
	Duration    Duration `yaml:"duration"`
	Warmup      Duration `yaml:"warmup"`
	Pause       Duration `yaml:"pause"`
	Connections int      `yaml:"connections"`
	Timeout     Duration `yaml:"timeout"`
	// Start are long-running commands every variant needs (the app),
	// started before the variants' own.
	Start []string `yaml:"start"`
	// Ready are URLs (or host:port for TCP) that must answer before the
	// runs begin.
	Ready    []string  `yaml:"ready"`
	Variants []Variant `yaml:"variants"`
	Levels   Levels    `yaml:"levels"`
}

// Variant is one arm of the experiment.
type Variant struct {
	Name     string `yaml:"name"`
	Endpoint string `yaml:"endpoint"`
	// Start are long-running commands (a proxy) kept up for the whole
	// experiment; Setup and Teardown one-shot commands run before and
	// after it. Commands run with sh -c; {smp} is this smp binary, {dir}
	// the experiment file's directory, {tmp} a scratch directory.
	Start    []string `yaml:"start"`
	Setup    []string `yaml:"setup"`
	Teardown []string `yaml:"teardown"`
	// Ready is polled until it answers (default: Endpoint).
	Ready   string            `yaml:"ready"`
	Headers map[string]string `yaml:"headers"`
}

// Levels are the load levels: fixed rates, a capacity search, or both.
type Levels struct {
	Rates    []float64 `yaml:"rates"`
	Capacity *Capacity `yaml:"capacity"`
}

// Capacity configures the capacity search of each variant: the highest
// rate with p99 under P99 and errors under Errors percent, found by
// doubling from Start (up to Max) then bisecting to within Tolerance,
// with Confirm confirmation runs at the answer.
type Capacity struct {
	Start     float64  `yaml:"start"`
	Max       float64  `yaml:"max"`
	P99       Duration `yaml:"p99"`
	Errors    float64  `yaml:"errors"`
	Tolerance float64  `yaml:"tolerance"`
	Confirm   int      `yaml:"confirm"`
	// Duration of each search run; the experiment's when 0.
	Duration Duration `yaml:"duration"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 10s or 500ms", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Defaults.
const (
	DefaultRuns        = 3
	DefaultDuration    = 10 * time.Second
	DefaultConnections = 8
	defaultTolerance   = 0.05
	defaultConfirm     = 2
)

// LoadFile reads and checks an experiment file. Errors name the file and
// the field path, and wrap load.ErrInvalid.
func LoadFile(path string) (*Experiment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", load.ErrInvalid, err)
	}
	e, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", load.ErrInvalid, path, unwrapInvalid(err))
	}
	return e, nil
}

// Parse reads an experiment and fills its defaults.
func Parse(b []byte) (*Experiment, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var e Experiment
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", load.ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

func unwrapInvalid(err error) string {
	return strings.TrimPrefix(err.Error(), load.ErrInvalid.Error()+": ")
}

func (e *Experiment) check() error {
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
	}
	if e.Runs == 0 {
		e.Runs = DefaultRuns
	}
	if e.Runs < 1 || e.Runs > smprun.MaxRuns {
		bad("runs", "%d: want 1 to %d", e.Runs, smprun.MaxRuns)
	}
	if _, err := smprun.CheckOrder(e.Order); err != nil {
		bad("order", "%v", err)
	}
	if e.Duration == 0 {
		e.Duration = Duration(DefaultDuration)
	}
	if e.Connections == 0 {
		e.Connections = DefaultConnections
	}
	if e.Connections < 0 {
		bad("connections", "%d: want at least 1", e.Connections)
	}
	if len(e.Variants) == 0 {
		bad("variants", "none: an experiment needs at least one variant (two to compare)")
	}
	names := map[string]bool{}
	for i, v := range e.Variants {
		p := fmt.Sprintf("variants[%d]", i)
		switch {
		case v.Name == "":
			bad(p+".name", "empty: each variant needs a name")
		case names[v.Name]:
			bad(p+".name", "%q is used twice", v.Name)
		case strings.ContainsAny(v.Name, "/\\ \t"):
			bad(p+".name", "%q: letters, digits, - and _ only (it names files)", v.Name)
		}
		names[v.Name] = true
		if u, err := url.Parse(v.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			bad(p+".endpoint", "%q is not a URL such as http://127.0.0.1:8080/", v.Endpoint)
		}
	}
	if e.Baseline == "" && len(e.Variants) > 0 {
		e.Baseline = e.Variants[0].Name
	} else if e.Baseline != "" && !names[e.Baseline] {
		bad("baseline", "%q is not a variant", e.Baseline)
	}
	if len(e.Levels.Rates) == 0 && e.Levels.Capacity == nil {
		bad("levels", "none: give rates (e.g. [50, 100, 200]) or a capacity search")
	}
	for i, r := range e.Levels.Rates {
		if !(r > 0) || math.IsInf(r, 0) {
			bad(fmt.Sprintf("levels.rates[%d]", i), "%v: want a rate > 0 requests/s", r)
		}
	}
	if c := e.Levels.Capacity; c != nil {
		if c.Tolerance == 0 {
			c.Tolerance = defaultTolerance
		}
		if c.Confirm == 0 {
			c.Confirm = defaultConfirm
		}
		if c.Duration == 0 {
			c.Duration = e.Duration
		}
		switch {
		case !(c.Start > 0):
			bad("levels.capacity.start", "%v: want a rate > 0", c.Start)
		case !(c.Max >= c.Start):
			bad("levels.capacity.max", "%v: want a rate ≥ start (%v)", c.Max, c.Start)
		}
		if c.P99 <= 0 {
			bad("levels.capacity.p99", "want the p99 objective, e.g. 25ms")
		}
		if c.Errors < 0 || c.Errors > 100 {
			bad("levels.capacity.errors", "%v: want a percentage from 0 to 100", c.Errors)
		}
		if !(c.Tolerance > 0 && c.Tolerance < 1) {
			bad("levels.capacity.tolerance", "%v: want a fraction between 0 and 1, e.g. 0.05", c.Tolerance)
		}
		if c.Confirm < 1 || c.Confirm > 20 {
			bad("levels.capacity.confirm", "%d: want 1 to 20 runs", c.Confirm)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %v", load.ErrInvalid, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// variant returns the variant named n.
func (e *Experiment) variant(n string) *Variant {
	for i := range e.Variants {
		if e.Variants[i].Name == n {
			return &e.Variants[i]
		}
	}
	return nil
}
