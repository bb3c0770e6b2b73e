package grpc

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzParseOptions: additional_options come from documents users write;
// any input gives a Config or an error, never a panic.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"", "null", `{"protoset": "a"}`, `{"proto": ["a", "b"], "import_paths": ["c"]}`,
		`{"max_recv_msg_bytes": -1}`, `{"authority": "a b"}`, `[1]`, `{"x": 1}`, `{} {}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if cfg, err := ParseOptions(s); err == nil {
			if err := cfg.check(); err != nil {
				t.Errorf("ParseOptions(%q) accepted a Config that check rejects: %v", s, err)
			}
		}
	})
}

// FuzzEncodeRequest: the request body is outside input walked by hand when
// it does not fit; any body is encoded or explained, never a panic.
func FuzzEncodeRequest(f *testing.F) {
	files, _ := labFiles(f, f.TempDir())
	d, err := files.FindDescriptorByName("smptest.lab.v1.Req")
	if err != nil {
		f.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	for _, s := range []string{labRequest, `{}`, `[]`, `{"items": [1]}`, `{"byKey": {"a": 1}}`, `{"byKey": []}`,
		`{"inner": {"tags": {"a": 1}}}`, `{"delay": {}}`, `{"items": [{"count": "x"}], "name": 1}`, `{"name": "\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := encodeRequest(md, body, files); err != nil && err.Error() == "" {
			t.Error("an error without a message")
		}
	})
}
