package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/target"
)

// Tests of Conns sharing a socket (Options.Streams > 1).

// startEcho starts the built-in target with a UDP echo listener.
func startEcho(t testing.TB, cfg target.Config) *target.Server {
	t.Helper()
	cfg.UDP = "127.0.0.1:0"
	srv, err := target.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// openConns opens n Conns of d, in order.
func openConns(t testing.TB, d *Driver, n int) []*Conn {
	t.Helper()
	conns := make([]*Conn, n)
	for i := range conns {
		conns[i] = openConn(t, d).(*Conn)
	}
	return conns
}

var echoBytes = int64(seqLen + len(DefaultPayload))

// TestSharedSocket: Streams Conns share a socket, the next Streams the
// next one, and many Conns used at once from as many goroutines all get
// their replies, with no reply left over.
func TestSharedSocket(t *testing.T) {
	const streams, sockets, requests = 16, 3, 200
	srv := startEcho(t, target.Config{})
	d := newDriver(t, load.Options{URL: "udp://" + srv.Addrs().UDP, Streams: streams}, Config{})
	conns := openConns(t, d, streams*sockets)
	ports := map[string]bool{}
	for i, c := range conns {
		if c.g != conns[i/streams*streams].g || c.place != uint64(i%streams) {
			t.Fatalf("Conn %d: group %p place %d, want the group of Conn %d and place %d", i, c.g, c.place, i/streams*streams, i%streams)
		}
		ports[c.g.nc.LocalAddr().String()] = true
	}
	if len(ports) != sockets {
		t.Fatalf("%d Conns with %d streams use %d local ports, want %d", len(conns), streams, len(ports), sockets)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for i := range requests {
				out, err := c.Do(context.Background())
				if err != nil || out != (load.Outcome{Bytes: echoBytes}) {
					t.Errorf("Conn %d request %d: got %+v, %v", c.place, i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := 0; i < len(conns); i += streams {
		if n := conns[i].g.discarded.Load(); n != 0 {
			t.Errorf("socket %d discarded %d datagrams", i/streams, n)
		}
	}
	if got := srv.Stats().Requests["udp"]["ok"]; got != uint64(len(conns)*requests) {
		t.Errorf("the target echoed %d datagrams, want %d", got, len(conns)*requests)
	}
}

// TestRepliesMatched: replies that come back out of order, each of a
// length of its own, reach the Conns that sent their requests.
func TestRepliesMatched(t *testing.T) {
	const streams, conns, requests = 8, 16, 100
	// The reply to request s is its 8 bytes of sequence number and
	// s%61 bytes more; the server answers in batches, in reverse order.
	replyLen := func(seq uint64) int64 { return seqLen + int64(seq%61) }
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	wg.Go(func() {
		type held struct {
			seq  uint64
			addr *net.UDPAddr
		}
		var batch []held
		buf := make([]byte, 100)
		out := make([]byte, 100)
		for {
			pc.SetReadDeadline(time.Now().Add(time.Millisecond))
			n, addr, err := pc.ReadFromUDP(buf)
			if err == nil && n >= seqLen {
				batch = append(batch, held{binary.BigEndian.Uint64(buf), addr})
			}
			if len(batch) >= 5 || err != nil && len(batch) > 0 {
				for _, h := range slices.Backward(batch) {
					binary.BigEndian.PutUint64(out, h.seq)
					pc.WriteToUDP(out[:replyLen(h.seq)], h.addr)
				}
				batch = batch[:0]
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
		}
	})
	d := newDriver(t, load.Options{URL: "udp://" + pc.LocalAddr().String(), Streams: streams}, Config{})
	var cwg sync.WaitGroup
	for _, c := range openConns(t, d, conns) {
		cwg.Go(func() {
			for i := range requests {
				out, err := c.Do(context.Background())
				seq := c.n*c.size + c.place
				if err != nil || out.Bytes != replyLen(seq) {
					t.Errorf("Conn %d request %d (sequence %d): got %+v, %v; want %d bytes", c.place, i, seq, out, err, replyLen(seq))
					return
				}
			}
		})
	}
	cwg.Wait()
}

// TestLossDoesNotBlockSocket: with the target dropping datagrams, a loss
// is reported as ErrLost after the timeout, and meanwhile the other Conns
// on the same socket go on getting their replies.
func TestLossDoesNotBlockSocket(t *testing.T) {
	const (
		streams  = 16
		requests = 100                    // per Conn
		pause    = 2 * time.Millisecond   // between a Conn's requests
		timeout  = 100 * time.Millisecond // a loss costs a Conn 50 requests' time
	)
	srv := startEcho(t, target.Config{UDPDrop: 0.02})
	d := newDriver(t, load.Options{URL: "udp://" + srv.Addrs().UDP, Streams: streams, Timeout: timeout}, Config{})
	conns := openConns(t, d, streams)
	type request struct {
		conn       int
		start, end time.Time
		err        error
	}
	done := make([][]request, streams)
	var wg sync.WaitGroup
	for i, c := range conns {
		if c.g != conns[0].g {
			t.Fatal("the Conns do not share a socket")
		}
		wg.Go(func() {
			for range requests {
				r := request{conn: i, start: time.Now()}
				_, r.err = c.Do(context.Background())
				r.end = time.Now()
				done[i] = append(done[i], r)
				time.Sleep(pause)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(done...)
	var lost []request
	var ok []request
	for _, r := range all {
		switch {
		case r.err == nil:
			ok = append(ok, r)
		case errors.Is(r.err, ErrLost):
			lost = append(lost, r)
			if el := r.end.Sub(r.start); el < timeout || el > timeout+time.Second {
				t.Errorf("a loss was reported after %v, want the timeout %v", el, timeout)
			}
		default:
			t.Errorf("unexpected error: %v", r.err)
		}
	}
	dropped := srv.Stats().UDPDropped
	if uint64(len(lost)) < dropped || uint64(len(lost)) > dropped+2 {
		t.Errorf("%d losses, the target dropped %d", len(lost), dropped)
	}
	if len(lost) == 0 {
		t.Fatal("no loss to look at")
	}
	// Every wait for a lost reply saw replies to other Conns on the socket
	// come and go.
	blocked, overlapping := 0, 0
	for _, l := range lost {
		n := 0
		for _, r := range ok {
			if r.conn != l.conn && r.start.After(l.start) && r.end.Before(l.end) {
				n++
			}
		}
		overlapping += n
		if n == 0 {
			blocked++
		}
	}
	t.Logf("%d requests on one socket of %d Conns: %d lost (the target dropped %d); %d exchanges completed during the %d losses' waits",
		len(all), streams, len(lost), dropped, overlapping, len(lost))
	// A wait with no reply on the other Conns can happen by chance (a
	// scheduler pause, the race detector); a blocked socket shows in most.
	if blocked*10 > len(lost) {
		t.Errorf("during %d of %d losses' waits no other Conn on the socket got a reply", blocked, len(lost))
	}
}

// TestLateReplyShared: a reply that comes after its request timed out is
// discarded: neither the Conn's next request nor another Conn's on the
// socket takes it, and both get their own replies.
func TestLateReplyShared(t *testing.T) {
	const (
		timeout = 200 * time.Millisecond
		late    = 260 * time.Millisecond // when the first reply comes
		release = 280 * time.Millisecond // when the replies held meanwhile come
	)
	// The server holds the first datagram and answers it at late, with 4
	// bytes more than it got so that it cannot pass for an echo; the
	// datagrams that come meanwhile are answered at release, after it.
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	var lateSent atomic.Bool
	wg.Go(func() {
		type held struct {
			msg  []byte
			addr *net.UDPAddr
		}
		var first time.Time
		var queue []held
		buf := make([]byte, 100)
		for {
			pc.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
			n, addr, err := pc.ReadFromUDP(buf)
			switch {
			case err == nil && first.IsZero():
				first = time.Now()
				queue = append(queue, held{append(slices.Clone(buf[:n]), "LATE"...), addr})
			case err == nil && !lateSent.Load():
				queue = append(queue, held{slices.Clone(buf[:n]), addr})
			case err == nil:
				pc.WriteToUDP(buf[:n], addr)
			case errors.Is(err, net.ErrClosed):
				return
			}
			if !first.IsZero() && !lateSent.Load() && time.Since(first) >= late {
				pc.WriteToUDP(queue[0].msg, queue[0].addr)
				lateSent.Store(true)
				time.Sleep(release - late)
				for _, h := range queue[1:] {
					pc.WriteToUDP(h.msg, h.addr)
				}
			}
		}
	})
	d := newDriver(t, load.Options{URL: "udp://" + pc.LocalAddr().String(), Streams: 4, Timeout: timeout}, Config{})
	conns := openConns(t, d, 2)
	a, b := conns[0], conns[1]
	if _, err := a.Do(context.Background()); !errors.Is(err, ErrLost) {
		t.Fatalf("first request: got %v, want it lost", err)
	}
	var cwg sync.WaitGroup
	for _, c := range []*Conn{a, b} {
		cwg.Go(func() {
			start := time.Now()
			out, err := c.Do(context.Background())
			if err != nil || out.Bytes != echoBytes {
				t.Errorf("Conn %d after the loss: got %+v, %v; want its own reply of %d bytes", c.place, out, err, echoBytes)
			}
			if el := time.Since(start); el < 20*time.Millisecond {
				t.Errorf("Conn %d: the request took %v: it cannot have waited for the replies held", c.place, el)
			}
		})
	}
	cwg.Wait()
	if !lateSent.Load() {
		t.Fatal("the late reply was not sent")
	}
	if n := a.g.discarded.Load(); n != 1 {
		t.Errorf("the socket discarded %d datagrams, want 1 (the late reply)", n)
	}
}

// TestCancelShared: cancelling the run ends every request waiting on the
// socket at once, and leaves the Conns ready for more.
func TestCancelShared(t *testing.T) {
	srv := startEcho(t, target.Config{UDPDrop: 1}) // never answers
	d := newDriver(t, load.Options{URL: "udp://" + srv.Addrs().UDP, Streams: 4}, Config{})
	conns := openConns(t, d, 4)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_, err := c.Do(ctx)
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLost) {
				t.Errorf("Conn %d: got %v, want the cancellation and not a loss", c.place, err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("Conn %d: Do returned %v after the start, with the cancel at 50ms", c.place, el)
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c.want.Load() != 0 || len(c.reply) != 0 {
			t.Errorf("Conn %d: still waits for %d, %d replies pending", c.place, c.want.Load(), len(c.reply))
		}
	}
	// A cancelled context fails the next request before it is sent.
	if _, err := conns[0].Do(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: got %v", err)
	}
}

// TestStreamsNeedSequence: without sequence numbers, replies on a shared
// socket could not be told apart.
func TestStreamsNeedSequence(t *testing.T) {
	const url = "udp://127.0.0.1:1"
	cases := []struct {
		name    string
		body    string
		seq     *bool
		streams int
		err     string
	}{
		{name: "given payload", body: "ping", streams: 2, err: `need sequence numbers`},
		{name: "sequence off", seq: boolp(false), streams: 8, err: `set "sequence": true`},
		{name: "negative", streams: -1, err: "negative streams"},
		{name: "given payload, one stream", body: "ping", streams: 1},
		{name: "given payload, numbered", body: "ping", seq: boolp(true), streams: 8},
		{name: "built-in payload", streams: 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(load.Options{URL: url, Body: []byte(tc.body), Streams: tc.streams}, Config{Sequence: tc.seq})
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				d.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v; want an error containing %q", err, tc.err)
			}
			t.Log(err)
		})
	}
}

// TestCloseShared: the socket stays open until its last Conn closes; the
// Driver's Close closes them all and fails the requests still waiting.
func TestCloseShared(t *testing.T) {
	srv := startServer(t, echo)
	d := newDriver(t, load.Options{URL: "udp://" + srv.addr, Streams: 2}, Config{})
	conns := openConns(t, d, 3)
	g := conns[0].g
	conns[0].Close()
	if out, err := conns[1].Do(context.Background()); err != nil || out.Bytes != echoBytes {
		t.Fatalf("after the other Conn closed: %+v, %v", out, err)
	}
	conns[1].Close()
	select {
	case <-g.done:
	case <-time.After(testTimeout):
		t.Fatal("the reader did not stop after the last Conn closed")
	}
	if _, err := g.nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on the socket after the last Conn closed: %v", err)
	}
	d.mu.Lock()
	groups := len(d.groups)
	d.mu.Unlock()
	if groups != 1 {
		t.Errorf("the driver holds %d sockets, want 1", groups)
	}

	// The next Conn fills the second socket, the one after opens a third.
	more := openConns(t, d, 2)
	if more[0].g != conns[2].g || more[1].g == conns[2].g || more[1].g == g {
		t.Error("Conns did not fill the open socket, or joined a full or closed one")
	}
	c, g2, g3 := more[1], conns[2].g, more[1].g
	d.Close()
	for _, g := range []*group{g2, g3} {
		select {
		case <-g.done:
		case <-time.After(testTimeout):
			t.Fatal("a reader did not stop after the Driver closed")
		}
	}
	if _, err := c.Do(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Do after the Driver closed: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the Driver closed: %v", err)
	}
}

// TestDoDoesNotAllocateShared: Conns on a shared socket, all sending at
// once, allocate nothing per request (AllocsPerRun counts the whole
// process, so the other Conns' requests count too).
func TestDoDoesNotAllocateShared(t *testing.T) {
	buf := make([]byte, 100)
	srv := startServer(t, func(in []byte) []byte { return buf[:copy(buf, in)] })
	d := newDriver(t, load.Options{URL: "udp://" + srv.addr, Streams: 4}, Config{})
	conns := openConns(t, d, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stop atomic.Bool
	var background atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range conns[1:] {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && !stop.Load(); i++ {
				if _, err := c.Do(ctx); err != nil {
					errs <- err
					return
				}
				background.Add(1)
			}
		})
	}
	// Let the others start (their goroutines allocate once).
	for deadline := time.Now().Add(testTimeout); background.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	var failed error
	allocs := testing.AllocsPerRun(2000, func() {
		if _, err := conns[0].Do(ctx); err != nil {
			failed = err
		}
	})
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("%v allocations per request, with %d requests of 3 other Conns alongside", allocs, background.Load())
	if allocs != 0 {
		t.Errorf("Do allocated %v times per request, want 0", allocs)
	}
}
