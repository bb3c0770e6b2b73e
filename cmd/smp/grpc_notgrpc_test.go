package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// TestRunGRPCNotGRPC: smp run with a grpc:// URL without a method (the
// health check, whose descriptor is built in, so nothing is asked of the
// server while the run is planned) at a plain HTTP/2 server is bad input,
// found before the run starts.
func TestRunGRPCNotGRPC(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	srv := httptest.NewServer(h2c.NewHandler(hello, &http2.Server{}))
	t.Cleanup(srv.Close)

	code, stdout, stderr := smp(t, "run", "--qps", "10", "-d", "1s", "grpc://"+strings.TrimPrefix(srv.URL, "http://"))
	if code != exitBadInput {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBadInput, stdout, stderr)
	}
	t.Log(stderr)
	if strings.Contains(stdout, "requests") {
		t.Errorf("the run went ahead:\n%s", stdout)
	}
	for _, want := range []string{"does not speak gRPC", "HTTP/2 server", `"text/plain; charset=utf-8"`, "grpc.health.v1.Health/Check"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
