package grpc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"

	"github.com/smp-project/smp/load"
)

// runCalls makes perConn calls on each of n Conns of d at once, and
// returns the outcomes that succeeded and the errors.
func runCalls(t *testing.T, d *Driver, n, perConn int) (ok int64, errs []error) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		c := openConn(t, d)
		wg.Go(func() {
			for range perConn {
				out, err := c.Do(context.Background())
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case out.Failed:
					errs = append(errs, fmt.Errorf("status %d", out.Code))
				default:
					ok++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, errs
}

// TestGRPCServerGoAway: a grpc-go server whose connections live 150 ms
// (MaxConnectionAge) sends GOAWAY in the middle of the run, again and
// again. Calls move to new connections; none fails, since grpc-go's
// GOAWAY lets the calls in flight finish; the server and the client count
// the same calls.
func TestGRPCServerGoAway(t *testing.T) {
	s := startLab(t, labOptions{health: true, server: []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: 150 * time.Millisecond, MaxConnectionAgeGrace: testTimeout}),
	}})
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Streams: 4, Body: []byte(`{"delay": "0.002s"}`)},
		Config{Protos: StringList{labProtoPath(t)}})
	var ok int64
	var errs []error
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		o, e := runCalls(t, d, 4, 20)
		ok += o
		errs = append(errs, e...)
	}
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	if got := s.calls.Load(); got != ok+1 { // + New's check
		t.Errorf("the server saw %d calls, smp %d answered (+1 for New's)", got, ok)
	}
	if c := s.conns.Load(); c < 3 {
		t.Errorf("%d connections in a second of 150 ms connections: the GOAWAYs did not move the calls", c)
	}
	t.Logf("%d calls on %d connections", ok, s.conns.Load())
}

// TestGRPCServerStreamLimit: a grpc-go server that allows 2 concurrent
// streams a connection, with 8 Conns on one: never more than 2 calls are
// in flight at the server, none fails.
func TestGRPCServerStreamLimit(t *testing.T) {
	s := startLab(t, labOptions{health: true, server: []grpc.ServerOption{grpc.MaxConcurrentStreams(2)}})
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Streams: 8, Body: []byte(`{"delay": "0.002s"}`)},
		Config{Protos: StringList{labProtoPath(t)}})
	ok, errs := runCalls(t, d, 8, 10)
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	s.mu.Lock()
	maxFlight := s.maxFlight
	s.mu.Unlock()
	if ok != 80 || maxFlight != 2 {
		t.Errorf("%d calls answered with at most %d in flight; want 80, and the limit of 2 reached", ok, maxFlight)
	}
}

// TestGRPCSmallWindow: a grpc-go server with the smallest windows it allows
// (64 KiB a stream and a connection, no window growth): requests of 300 KiB
// from 3 Conns sharing a connection arrive whole, and 1 MiB responses are
// read whole, counted as the message's size.
func TestGRPCSmallWindow(t *testing.T) {
	s := startLab(t, labOptions{health: true, server: []grpc.ServerOption{
		grpc.InitialWindowSize(64 << 10), grpc.InitialConnWindowSize(64 << 10),
	}})
	files, protoPath := labFiles(t, t.TempDir())
	name := strings.Repeat("n", 300<<10)
	body := fmt.Sprintf(`{"name": %q, "size": %d}`, name, 1<<20)
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Streams: 3, Body: []byte(body)},
		Config{Protos: StringList{protoPath}})
	want := labRespSize(t, files, 1<<20)
	var wg sync.WaitGroup
	for range 3 {
		c := openConn(t, d)
		wg.Go(func() {
			for range 3 {
				if out, err := c.Do(context.Background()); err != nil || out.Failed || out.Bytes != want {
					t.Errorf("%+v, %v; want OK and %d bytes", out, err, want)
				}
			}
		})
	}
	wg.Wait()
	req, _ := s.lastRequest()
	if got := req.Get(req.Descriptor().Fields().ByName("name")).String(); got != name {
		t.Errorf("the server received a name of %d bytes, want %d", len(got), len(name))
	}
}

// TestGRPCTooLarge: a response message over max_recv_msg_bytes fails the
// call with RESOURCE_EXHAUSTED, as grpc-go's client does, and the
// connection carries on.
func TestGRPCTooLarge(t *testing.T) {
	s := startLab(t, labOptions{health: true})
	protoPath := labProtoPath(t)
	big := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Body: []byte(`{"size": 5000}`)},
		Config{Protos: StringList{protoPath}, MaxRecvMsgBytes: 1000})
	c := openConn(t, big)
	for range 2 {
		_, err := c.Do(context.Background())
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != codes.ResourceExhausted {
			t.Errorf("got %v, want RESOURCE_EXHAUSTED", err)
		}
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("%d connections, want 1: a message too large resets its stream only", got)
	}
}

// TestMetadataOnTheWire: -bin metadata goes base64 without padding, as
// gRPC's wire format says, and arrives as the bytes given.
func TestMetadataOnTheWire(t *testing.T) {
	s := startLab(t, labOptions{health: true})
	val := []byte{0xff, 0, 1}
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary,
		Headers: map[string]string{"x-raw-bin": base64.StdEncoding.EncodeToString(val)}}, Config{Protos: StringList{labProtoPath(t)}})
	if out, err := openConn(t, d).Do(context.Background()); err != nil || out.Failed {
		t.Fatalf("%+v, %v", out, err)
	}
	_, md := s.lastRequest()
	if got := md.Get("x-raw-bin"); len(got) != 1 || got[0] != string(val) {
		t.Errorf("server got x-raw-bin %q, want %q", got, val)
	}
}

// labProtoPath writes the Lab service's .proto and returns its path.
func labProtoPath(t *testing.T) string {
	_, p := labFiles(t, t.TempDir())
	return p
}
