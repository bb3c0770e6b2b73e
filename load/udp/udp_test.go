package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

const testTimeout = 10 * time.Second

// server is a UDP server on 127.0.0.1 answering each datagram with what
// reply returns (nil: no answer). It stops at the end of the test.
type server struct {
	addr     string
	received atomic.Int64
	answered atomic.Int64
}

func startServer(t testing.TB, reply func(in []byte) []byte) *server {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: pc.LocalAddr().String()}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 70_000)
		for {
			n, addr, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			s.received.Add(1)
			if out := reply(buf[:n]); out != nil {
				s.answered.Add(1)
				pc.WriteToUDPAddrPort(out, addr)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return s
}

func echo(in []byte) []byte { return in }

func newDriver(t testing.TB, opts load.Options, cfg Config) *Driver {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	d, err := New(opts, cfg)
	if err != nil {
		t.Fatalf("New(%+v, %+v): %v", opts, cfg, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openConn(t testing.TB, d *Driver) load.Conn {
	t.Helper()
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func boolp(b bool) *bool { return &b }

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name, json string
		seq        *bool
		max        int
		err        string
	}{
		{name: "empty"},
		{name: "sequence off", json: `{"sequence": false}`, seq: boolp(false)},
		{name: "max", json: `{"max_response_bytes": 512}`, max: 512},
		{name: "unknown key", json: `{"seq": true}`, err: `unknown key "seq" (known keys: sequence, max_response_bytes)`},
		{name: "wrong type", json: `{"sequence": "yes"}`, err: "sequence: want a bool"},
		{name: "too large", json: `{"max_response_bytes": 70000}`, err: "from 1 to 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOptions(tc.json)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.Sequence == nil) != (tc.seq == nil) || got.Sequence != nil && *got.Sequence != *tc.seq || got.MaxResponseBytes != tc.max {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		opts load.Options
		err  string
	}{
		{name: "scheme", opts: load.Options{URL: "tcp://127.0.0.1:1"}, err: "unsupported URL scheme"},
		{name: "no port", opts: load.Options{URL: "udp://127.0.0.1"}, err: "needs a host and a port"},
		{name: "path", opts: load.Options{URL: "udp://127.0.0.1:1/x"}, err: "only udp://host:port"},
		{name: "headers", opts: load.Options{URL: "udp://127.0.0.1:1", Headers: map[string]string{"a": "b"}}, err: "no meaning"},
		{name: "TLS", opts: load.Options{URL: "udp://127.0.0.1:1", CAFile: "x"}, err: "not supported"},
		{name: "too large", opts: load.Options{URL: "udp://127.0.0.1:1", Body: make([]byte, 65530)}, err: "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The large body is too large only with the sequence number.
			d, err := New(tc.opts, Config{Sequence: boolp(true)})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, %v; want error containing %q", d, err, tc.err)
			}
		})
	}
}

func TestExchange(t *testing.T) {
	srv := startServer(t, echo)
	cases := []struct {
		name  string
		body  string
		cfg   Config
		bytes int64
	}{
		{name: "default payload, numbered", bytes: seqLen + int64(len(DefaultPayload))},
		{name: "default payload, not numbered", cfg: Config{Sequence: boolp(false)}, bytes: int64(len(DefaultPayload))},
		{name: "given payload", body: "ping", bytes: 4},
		{name: "given payload, numbered", body: "ping", cfg: Config{Sequence: boolp(true)}, bytes: seqLen + 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openConn(t, newDriver(t, load.Options{URL: "udp://" + srv.addr, Body: []byte(tc.body)}, tc.cfg))
			for i := range 3 {
				out, err := c.Do(context.Background())
				if err != nil || out != (load.Outcome{Bytes: tc.bytes}) {
					t.Fatalf("request %d: got %+v, %v; want %d bytes", i, out, err, tc.bytes)
				}
			}
		})
	}
}

// TestLateReply: a reply that comes after its request timed out is not
// taken for the next request's.
func TestLateReply(t *testing.T) {
	srv := startServer(t, func(in []byte) []byte {
		if binary.BigEndian.Uint64(in) == 1 {
			time.Sleep(150 * time.Millisecond)
		}
		return in
	})
	// Request 1 times out at 100ms; request 2, sent then, has until 200ms
	// and sees the late reply to 1 come first, at 150ms.
	c := openConn(t, newDriver(t, load.Options{URL: "udp://" + srv.addr, Timeout: 100 * time.Millisecond}, Config{}))
	if _, err := c.Do(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("first request: got %v, want it lost", err)
	}
	start := time.Now()
	out, err := c.Do(context.Background())
	if err != nil || out.Bytes != seqLen+int64(len(DefaultPayload)) {
		t.Fatalf("second request: got %+v, %v", out, err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Errorf("the second request took %v: it cannot have waited behind the first reply", el)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		reply  func([]byte) []byte // nil: nothing listens
		reason string
		is     error
	}{
		{name: "no reply", reply: func([]byte) []byte { return nil }, reason: load.ReasonLost, is: ErrLost},
		{name: "port unreachable", reason: load.ReasonConnectRefused, is: syscall.ECONNREFUSED},
		{name: "reply too long", reply: func([]byte) []byte { return make([]byte, 101) }, reason: load.ReasonOther},
		{name: "reply too short to be numbered", reply: func([]byte) []byte { return []byte("x") }, reason: load.ReasonLost, is: ErrLost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := closedPort(t)
			if tc.reply != nil {
				addr = startServer(t, tc.reply).addr
			}
			seq := tc.name == "reply too short to be numbered"
			c := openConn(t, newDriver(t, load.Options{URL: "udp://" + addr, Body: []byte("ping"), Timeout: 100 * time.Millisecond},
				Config{MaxResponseBytes: 100, Sequence: &seq}))
			start := time.Now()
			_, err := c.Do(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if load.Classify(err) != tc.reason || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q: reason %s, is %v: want %s, %v", err, load.Classify(err), errors.Is(err, tc.is), tc.reason, tc.is)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("took %v with a 100ms timeout", el)
			}
		})
	}
}

// TestLoss counts losses under a known drop rate: 5,000 requests at drop
// 0.1, every loss counted (and nothing else), as the server's own count
// of the datagrams it dropped says.
func TestLoss(t *testing.T) {
	const requests, workers, drop = 5000, 50, 0.1
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	var dropped atomic.Int64
	srv := startServer(t, func(in []byte) []byte {
		mu.Lock()
		lose := rng.Float64() < drop
		mu.Unlock()
		if lose {
			dropped.Add(1)
			return nil
		}
		return in
	})
	d := newDriver(t, load.Options{URL: "udp://" + srv.addr, Timeout: 100 * time.Millisecond}, Config{})
	var lost, ok, other atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		c := openConn(t, d)
		wg.Go(func() {
			for i := w; i < requests; i += workers {
				_, err := c.Do(context.Background())
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrLost):
					lost.Add(1)
				default:
					other.Add(1)
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	ratio, truth := float64(lost.Load())/requests, float64(dropped.Load())/requests
	t.Logf("lost %d of %d (%.4f); the server dropped %d (%.4f)", lost.Load(), requests, ratio, dropped.Load(), truth)
	if ratio < 0.08 || ratio > 0.12 || ratio-truth > 0.02 || truth-ratio > 0.02 {
		t.Errorf("loss ratio %.4f, want within 0.02 of the truth %.4f and within 0.08..0.12", ratio, truth)
	}
	if ok.Load()+lost.Load() != requests || srv.received.Load() != requests {
		t.Errorf("ok %d + lost %d, server received %d; want %d", ok.Load(), lost.Load(), srv.received.Load(), requests)
	}
}

func TestCancel(t *testing.T) {
	srv := startServer(t, func([]byte) []byte { return nil })
	c := openConn(t, newDriver(t, load.Options{URL: "udp://" + srv.addr}, Config{}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLost) {
		t.Errorf("got %v, want the cancellation and not a loss", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Do returned %v after the cancel", el)
	}
}

func TestClosed(t *testing.T) {
	srv := startServer(t, echo)
	d := newDriver(t, load.Options{URL: "udp://" + srv.addr}, Config{})
	c := openConn(t, d)
	c.Close()
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Error("Do on a closed Conn succeeded")
	}
	d.Close()
	if _, err := d.Open(context.Background()); err == nil {
		t.Error("Open on a closed Driver succeeded")
	}
}

func TestDoDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 100)
	// The server answers from its own buffer: AllocsPerRun counts the
	// whole process.
	srv := startServer(t, func(in []byte) []byte { return buf[:copy(buf, in)] })
	c := openConn(t, newDriver(t, load.Options{URL: "udp://" + srv.addr}, Config{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var failed error
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Do(ctx); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("Do allocated %v times per request, want 0", allocs)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
