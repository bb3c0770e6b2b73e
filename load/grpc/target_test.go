package grpc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	smpgrpc "github.com/smp-project/smp/load/grpc"
	"github.com/smp-project/smp/target"
	targetpb "github.com/smp-project/smp/target/proto"
)

const testTimeout = 10 * time.Second

func startTarget(t *testing.T, cfg target.Config) *target.Server {
	t.Helper()
	if cfg.GRPC == "" {
		cfg.GRPC = "127.0.0.1:0"
	}
	srv, err := target.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func call(t *testing.T, opts load.Options) (load.Outcome, error) {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	d, err := smpgrpc.New(ctx, opts, smpgrpc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Open(ctx)
	if err != nil {
		return load.Outcome{}, err
	}
	defer c.Close()
	return c.Do(ctx)
}

// TestTarget calls smp target's Echo service, known to the driver only
// through the target's reflection service.
func TestTarget(t *testing.T) {
	srv := startTarget(t, target.Config{})
	base := "grpc://" + srv.Addrs().GRPC
	size := func(m proto.Message) int64 { return int64(proto.Size(m)) }
	cases := []struct {
		name    string
		url     string
		body    string
		headers map[string]string
		timeout time.Duration
		want    load.Outcome
		code    codes.Code // of an error
		is      error
	}{
		{name: "echo", url: base + "/smp.target.v1.Echo/Echo", body: `{"payload": "aGVsbG8="}`,
			headers: map[string]string{"x-smp-echo": "true"},
			want:    load.Outcome{Bytes: size(&targetpb.EchoResponse{Payload: []byte("hello")})}},
		{name: "size", url: base + "/smp.target.v1.Echo/Echo", headers: map[string]string{"x-smp-size": "1000"},
			want: load.Outcome{Bytes: size(&targetpb.EchoResponse{Payload: make([]byte, 1000)})}},
		{name: "stream", url: base + "/smp.target.v1.Echo/Stream", body: `{"count": 4}`, headers: map[string]string{"x-smp-size": "10"},
			want: load.Outcome{Bytes: 4 * size(&targetpb.EchoResponse{Payload: make([]byte, 10)})}},
		{name: "health", url: base, want: load.Outcome{Bytes: 2}},
		{name: "unavailable", url: base + "/smp.target.v1.Echo/Echo", headers: map[string]string{"x-smp-status": "503"},
			want: load.Outcome{Code: int(codes.Unavailable), Failed: true}},
		{name: "invalid argument", url: base + "/smp.target.v1.Echo/Stream", body: `{"count": 2000000}`,
			want: load.Outcome{Code: int(codes.InvalidArgument), Failed: true}},
		{name: "deadline", url: base + "/smp.target.v1.Echo/Echo", headers: map[string]string{"x-smp-delay": "2s"},
			timeout: 100 * time.Millisecond, code: codes.DeadlineExceeded, is: context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := call(t, load.Options{URL: tc.url, Body: []byte(tc.body), Headers: tc.headers, Timeout: tc.timeout})
			if tc.code == codes.OK {
				if err != nil || out != tc.want {
					t.Fatalf("got %+v, %v; want %+v", out, err, tc.want)
				}
				return
			}
			if status.Code(err) != tc.code || !errors.Is(err, tc.is) {
				t.Fatalf("got %+v, %v; want an error with code %s", out, err, tc.code)
			}
		})
	}
}

// TestTargetRejects: calls beyond the target's capacity are rejected with
// UNAVAILABLE, a status the server sends, so an outcome.
func TestTargetRejects(t *testing.T) {
	// The slow call holds the only slot long enough for a second call,
	// with a driver of its own, to arrive under the race detector on a
	// busy machine.
	d, err := target.ParseDelay("2s")
	if err != nil {
		t.Fatal(err)
	}
	srv := startTarget(t, target.Config{Capacity: 1, Defaults: target.Behavior{Delay: d}})
	url := "grpc://" + srv.Addrs().GRPC + "/smp.target.v1.Echo/Echo"
	done := make(chan error, 1)
	go func() {
		_, err := call(t, load.Options{URL: url})
		done <- err
	}()
	// The second call goes once the slow one holds the slot.
	for i := 0; srv.Stats().InFlight == 0; i++ {
		if i == 1000 {
			t.Fatal("the slow call never reached the target")
		}
		time.Sleep(5 * time.Millisecond)
	}
	out, err := call(t, load.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if out != (load.Outcome{Code: int(codes.Unavailable), Failed: true}) {
		t.Errorf("got %+v, want UNAVAILABLE", out)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestTargetReconnect: when the target closes its connections, grpc-go
// reconnects the channel, and Outcome.Connect reports that reconnect once,
// on the call that waited for it; calls on the connection kept report none.
// A call that may have reached the target is never made again: the target
// counts exactly the calls that succeeded.
func TestTargetReconnect(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "TLS"}[useTLS], func(t *testing.T) {
			srv := startTarget(t, target.Config{TLS: useTLS})
			opts := load.Options{URL: "grpc://" + srv.Addrs().GRPC + "/smp.target.v1.Echo/Echo", Timeout: testTimeout}
			if useTLS {
				opts.URL = "grpcs://" + srv.Addrs().GRPC + "/smp.target.v1.Echo/Echo"
				opts.InsecureSkipVerify = true
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d, err := smpgrpc.New(ctx, opts, smpgrpc.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c, err := d.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var ok uint64
			do := func() (load.Outcome, error) {
				out, err := c.Do(ctx)
				if err == nil && !out.Failed {
					ok++
				}
				return out, err
			}
			if out, err := do(); err != nil || out.Failed || out.Connect != 0 {
				t.Fatalf("first call, on Open's connection: %+v, %v", out, err)
			}
			const rounds = 3
			for r := range rounds {
				srv.CloseConnections()
				// The call after the close waits for the reconnect, or,
				// if it raced the close, fails; bounded either way.
				var connect time.Duration
				var out load.Outcome
				reports := 0
				for try := 0; ; try++ {
					out, err = do()
					connect += out.Connect
					if out.Connect > 0 {
						reports++
					}
					if err == nil && !out.Failed {
						break
					}
					if try == 5 {
						t.Fatalf("round %d: no successful call after the close: %+v, %v", r, out, err)
					}
					t.Logf("round %d: call after the close: %v", r, err)
				}
				if connect <= 0 || reports != 1 {
					t.Errorf("round %d: %d calls reported the reconnect (%v in all), want 1", r, reports, connect)
				}
				if out, err := do(); err != nil || out.Failed || out.Connect != 0 {
					t.Errorf("round %d: call on the new connection: %+v, %v; want no connect time", r, out, err)
				}
			}
			if got := srv.Stats().Requests["grpc"]["OK"]; got != ok {
				t.Errorf("the target answered %d calls OK, smp counted %d", got, ok)
			}
		})
	}
}

func TestTargetTLS(t *testing.T) {
	srv := startTarget(t, target.Config{TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := call(t, load.Options{URL: "grpcs://" + srv.Addrs().GRPC + "/smp.target.v1.Echo/Echo", CAFile: ca})
	if err != nil || out.Failed {
		t.Fatalf("got %+v, %v", out, err)
	}
}

// runEngine runs the engine at rate against url for d.
func runEngine(t *testing.T, url, body string, rate float64, conns, streams int, d time.Duration) load.Figures {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	drv, err := smpgrpc.New(ctx, load.Options{URL: url, Body: []byte(body), Streams: streams, Timeout: testTimeout}, smpgrpc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	p, err := load.NewConstant(rate)
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Config{
		Clients: []load.Client{{Connections: conns, Streams: streams, Pacer: p,
			Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

func TestAccuracyGRPCRate(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	srv := startTarget(t, target.Config{})
	f := runEngine(t, "grpc://"+srv.Addrs().GRPC+"/smp.target.v1.Echo/Echo", `{"payload": "aGk="}`, 1000, 4, 2, 3*time.Second)
	if f.ActualQPS < 990 || f.ActualQPS > 1010 {
		t.Errorf("actual qps %.1f, want 1000 ± 1%%", f.ActualQPS)
	}
	if f.Requests < 2970 || f.Requests > 3030 || f.Errors != 0 {
		t.Errorf("requests %d errors %d (%v), want 3000 ± 1%% and 0", f.Requests, f.Errors, f.ErrorReasons)
	}
	t.Logf("actual %.2f/s, %d requests, lateness p99 %v, p50 %v, p99 %v",
		f.ActualQPS, f.Requests, f.Lateness.Percentile(99), f.Latency.Percentile(50), f.Latency.Percentile(99))
}

func TestAccuracyGRPCDelay(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	d, err := target.ParseDelay("5ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := startTarget(t, target.Config{Defaults: target.Behavior{Delay: d}})
	f := runEngine(t, "grpc://"+srv.Addrs().GRPC+"/smp.target.v1.Echo/Echo", "", 500, 4, 2, 2*time.Second)
	if p50 := f.Latency.Percentile(50); p50 < 5*time.Millisecond || p50 > 6*time.Millisecond {
		t.Errorf("p50 %v, want 5 ms + at most 1 ms", p50)
	}
	if f.Errors != 0 {
		t.Errorf("%d errors: %v", f.Errors, f.ErrorReasons)
	}
	t.Logf("p50 %v, p99 %v", f.Latency.Percentile(50), f.Latency.Percentile(99))
}
