package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Limits that keep a hostile document from exhausting the loader.
const (
	maxDepth = 32      // message nesting (results nest runs and clients)
	maxNodes = 1 << 20 // nodes visited, aliases expanded
)

// aliases maps, per message, names used by older SMP versions and tools to
// the current field names. endpoint_url is singular in v0.1-era files and
// may hold a single string.
var aliases = map[protoreflect.FullName]map[string]string{
	"smp.PerformanceTestConfig": {"smps_version": "smp_version"},
	"smp.PerformanceTestConfig.Client": {
		"endpoint_url": "endpoint_urls",
	},
	"smp.PerformanceTestResult": {
		"smps_version": "smp_version",
		"actual_QPS":   "actual_qps",
		"testId":       "test_id",
		"endpoint_url": "", // handled by the legacy converter; listed so it is not "unknown"
	},
}

// decoder turns yaml.Node trees into protobuf messages through reflection,
// collecting every error instead of stopping at the first one.
type decoder struct {
	file    string
	errs    Errors
	nodes   int
	present map[string]bool // field paths that the document set explicitly
}

func (d *decoder) fail(n *yaml.Node, path, value, msg, allowed string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Value: value, Msg: msg, Allowed: allowed})
}

// resolve follows YAML aliases and counts nodes, so that an alias bomb is an
// error rather than an exhausted machine.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, bool) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, "", "", fmt.Sprintf("document too complex (more than %d nodes after expanding aliases)", maxNodes), "")
		}
		return nil, false
	}
	return n, n != nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a scalar"
	}
}

// fieldByName finds a field by its proto name, its JSON name or an alias.
func fieldByName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	if fd := fields.ByJSONName(name); fd != nil {
		return fd
	}
	if to, ok := aliases[md.FullName()][name]; ok && to != "" {
		return fields.ByName(protoreflect.Name(to))
	}
	return nil
}

func fieldNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = string(fields.Get(i).Name())
	}
	return names
}

// message decodes a mapping node into m.
func (d *decoder) message(n *yaml.Node, m protoreflect.Message, path string, depth int) {
	n, ok := d.resolve(n)
	if !ok || isNull(n) {
		return
	}
	if depth > maxDepth {
		d.fail(n, path, "", fmt.Sprintf("nested more than %d levels deep", maxDepth), "")
		return
	}
	md := m.Descriptor()
	if md.FullName() == "google.protobuf.Timestamp" {
		d.timestamp(n, m, path)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, scalarValue(n), fmt.Sprintf("expected a mapping of %s fields, found %s", md.Name(), kindName(n)), "")
		return
	}
	seen := map[protoreflect.FieldNumber]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := kn.Value
		fd := fieldByName(md, key)
		if fd == nil {
			msg := fmt.Sprintf("unknown field %q in %s", key, md.Name())
			if s := suggest(key, fieldNames(md)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(kn, join(path, key), "", msg, "")
			continue
		}
		fpath := join(path, string(fd.Name()))
		if prev, dup := seen[fd.Number()]; dup {
			d.fail(kn, fpath, "", fmt.Sprintf("given twice (as %q and %q)", prev, key), "")
			continue
		}
		seen[fd.Number()] = key
		d.field(vn, m, fd, fpath, depth)
	}
}

// field decodes node n into field fd of m.
func (d *decoder) field(n *yaml.Node, m protoreflect.Message, fd protoreflect.FieldDescriptor, path string, depth int) {
	n, ok := d.resolve(n)
	if !ok || isNull(n) {
		return
	}
	d.present[path] = true
	switch {
	case fd.IsMap():
		d.mapField(n, m, fd, path, depth)
	case fd.IsList():
		list := m.Mutable(fd).List()
		items := n.Content
		if n.Kind != yaml.SequenceNode {
			if fd.Kind() == protoreflect.MessageKind || n.Kind != yaml.ScalarNode {
				d.fail(n, path, scalarValue(n), "expected a list, found "+kindName(n), "")
				return
			}
			// A single value where a list is expected: the v0.1-era
			// endpoint_url holds one URL.
			items = []*yaml.Node{n}
		}
		for i, item := range items {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			if fd.Kind() == protoreflect.MessageKind {
				el := list.NewElement()
				d.message(item, el.Message(), ipath, depth+1)
				list.Append(el)
				continue
			}
			item, ok := d.resolve(item)
			if !ok {
				return
			}
			if v, ok := d.scalar(item, fd, ipath); ok {
				list.Append(v)
			}
		}
	case fd.Kind() == protoreflect.MessageKind:
		d.message(n, m.Mutable(fd).Message(), path, depth+1)
	default:
		if v, ok := d.scalar(n, fd, path); ok {
			m.Set(fd, v)
		}
	}
}

func (d *decoder) mapField(n *yaml.Node, m protoreflect.Message, fd protoreflect.FieldDescriptor, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, scalarValue(n), "expected a mapping, found "+kindName(n), "")
		return
	}
	mp := m.Mutable(fd).Map()
	kd, vd := fd.MapKey(), fd.MapValue()
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		epath := fmt.Sprintf("%s[%q]", path, kn.Value)
		k, ok := d.scalar(kn, kd, epath)
		if !ok {
			continue
		}
		vn, ok = d.resolve(vn)
		if !ok {
			return
		}
		if vd.Kind() == protoreflect.MessageKind {
			v := mp.NewValue()
			d.message(vn, v.Message(), epath, depth+1)
			mp.Set(k.MapKey(), v)
			continue
		}
		if isNull(vn) {
			// "key:" with no value in a string map is an empty string.
			vn = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Line: vn.Line}
		}
		if v, ok := d.scalar(vn, vd, epath); ok {
			mp.Set(k.MapKey(), v)
		}
	}
}

func scalarValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// scalar converts a scalar node to a value of fd's kind. Numbers may be
// written as strings and enums as numbers or names, as documents in the
// wild do both.
func (d *decoder) scalar(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) (protoreflect.Value, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", fmt.Sprintf("expected a %s value, found %s", kindWord(fd), kindName(n)), "")
		return protoreflect.Value{}, false
	}
	s := strings.TrimSpace(n.Value)
	bad := func(allowed string) (protoreflect.Value, bool) {
		d.fail(n, path, n.Value, "not a valid "+kindWord(fd), allowed)
		return protoreflect.Value{}, false
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(n.Value), true
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("true, false")
		}
		return protoreflect.ValueOfBool(b), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, ok := parseInt(s, math.MinInt32, math.MaxInt32)
		if !ok {
			return bad(fmt.Sprintf("a whole number from %d to %d", math.MinInt32, math.MaxInt32))
		}
		return protoreflect.ValueOfInt32(int32(v)), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, ok := parseInt(s, math.MinInt64, math.MaxInt64)
		if !ok {
			return bad("a whole number")
		}
		return protoreflect.ValueOfInt64(v), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// A seed uses all 64 bits: parsed as unsigned, not through float.
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad("a whole number from 0 to 18446744073709551615")
		}
		return protoreflect.ValueOfUint64(v), true
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		f, ok := parseFloat(s)
		if !ok {
			return bad("a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), true
		}
		return protoreflect.ValueOfFloat64(f), true
	case protoreflect.EnumKind:
		return d.enum(n, fd.Enum(), path)
	}
	d.fail(n, path, n.Value, fmt.Sprintf("unsupported field kind %s", fd.Kind()), "")
	return protoreflect.Value{}, false
}

func kindWord(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return "number"
	case protoreflect.EnumKind:
		return string(fd.Enum().Name())
	case protoreflect.MessageKind:
		return string(fd.Message().Name())
	default:
		return "whole number"
	}
}

// parseInt accepts decimal integers, and floats with no fractional part
// (JSON writers sometimes produce 10.0).
func parseInt(s string, lo, hi int64) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, v >= lo && v <= hi
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int64(f), true
}

func parseFloat(s string) (float64, bool) {
	switch strings.ToLower(s) {
	case ".nan", "nan":
		return math.NaN(), true
	case ".inf", "+.inf", "infinity", "+infinity", "inf":
		return math.Inf(1), true
	case "-.inf", "-infinity", "-inf":
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// enum accepts a number or a name; names match case-insensitively, with or
// without the enum's common prefix (PROTOCOL_HTTP, HTTP, http) and with '-'
// for '_' (traefik-mesh).
func (d *decoder) enum(n *yaml.Node, ed protoreflect.EnumDescriptor, path string) (protoreflect.Value, bool) {
	vals := ed.Values()
	s := strings.TrimSpace(n.Value)
	if num, err := strconv.ParseInt(s, 10, 32); err == nil {
		if v := vals.ByNumber(protoreflect.EnumNumber(num)); v != nil {
			return protoreflect.ValueOfEnum(v.Number()), true
		}
		d.fail(n, path, n.Value, fmt.Sprintf("unknown %s number", ed.Name()), enumAllowed(ed))
		return protoreflect.Value{}, false
	}
	want := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	prefix := enumPrefix(ed)
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		name := string(v.Name())
		if name == want || strings.TrimPrefix(name, prefix) == want {
			return protoreflect.ValueOfEnum(v.Number()), true
		}
	}
	d.fail(n, path, n.Value, fmt.Sprintf("unknown %s name", ed.Name()), enumAllowed(ed))
	return protoreflect.Value{}, false
}

// enumPrefix is the common prefix of the enum's value names, such as
// "PROTOCOL_".
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	if vals.Len() < 2 {
		return ""
	}
	p := string(vals.Get(0).Name())
	for i := 1; i < vals.Len(); i++ {
		name := string(vals.Get(i).Name())
		for !strings.HasPrefix(name, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexByte(p, '_'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

func enumAllowed(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	var parts []string
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		if v.Number() == 0 {
			continue // the INVALID placeholder is never what a user means
		}
		parts = append(parts, fmt.Sprintf("%d=%s", v.Number(), v.Name()))
	}
	return strings.Join(parts, ", ")
}

func (d *decoder) timestamp(n *yaml.Node, m protoreflect.Message, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "expected an RFC 3339 time such as 2020-03-17T14:53:05Z, found "+kindName(n), "")
		return
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(n.Value))
	if err != nil {
		d.fail(n, path, n.Value, "not a valid time", "RFC 3339, e.g. 2020-03-17T14:53:05.499Z")
		return
	}
	fields := m.Descriptor().Fields()
	m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
	m.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
}
