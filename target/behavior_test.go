package target

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestBehaviorSet(t *testing.T) {
	tests := []struct {
		name, value string
		check       func(Behavior) bool
		errHas      string
	}{
		{"delay", "exp:1ms", func(b Behavior) bool { return b.Delay.String() == "exp:1ms" }, ""},
		{"size", "1024", func(b Behavior) bool { return b.Size == 1024 }, ""},
		{"size", " 0 ", func(b Behavior) bool { return b.Size == 0 }, ""},
		{"status", "503", func(b Behavior) bool { return b.Status == 503 }, ""},
		{"error", "0.25", func(b Behavior) bool { return b.ErrorRate == 0.25 && !b.Reset }, ""},
		{"error", "reset:1", func(b Behavior) bool { return b.ErrorRate == 1 && b.Reset }, ""},
		{"error", "RESET: 0.5", func(b Behavior) bool { return b.ErrorRate == 0.5 && b.Reset }, ""},
		{"echo", "", func(b Behavior) bool { return b.Echo }, ""},
		{"echo", "true", func(b Behavior) bool { return b.Echo }, ""},
		{"echo", "0", func(b Behavior) bool { return !b.Echo }, ""},
		{"size", "-1", nil, "from 0 to"},
		{"size", "1k", nil, "whole number"},
		{"size", "2147483648", nil, "from 0 to"},
		{"status", "99", nil, "200 to 599"},
		{"status", "600", nil, "200 to 599"},
		{"status", "ok", nil, "200 to 599"},
		{"error", "1.5", nil, "from 0 to 1"},
		{"error", "NaN", nil, "from 0 to 1"},
		{"error", "drop:0.1", nil, `unknown error kind "drop"`},
		{"echo", "maybe", nil, "true or false"},
		{"delay", "soon", nil, "not a duration"},
		{"speed", "1", nil, "unknown parameter"},
	}
	for _, tt := range tests {
		var b Behavior
		err := b.Set(tt.name, tt.value)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Set(%q, %q) = %v, want error mentioning %q", tt.name, tt.value, err, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("Set(%q, %q): %v", tt.name, tt.value, err)
			continue
		}
		if !tt.check(b) {
			t.Errorf("Set(%q, %q) gave %+v", tt.name, tt.value, b)
		}
		if err := b.Validate(); err != nil {
			t.Errorf("Set(%q, %q) gave an invalid behaviour: %v", tt.name, tt.value, err)
		}
	}
}

func TestBehaviorJSON(t *testing.T) {
	d, _ := ParseDelay("lognormal:1ms,5ms")
	in := Behavior{Delay: d, Size: 10, Status: 201, ErrorRate: 0.1, Reset: true, Echo: true}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"delay":"lognormal:1ms,5ms","size":10,"status":201,"error":"reset:0.1","echo":true}`
	if string(data) != want {
		t.Errorf("Marshal = %s, want %s", data, want)
	}
	var out Behavior
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Delay.String() != in.Delay.String() || out.Size != 10 || out.Status != 201 || out.ErrorRate != 0.1 || !out.Reset || !out.Echo {
		t.Errorf("round trip gave %+v", out)
	}
	// Partial documents keep what they leave out; error may be a number.
	out = Behavior{Size: 3, Delay: FixedDelay(time.Millisecond)}
	if err := json.Unmarshal([]byte(`{"error":0.5}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.Size != 3 || out.ErrorRate != 0.5 || out.Delay.String() != "1ms" {
		t.Errorf("partial gave %+v", out)
	}
	for _, bad := range []string{`{"size":-1}`, `{"delay":"x"}`, `{"error":"2"}`, `[1]`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestApplyQuery(t *testing.T) {
	tests := []struct {
		query, unknown string
		size           int
		errHas         string
	}{
		{"size=5", "", 5, ""},
		{"size=5&size=6", "", 6, ""},
		{"&&size=5&=x&", "", 5, ""},
		{"siz%65=7", "", 7, ""},
		{"a=1&b&a=2", "a,b", 0, ""},
		{"size=%zz", "", 0, "bad escape"},
		{"%zz=1", "", 0, "bad escape"},
	}
	for _, tt := range tests {
		var b Behavior
		var u unknownList
		err := applyQuery(&b, tt.query, &u)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%q: %v, want error mentioning %q", tt.query, err, tt.errHas)
			}
			continue
		}
		if err != nil || b.Size != tt.size || u.String() != tt.unknown {
			t.Errorf("%q: size %d unknown %q err %v; want %d %q", tt.query, b.Size, u.String(), err, tt.size, tt.unknown)
		}
	}
	// The unknown list is bounded.
	var u unknownList
	var b Behavior
	var q strings.Builder
	for i := range 40 {
		q.WriteString("p" + strings.Repeat("q", i) + "=1&")
	}
	_ = applyQuery(&b, q.String(), &u)
	if len(u) != maxUnknown {
		t.Errorf("%d unknown names kept, want %d", len(u), maxUnknown)
	}
}
