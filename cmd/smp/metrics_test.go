package main

import (
	"net"
	"strings"
	"testing"
)

// --metrics-addr that cannot be bound is bad input, found before the run.
func TestRunMetricsAddr(t *testing.T) {
	url := runTarget(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{"nope", "127.0.0.1:99999", busy.Addr().String()} {
		code, stdout, stderr := smp(t, "run", "--qps", "10", "-d", "1s", "--metrics-addr", addr, url)
		if code != exitBadInput || !strings.Contains(stderr, "--metrics-addr") {
			t.Errorf("%s: exit %d, want %d\n%s", addr, code, exitBadInput, stderr)
		}
		if strings.Contains(stdout, "requests") {
			t.Errorf("%s: the run went ahead:\n%s", addr, stdout)
		}
	}
	code, stdout, stderr := smp(t, "run", "--qps", "20", "-d", "1s", "-q", "--metrics-addr", "127.0.0.1:0", url)
	if code != 0 || !strings.Contains(stderr, "live metrics at http://127.0.0.1:") || !strings.Contains(stdout, "requests") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
