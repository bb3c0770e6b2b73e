package meshmark

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/smp-project/smp/spec"
	"go.yaml.in/yaml/v3"
)

// Measurements are MeshMark inputs kept outside a result: the resource
// figures of the mesh's components and the service level. The YAML schema
// (every field but the resource figures optional):
//
//	service_level:
//	  slo_p99_ms: 25        # objective for the p99 latency, ms
//	  achieved_p99_ms: 27.5 # default: the result's p99
//	  weight: 0             # w in [-0.5, 0.5]
//	resources:
//	  - component: sidecar  # required: which mesh component
//	    class: cpu          # required: cpu, memory or network
//	    used: 180           # required, ≥ 0, same unit as assigned
//	    assigned: 500       # required, > 0: request, limit or node capacity
//	    unit: mcores        # optional, for the reader
//	    weight: 0.2         # optional w in [-0.5, 0.5]; default 0
type Measurements struct {
	ServiceLevel ServiceLevel
	Resources    []*spec.ResourceUsage
}

// LoadMeasurements reads a measurements YAML file (see Measurements).
func LoadMeasurements(path string) (*Measurements, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMeasurements(path, data)
}

// FieldError locates an error in a measurements file: the file, the line and
// the field path (resources[1].weight).
type FieldError struct {
	File string
	Line int
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Path == "" {
		return loc + ": " + e.Err.Error()
	}
	return loc + ": " + e.Path + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// ParseMeasurements parses a measurements document; name is used in errors.
// Unknown fields, wrong types, a missing required field and out-of-range
// values are errors (*FieldError) naming the file, line and field path.
func ParseMeasurements(name string, data []byte) (*Measurements, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FieldError{File: name, Err: err}
	}
	p := parser{file: name}
	m := &Measurements{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, p.errf(&doc, "", "empty document: want resources (and optionally service_level)")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "", "want a mapping with resources and service_level")
	}
	seenResources := false
	for key, val := range pairs(root) {
		switch key.Value {
		case "service_level":
			if err := p.serviceLevel(val, &m.ServiceLevel); err != nil {
				return nil, err
			}
		case "resources":
			seenResources = true
			if val.Kind != yaml.SequenceNode {
				return nil, p.errf(val, "resources", "want a list of resource figures")
			}
			for i, item := range val.Content {
				u, err := p.resource(item, fmt.Sprintf("resources[%d]", i))
				if err != nil {
					return nil, err
				}
				m.Resources = append(m.Resources, u)
			}
		default:
			return nil, p.errf(key, key.Value, "unknown field (want service_level, resources)")
		}
	}
	if !seenResources || len(m.Resources) == 0 {
		return nil, p.errf(root, "resources", "required: at least one resource figure")
	}
	return m, nil
}

type parser struct{ file string }

func (p parser) errf(n *yaml.Node, path, format string, args ...any) error {
	return &FieldError{File: p.file, Line: n.Line, Path: path, Err: fmt.Errorf(format, args...)}
}

// pairs yields the keys and values of a mapping node.
func pairs(n *yaml.Node) func(yield func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i], n.Content[i+1]) {
				return
			}
		}
	}
}

func (p parser) serviceLevel(n *yaml.Node, sl *ServiceLevel) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "service_level", "want a mapping (slo_p99_ms, achieved_p99_ms, weight)")
	}
	for key, val := range pairs(n) {
		path := "service_level." + key.Value
		var dst *float64
		switch key.Value {
		case "slo_p99_ms":
			dst = &sl.SLOP99Ms
		case "achieved_p99_ms":
			dst = &sl.AchievedP99Ms
		case "weight":
			dst = &sl.Weight
		default:
			return p.errf(key, path, "unknown field (want slo_p99_ms, achieved_p99_ms, weight)")
		}
		v, err := p.number(val, path)
		if err != nil {
			return err
		}
		*dst = v
	}
	if sl.SLOP99Ms < 0 || math.IsInf(sl.SLOP99Ms, 0) {
		return p.errf(n, "service_level.slo_p99_ms", "%v: must be a finite number > 0", sl.SLOP99Ms)
	}
	if sl.AchievedP99Ms < 0 || math.IsInf(sl.AchievedP99Ms, 0) {
		return p.errf(n, "service_level.achieved_p99_ms", "%v: must be a finite number > 0", sl.AchievedP99Ms)
	}
	if err := checkWeight(sl.Weight); err != nil {
		return &FieldError{File: p.file, Line: n.Line, Path: "service_level.weight", Err: err}
	}
	return nil
}

func (p parser) resource(n *yaml.Node, path string) (*spec.ResourceUsage, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "want a mapping (component, class, used, assigned, unit, weight)")
	}
	u := &spec.ResourceUsage{}
	seen := map[string]*yaml.Node{}
	for key, val := range pairs(n) {
		fp := path + "." + key.Value
		if _, dup := seen[key.Value]; dup {
			return nil, p.errf(key, fp, "given twice")
		}
		seen[key.Value] = val
		var err error
		switch key.Value {
		case "component":
			u.Component, err = p.str(val, fp)
		case "class":
			u.Class, err = p.str(val, fp)
		case "unit":
			u.Unit, err = p.str(val, fp)
		case "used":
			u.Used, err = p.number(val, fp)
		case "assigned":
			u.Assigned, err = p.number(val, fp)
		case "weight":
			u.Weight, err = p.number(val, fp)
		default:
			return nil, p.errf(key, fp, "unknown field (want component, class, used, assigned, unit, weight)")
		}
		if err != nil {
			return nil, err
		}
	}
	for _, req := range []string{"component", "class", "used", "assigned"} {
		if _, ok := seen[req]; !ok {
			return nil, p.errf(n, path+"."+req, "required")
		}
	}
	if field, err := CheckUsage(u); err != nil {
		at := n
		if v, ok := seen[field]; ok {
			at = v
		}
		return nil, &FieldError{File: p.file, Line: at.Line, Path: path + "." + field, Err: err}
	}
	return u, nil
}

func (p parser) number(n *yaml.Node, path string) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, p.errf(n, path, "%q: want a number", n.Value)
	}
	var v float64
	if err := n.Decode(&v); err != nil {
		return 0, p.errf(n, path, "%q: want a number", n.Value)
	}
	if math.IsNaN(v) {
		return 0, p.errf(n, path, "NaN: want a number")
	}
	return v, nil
}

func (p parser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", p.errf(n, path, "want a string")
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", p.errf(n, path, "empty")
	}
	return n.Value, nil
}
