package main

import (
	"net"
	"strings"
	"testing"
)

// TestTargetBadInput checks that every kind of bad target flag exits 2
// with the flag named, before anything listens.
func TestTargetBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed delay", []string{"--http", "127.0.0.1:0", "--delay", "2 ms"}, []string{"--delay", "not a duration"}},
		{"unknown distribution", []string{"--http", "127.0.0.1:0", "--delay", "gamma:2ms"}, []string{"--delay"}},
		{"negative size", []string{"--http", "127.0.0.1:0", "--size", "-1"}, []string{"--size"}},
		{"bad status", []string{"--http", "127.0.0.1:0", "--status", "42"}, []string{"--status"}},
		{"bad error probability", []string{"--http", "127.0.0.1:0", "--error", "1.5"}, []string{"--error"}},
		{"port in use", []string{"--http", busy.Addr().String()}, []string{busy.Addr().String()}},
		{"negative timeout", []string{"--http", "127.0.0.1:0", "--write-timeout", "-1s"}, []string{"--write-timeout", "positive"}},
		{"zero streams", []string{"--http", "127.0.0.1:0", "--max-streams", "0"}, []string{"--max-streams"}},
		{"huge echo", []string{"--http", "127.0.0.1:0", "--max-echo", "2000000000"}, []string{"--max-echo"}},
		{"negative budget", []string{"--http", "127.0.0.1:0", "--max-inflight-bytes", "-5"}, []string{"--max-inflight-bytes"}},
		{"short control token", []string{"--http", "127.0.0.1:0", "--control", "--control-token", "short"}, []string{"--control-token", "at least 16"}},
		{"control token without control", []string{"--http", "127.0.0.1:0", "--control-token", "0123456789abcdef"}, []string{"--control-token", "without --control"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := smp(t, append([]string{"target"}, tc.args...)...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
