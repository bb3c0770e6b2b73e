package spec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Encode writes m as "yaml" or "json" with the proto field names, fields in
// field-number order, map keys sorted, enums by name and unset fields left
// out: the same message always gives the same bytes, and Load reads them
// back to an equal message.
func Encode(m proto.Message, format string) ([]byte, error) {
	n := messageNode(m.ProtoReflect())
	switch strings.ToLower(format) {
	case "yaml", "yml":
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(n); err != nil {
			return nil, fmt.Errorf("encode yaml: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode yaml: %w", err)
		}
		return b.Bytes(), nil
	case "json":
		var b bytes.Buffer
		writeJSON(&b, n, "")
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown format %q (allowed: yaml, json)", format)
}

// FormatForPath picks "json" for a .json file name and "yaml" otherwise.
func FormatForPath(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return "json"
	}
	return "yaml"
}

// WriteFile encodes m in the format its file name implies and writes it.
func WriteFile(path string, m proto.Message) error {
	data, err := Encode(m, FormatForPath(path))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func messageNode(m protoreflect.Message) *yaml.Node {
	md := m.Descriptor()
	if md.FullName() == "google.protobuf.Timestamp" {
		f := md.Fields()
		t := time.Unix(m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()).UTC()
		return scalarNode("!!str", t.Format(time.RFC3339Nano))
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	fields := md.Fields()
	ordered := make([]protoreflect.FieldDescriptor, 0, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); m.Has(fd) {
			ordered = append(ordered, fd)
		}
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].Number() < ordered[j].Number() })
	for _, fd := range ordered {
		n.Content = append(n.Content, scalarNode("!!str", string(fd.Name())), valueNode(fd, m.Get(fd)))
	}
	return n
}

func valueNode(fd protoreflect.FieldDescriptor, v protoreflect.Value) *yaml.Node {
	switch {
	case fd.IsList():
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			n.Content = append(n.Content, singleNode(fd, l.Get(i)))
		}
		return n
	case fd.IsMap():
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		type entry struct {
			k protoreflect.MapKey
			v protoreflect.Value
		}
		var entries []entry
		v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			entries = append(entries, entry{k, v})
			return true
		})
		sort.Slice(entries, func(i, j int) bool { return lessKey(entries[i].k, entries[j].k) })
		for _, e := range entries {
			n.Content = append(n.Content, scalarNode("!!str", e.k.String()), singleNode(fd.MapValue(), e.v))
		}
		return n
	}
	return singleNode(fd, v)
}

func lessKey(a, b protoreflect.MapKey) bool {
	switch a.Interface().(type) {
	case int32, int64:
		return a.Int() < b.Int()
	case uint32, uint64:
		return a.Uint() < b.Uint()
	case bool:
		return !a.Bool() && b.Bool()
	}
	return a.String() < b.String()
}

func singleNode(fd protoreflect.FieldDescriptor, v protoreflect.Value) *yaml.Node {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageNode(v.Message())
	case protoreflect.StringKind:
		return scalarNode("!!str", v.String())
	case protoreflect.BoolKind:
		return scalarNode("!!bool", strconv.FormatBool(v.Bool()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return scalarNode("!!str", string(ev.Name()))
		}
		return scalarNode("!!int", strconv.Itoa(int(v.Enum())))
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return floatNode(v.Float())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return scalarNode("!!int", strconv.FormatUint(v.Uint(), 10))
	case protoreflect.BytesKind:
		return scalarNode("!!binary", base64.StdEncoding.EncodeToString(v.Bytes()))
	}
	return scalarNode("!!int", strconv.FormatInt(v.Int(), 10))
}

func floatNode(f float64) *yaml.Node {
	switch {
	case math.IsNaN(f):
		return scalarNode("!!float", ".nan")
	case math.IsInf(f, 1):
		return scalarNode("!!float", ".inf")
	case math.IsInf(f, -1):
		return scalarNode("!!float", "-.inf")
	}
	// Plain notation for the usual magnitudes reads better than 1e+06.
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			// A whole number tagged !!float makes YAML print "!!float 1";
			// as an int it reads plainly and loads back as the same double.
			return scalarNode("!!int", s)
		}
		return scalarNode("!!float", s)
	}
	return scalarNode("!!float", strconv.FormatFloat(f, 'g', -1, 64))
}

// writeJSON renders the node tree that messageNode builds as indented JSON.
func writeJSON(b *bytes.Buffer, n *yaml.Node, indent string) {
	inner := indent + "  "
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			b.WriteString(inner)
			writeString(b, n.Content[i].Value)
			b.WriteString(": ")
			writeJSON(b, n.Content[i+1], inner)
			if i+2 < len(n.Content) {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, c := range n.Content {
			b.WriteString(inner)
			writeJSON(b, c, inner)
			if i+1 < len(n.Content) {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		switch n.Tag {
		case "!!int", "!!bool":
			b.WriteString(n.Value)
		case "!!float":
			switch n.Value {
			case ".nan":
				b.WriteString(`"NaN"`)
			case ".inf":
				b.WriteString(`"Infinity"`)
			case "-.inf":
				b.WriteString(`"-Infinity"`)
			default:
				b.WriteString(n.Value)
			}
		default:
			writeString(b, n.Value)
		}
	}
}

func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false) // URLs and headers read better unescaped
	_ = enc.Encode(s)        // encoding a string cannot fail
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}
