package http2

import (
	"context"
	"testing"

	"github.com/smp-project/smp/load"
)

// TestDoDoesNotAllocate: in the steady state a request allocates nothing,
// with one stream on a connection and with several sharing it, with and
// without a request body. The server allocates nothing per request either
// (cannedH2Server), so the count is the client's.
func TestDoDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	addr := cannedH2Server(t, benchBody)
	for _, tc := range []struct {
		name    string
		streams int
		body    []byte
	}{
		{"GET, one stream", 1, nil},
		{"POST, one stream", 1, []byte(`{"k":"v"}`)},
		{"GET, 8 streams on a connection", 8, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, load.Options{URL: "http://" + addr + "/", Streams: tc.streams, Body: tc.body})
			conns := make([]load.Conn, tc.streams)
			for i := range conns {
				conns[i] = openConn(t, d)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			do := func(c load.Conn) {
				if out, err := c.Do(ctx); err != nil || out.Bytes != int64(len(benchBody)) {
					t.Errorf("%+v, %v", out, err)
				}
			}
			// Warm up: the first responses fill the HPACK table and the
			// buffers grow to their working size.
			for range 100 {
				for _, c := range conns {
					do(c)
				}
			}
			// The other streams run concurrently with the first, each on
			// a goroutine of its own started once: starting goroutines
			// would allocate.
			start, done := make(chan struct{}), make(chan struct{})
			for _, c := range conns[1:] {
				go func() {
					for range start {
						do(c)
						done <- struct{}{}
					}
				}()
			}
			defer close(start)
			allocs := testing.AllocsPerRun(500, func() {
				for range conns[1:] {
					start <- struct{}{}
				}
				do(conns[0])
				for range conns[1:] {
					<-done
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per %d requests", allocs, tc.streams)
			}
		})
	}
}
