package tcp

import "testing"

// FuzzParseOptions: additional_options come from documents users write;
// any input gives a Config or an error, never a panic.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"", "null", `{"response_bytes": 0}`, `{"delimiter": "\\n", "max_response_bytes": 10}`, `{"connection_per_request": true, "linger_zero": true}`, `{"response_bytes": -1}`, `[1]`, `{"x": 1}`} {
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
