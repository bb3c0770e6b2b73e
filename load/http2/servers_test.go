package http2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// TestSmallFlowControlWindow: against a server that allows 100 bytes a
// stream in flight, request bodies of 100 KiB from three streams sharing a
// connection arrive whole, each WINDOW_UPDATE letting a little more go.
func TestSmallFlowControlWindow(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 6400)
	want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body))
	got := make(chan string, 100)
	srv, _ := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- fmt.Sprintf("%d %x", len(b), sha256.Sum256(b))
	}, func(s *http.Server) {
		s.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 100, MaxReceiveBufferPerConnection: 65535}
	})
	d := newDriver(t, load.Options{URL: srv.URL, Streams: 3, Body: body})
	conns := []load.Conn{openConn(t, d), openConn(t, d), openConn(t, d)}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for range 3 {
				if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
					t.Errorf("%+v, %v", out, err)
				}
			}
		})
	}
	wg.Wait()
	close(got)
	n := 0
	for s := range got {
		n++
		if s != want {
			t.Errorf("server received %s, want %s", s, want)
		}
	}
	if n != 9 {
		t.Errorf("server answered %d requests, want 9", n)
	}
}

// TestServerStreamLimit: a server that allows 2 concurrent streams, with 8
// Conns on a connection: never more than 2 requests are in flight, none is
// refused, and the others wait for a stream instead of failing.
func TestServerStreamLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
	}, func(s *http.Server) { s.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 2} })
	d := newDriver(t, load.Options{URL: srv.URL, Streams: 8})
	var wg sync.WaitGroup
	for range 8 {
		c := openConn(t, d)
		wg.Go(func() {
			for range 10 {
				if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
					t.Errorf("%+v, %v", out, err)
				}
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak of %d concurrent requests, want 2 (the server's limit, reached)", p)
	}
	if n := cnt.requests.Load(); n != 80 {
		t.Errorf("server saw %d requests, want 80", n)
	}
	if n := cnt.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// framerServer is an h2c server written on x/net's framer, for behaviour
// net/http's server does not offer: lowering SETTINGS_MAX_CONCURRENT_STREAMS
// on a live connection, and sending GOAWAY in the middle of a run. It
// answers the requests of each read batch together, with 200 and no body.
type framerServer struct {
	lowerAfter  int64 // answered requests before it lowers the limit to 1 (0: never)
	goAwayAfter int64 // answered requests on a connection before its GOAWAY (0: never)

	conns      atomic.Int64
	answered   atomic.Int64
	refused    atomic.Int64 // streams opened beyond the lowered limit, refused
	notServed  atomic.Int64 // streams above a GOAWAY's last stream, dropped
	goAways    atomic.Int64 // GOAWAY frames sent, one per connection at most
	peakBefore atomic.Int64 // peak of open streams before the lowering
	peakAfter  atomic.Int64 // ... and after the client acknowledged it
}

func (fs *framerServer) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fs.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				fs.serve(c)
			})
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

func peakOf(p *atomic.Int64, n int64) {
	if n > p.Load() {
		p.Store(n)
	}
}

func (fs *framerServer) serve(c net.Conn) {
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(bw, br)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	bw.Flush()
	var pending []uint32
	var served int64
	lowered, acked, goneAway := false, false, false
	var lastID uint32
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				acked = lowered
			} else {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			switch {
			case goneAway:
				fs.notServed.Add(1) // above the GOAWAY's last stream
			case acked && len(pending) >= 1:
				fs.refused.Add(1)
				fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
			default:
				pending = append(pending, f.StreamID)
				if acked {
					peakOf(&fs.peakAfter, int64(len(pending)))
				} else {
					peakOf(&fs.peakBefore, int64(len(pending)))
				}
			}
		}
		if br.Buffered() > 0 {
			continue // answer a read batch together, so that streams overlap
		}
		if goneAway {
			continue
		}
		answer := pending
		if fs.goAwayAfter > 0 && served+int64(len(pending)) >= fs.goAwayAfter && len(pending) >= 1 {
			// Answer half the batch (none of a batch of one); GOAWAY
			// says the rest were not processed.
			answer = pending[:len(pending)/2]
			fs.notServed.Add(int64(len(pending) - len(answer)))
			goneAway = true
		}
		for _, id := range answer {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x88}, EndHeaders: true, EndStream: true})
			lastID = id
		}
		served += int64(len(answer))
		fs.answered.Add(int64(len(answer)))
		pending = pending[:0]
		if fs.lowerAfter > 0 && !lowered && fs.answered.Load() >= fs.lowerAfter {
			fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
			lowered = true
		}
		if goneAway {
			fr.WriteGoAway(lastID, http2.ErrCodeNo, []byte("mid-run"))
			fs.goAways.Add(1)
			// Streams the client sends before it reads the GOAWAY are
			// counted above and dropped, until the client, its last
			// stream done, closes the connection.
		}
		if bw.Flush() != nil {
			return
		}
	}
}

