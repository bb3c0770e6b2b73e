package grpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smp-project/smp/load"
)

// Config holds the gRPC options that load.Options has no field for; they
// come from additional_options (see the package documentation for the JSON
// keys). The zero value finds descriptors by reflection.
type Config struct {
	// Protosets are FileDescriptorSet files to take descriptors from.
	Protosets StringList `json:"protoset,omitempty"`
	// Protos are .proto source files, compiled at New; ImportPaths are
	// where their imports are found (default: each file's directory).
	Protos      StringList `json:"proto,omitempty"`
	ImportPaths StringList `json:"import_paths,omitempty"`
	// Authority overrides the :authority of every call.
	Authority string `json:"authority,omitempty"`
	// ServerName is the name the server's certificate is verified against
	// (and the SNI), when it is not the URL's host.
	ServerName string `json:"server_name,omitempty"`
	// MaxRecvMsgBytes bounds a response message; 0 means 64 MiB.
	MaxRecvMsgBytes int `json:"max_recv_msg_bytes,omitempty"`
}

// StringList is a list of strings that JSON may also give as one string.
type StringList []string

// UnmarshalJSON accepts "a" as well as ["a", "b"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = many
	return nil
}

// optionKeys lists the JSON keys of Config, for messages.
const optionKeys = "protoset, proto, import_paths, authority, server_name, max_recv_msg_bytes"

// ParseOptions reads the gRPC options from the JSON object of an SMP
// config's additional_options; "" or "null" means none.
func ParseOptions(additionalOptionsJSON string) (Config, error) {
	var cfg Config
	if err := load.DecodeOptions(additionalOptionsJSON, &cfg, optionKeys); err != nil {
		return Config{}, fmt.Errorf("grpc: %w", err)
	}
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c *Config) check() error {
	if c.MaxRecvMsgBytes < 0 {
		return fmt.Errorf("grpc: max_recv_msg_bytes %d must not be negative", c.MaxRecvMsgBytes)
	}
	for _, l := range []struct {
		key  string
		list StringList
	}{{"protoset", c.Protosets}, {"proto", c.Protos}, {"import_paths", c.ImportPaths}} {
		for _, s := range l.list {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("grpc: %s: empty file name", l.key)
			}
		}
	}
	if len(c.ImportPaths) > 0 && len(c.Protos) == 0 {
		return errors.New("grpc: import_paths is given without proto files")
	}
	if strings.ContainsAny(c.Authority, " \t\r\n/") {
		return fmt.Errorf("grpc: authority %q is not a host[:port]", c.Authority)
	}
	return nil
}

// compactJSON is for messages quoting a JSON value.
func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}
