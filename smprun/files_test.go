package smprun

import (
	"errors"
	"strings"
	"testing"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
)

func TestFilesNeeded(t *testing.T) {
	type client = spec.PerformanceTestConfig_Client
	urls := func(n int) []string {
		u := make([]string, n)
		for i := range u {
			u[i] = "http://127.0.0.1:8080/"
		}
		return u
	}
	tests := []struct {
		name    string
		clients []*client
		want    uint64
		what    string
	}{
		{"default connections", []*client{{EndpointUrls: urls(1)}}, DefaultConnections + FileMargin, "-c 8"},
		{"one endpoint", []*client{{Connections: 100000, EndpointUrls: urls(1)}}, 100064, "-c 100000"},
		{"endpoints", []*client{{Connections: 100, EndpointUrls: urls(3)}}, 364, "-c 100 × 3 endpoints"},
		{"HTTP/1.1 streams are connections", []*client{{Connections: 10, Streams: 4, EndpointUrls: urls(2)}}, 144, "-c 10 × 4 streams × 2 endpoints"},
		{"HTTP/2 multiplexes", []*client{{Connections: 10, Streams: 4, Http2: true, EndpointUrls: urls(2)}}, 84, "-c 10 × 2 endpoints"},
		{"gRPC multiplexes", []*client{{Connections: 10, Streams: 4, EndpointUrls: []string{"grpc://127.0.0.1:8079"}}}, 74, "-c 10"},
		{"clients", []*client{{Connections: 1000, EndpointUrls: urls(2)}, {Connections: 500, EndpointUrls: urls(1)}}, 2564, "the test's 2 clients (2,500 connections in all)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, what := FilesNeeded(&spec.PerformanceTestConfig{Clients: tt.clients})
			if got != tt.want || what != tt.what {
				t.Errorf("FilesNeeded = %d, %q; want %d, %q", got, what, tt.want, tt.what)
			}
		})
	}
}

func TestCheckFiles(t *testing.T) {
	cfg := &spec.PerformanceTestConfig{Clients: []*spec.PerformanceTestConfig_Client{{Connections: 100000, EndpointUrls: []string{"http://127.0.0.1:8080/"}}}}
	err := CheckFiles(cfg, 65536)
	var fe *FileLimitError
	if !errors.As(err, &fe) || !errors.Is(err, load.ErrInvalid) || fe.Needed != 100064 || fe.Limit != 65536 {
		t.Fatalf("err = %v, want a FileLimitError of 100064 > 65536 that is invalid input", err)
	}
	want := "-c 100000 needs about 100,064 open files; this process may open 65,536 (ulimit -n); lower -c or raise the limit"
	if err.Error() != want {
		t.Errorf("message %q\nwant    %q", err, want)
	}
	for _, limit := range []uint64{0, 100064, 1 << 20} {
		if err := CheckFiles(cfg, limit); err != nil {
			t.Errorf("limit %d: %v", limit, err)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 65536: "65,536", 100064: "100,064", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if !strings.Contains((&FileLimitError{What: "-c 1", Needed: 1065, Limit: 1024}).Error(), "1,065") {
		t.Error("needed not formatted")
	}
}
