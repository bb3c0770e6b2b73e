package grpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// encodeRequest turns the JSON request into the wire form of a message of
// type md. An empty body is an empty message.
func encodeRequest(md protoreflect.MessageDescriptor, body []byte, files *protoregistry.Files) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if len(bytes.TrimSpace(body)) > 0 {
		uo := protojson.UnmarshalOptions{Resolver: dynamicpb.NewTypes(files)}
		if err := uo.Unmarshal(body, msg); err != nil {
			return nil, fmt.Errorf("grpc: the request body does not fit message %s: %s", md.FullName(), explainJSON(md, body, uo, err))
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("grpc: encode request %s: %w", md.FullName(), err)
	}
	return b, nil
}

// explainJSON says where in the body the JSON went wrong, as a field path
// ("inner.items[2].count"): protojson names only the innermost field.
func explainJSON(md protoreflect.MessageDescriptor, body []byte, uo protojson.UnmarshalOptions, err error) string {
	var v any
	if jerr := json.Unmarshal(body, &v); jerr != nil {
		return "not valid JSON: " + jerr.Error()
	}
	if path, why := findBadField(md, body, "", uo); path != "" {
		return "field " + path + ": " + why
	}
	return cleanProtoJSON(err)
}

var protojsonPrefix = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?|\s*\(line \d+:\d+\)`)

// cleanProtoJSON drops protojson's prefix and line positions, which refer
// to the one-field documents findBadField builds.
func cleanProtoJSON(err error) string {
	// protojson's errors use no-break spaces, to keep people from
	// matching them; these are messages for people.
	s := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	return strings.TrimSpace(protojsonPrefix.ReplaceAllString(s, ""))
}

// findBadField walks the JSON object raw along message md and returns the
// path of the first field whose value protojson rejects, and why; "" when
// every field is fine on its own.
func findBadField(md protoreflect.MessageDescriptor, raw []byte, path string, uo protojson.UnmarshalOptions) (string, string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		where := path
		if where == "" {
			where = "(top level)"
		}
		return where, fmt.Sprintf("want a JSON object for message %s, got %s", md.FullName(), shorten(raw))
	}
	fields := md.Fields()
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		val := obj[key]
		p := joinPath(path, key)
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			return p, fmt.Sprintf("no such field in %s; its fields: %s", md.FullName(), listFields(md))
		}
		if string(bytes.TrimSpace(val)) == "null" {
			continue
		}
		test := func(v []byte) string {
			doc := append(append([]byte(`{`+strconv.Quote(key)+`:`), v...), '}')
			if err := uo.Unmarshal(doc, dynamicpb.NewMessage(md)); err != nil {
				return cleanProtoJSON(err)
			}
			return ""
		}
		nested := func(d protoreflect.FieldDescriptor) bool {
			return d.Kind() == protoreflect.MessageKind && !specialJSON(d.Message())
		}
		switch {
		case fd.IsMap():
			var m map[string]json.RawMessage
			if json.Unmarshal(val, &m) != nil || m == nil {
				break // test reports it
			}
			for _, k := range slices.Sorted(maps.Keys(m)) {
				ep := p + "[" + strconv.Quote(k) + "]"
				if nested(fd.MapValue()) {
					if bp, why := findBadField(fd.MapValue().Message(), m[k], ep, uo); bp != "" {
						return bp, why
					}
				}
				one, _ := json.Marshal(map[string]json.RawMessage{k: m[k]})
				if why := test(one); why != "" {
					return ep, why
				}
			}
		case fd.IsList():
			var l []json.RawMessage
			if json.Unmarshal(val, &l) != nil {
				break
			}
			for i, e := range l {
				ep := p + "[" + strconv.Itoa(i) + "]"
				if nested(fd) {
					if bp, why := findBadField(fd.Message(), e, ep, uo); bp != "" {
						return bp, why
					}
				}
				if why := test(append(append([]byte{'['}, e...), ']')); why != "" {
					return ep, why
				}
			}
		case nested(fd):
			if bp, why := findBadField(fd.Message(), val, p, uo); bp != "" {
				return bp, why
			}
		}
		if why := test(val); why != "" {
			return p, why
		}
	}
	return "", ""
}

// specialJSON reports whether md is a well-known type with its own JSON
// form (a Timestamp is a string, a Struct any object...), which is checked
// as a whole rather than field by field.
func specialJSON(md protoreflect.MessageDescriptor) bool {
	return md.FullName().Parent() == "google.protobuf"
}

func listFields(md protoreflect.MessageDescriptor) string {
	fields := md.Fields()
	if fields.Len() == 0 {
		return "none"
	}
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = fields.Get(i).JSONName()
	}
	return strings.Join(names, ", ")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func shorten(raw []byte) string {
	s := compactJSON(raw)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