// runConns runs perConn requests on each of n Conns of d at once and
// returns the errors.
func runConns(t *testing.T, d *Driver, n, perConn int) (ok int64, errs []error) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		c := openConn(t, d)
		wg.Go(func() {
			for range perConn {
				out, err := c.Do(context.Background())
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if out.Code == 200 {
					ok++
				} else {
					errs = append(errs, fmt.Errorf("status %d", out.Code))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, errs
}

// TestServerLowersStreamLimit: when a server lowers its limit to one
// stream on a live connection, the client never opens a stream beyond it
// once it has acknowledged the new SETTINGS, and no request fails.
func TestServerLowersStreamLimit(t *testing.T) {
	fs := &framerServer{lowerAfter: 50}
	d := newDriver(t, load.Options{URL: fs.start(t), Streams: 8})
	ok, errs := runConns(t, d, 8, 25)
	for _, err := range errs {
		t.Error(err)
	}
	if ok != 200 || fs.answered.Load() != 200 {
		t.Errorf("%d requests succeeded, the server answered %d; want 200", ok, fs.answered.Load())
	}
	if r := fs.refused.Load(); r != 0 {
		t.Errorf("%d streams opened beyond the lowered limit", r)
	}
	if p := fs.peakBefore.Load(); p < 2 {
		t.Errorf("peak of %d concurrent streams before the lowering: the test did not overlap streams", p)
	}
	if p := fs.peakAfter.Load(); p != 1 {
		t.Errorf("peak of %d concurrent streams after the lowering, want 1", p)
	}
}

// TestServerGoAwayMidRun: a server that sends GOAWAY after every 30
// answers and closes. The streams it did not process fail, each once, with
// an error that says so; every other request is answered, on a new
// connection after each GOAWAY; nothing is sent twice. (Under the race
// detector requests can reach the server one at a time: the server sends
// its GOAWAY on a batch of one too.)
func TestServerGoAwayMidRun(t *testing.T) {
	fs := &framerServer{goAwayAfter: 30}
	d := newDriver(t, load.Options{URL: fs.start(t), Streams: 4})
	ok, errs := runConns(t, d, 4, 50)
	var goAway int64
	for _, err := range errs {
		var ge *h2.GoAwayError
		switch {
		case errors.As(err, &ge) && strings.Contains(err.Error(), "not processed") && ge.Debug == "mid-run":
			goAway++
		case load.Classify(err) == load.ReasonEOF || load.Classify(err) == load.ReasonReset:
			// The close may overtake the GOAWAY on a stream sent just
			// before it arrived.
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok+int64(len(errs)) != 200 {
		t.Errorf("%d answers and %d errors, want 200 in all", ok, len(errs))
	}
	if ok != fs.answered.Load() {
		t.Errorf("%d requests succeeded, the server answered %d", ok, fs.answered.Load())
	}
	// Every stream the server dropped fails as not processed; so may one
	// the client had queued but not yet written when the GOAWAY came,
	// which the server never saw.
	if goAway == 0 || goAway < fs.notServed.Load() {
		t.Errorf("%d requests failed for the GOAWAY, the server dropped %d after it", goAway, fs.notServed.Load())
	}
	// Count the GOAWAYs rather than assume one per 30 answers: a
	// connection may answer some of the batch that crosses 30.
	if c, g := fs.conns.Load(), fs.goAways.Load(); g == 0 || c < g {
		t.Errorf("%d connections for %d GOAWAYs, want one at least per GOAWAY", c, g)
	}
	t.Logf("%d answered, %d not processed, %d other errors, %d connections", ok, goAway, int64(len(errs))-goAway, fs.conns.Load())
}

// TestSettingsAckedBeforeAnyRequest: Open alone acknowledges the server's
// SETTINGS, so that a connection opened before the schedule starts does not
// leave a server waiting for the ack (RFC 9113 lets it close on a timeout).
func TestSettingsAckedBeforeAnyRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acked := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acked <- false
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			acked <- false
			return
		}
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				acked <- false
				return
			}
			if sf, ok := f.(*http2.SettingsFrame); ok && sf.IsAck() {
				acked <- true
				return
			}
		}
	}()
	openConn(t, newDriver(t, load.Options{URL: "http://" + ln.Addr().String() + "/"}))
	if !<-acked {
		t.Error("the server never got its SETTINGS acknowledged")
	}
}
