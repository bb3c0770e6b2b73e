package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/encoding/protowire"
)

// The tests here run the target in a child process (this test binary,
// re-executed) so that its memory is measured on its own, from /proc, and
// its descriptor limit can be lowered without touching the test's.

const (
	childConfigEnv = "SMP_TARGET_TEST_CHILD"  // the child's Config, JSON
	childNofileEnv = "SMP_TARGET_TEST_NOFILE" // its RLIMIT_NOFILE, if set
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childConfigEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(m.Run())
}

// runChild serves a target until its stdin closes (the parent ended),
// after printing its addresses as one JSON line.
func runChild(cfgJSON string) int {
	if n := os.Getenv(childNofileEnv); n != "" {
		v, err := strconv.ParseUint(n, 10, 64)
		if err == nil {
			err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: v, Max: v})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: RLIMIT_NOFILE:", err)
			return 1
		}
	}
	var cfg Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child: config:", err)
		return 1
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(s.Addrs())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
	return 0
}

type child struct {
	cmd   *exec.Cmd
	addrs Addrs
}

// startChild runs a target with cfg in a child process; nofile > 0 lowers
// its descriptor limit.
func startChild(t *testing.T, cfg Config, nofile int) *child {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childConfigEnv+"="+string(b))
	if nofile > 0 {
		cmd.Env = append(cmd.Env, childNofileEnv+"="+strconv.Itoa(nofile))
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan []byte, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadBytes('\n')
		line <- l
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if err := json.Unmarshal(l, &c.addrs); err != nil {
			t.Fatalf("child did not start: %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child did not start in 20 s")
	}
	return c
}

// memory returns the child's resident set now and at its peak (VmRSS and
// VmHWM), in MB.
func (c *child) memory(t *testing.T) (rss, peak float64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) float64 {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, name+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				if err != nil {
					t.Fatalf("%s: %q", name, l)
				}
				return kb / 1024
			}
		}
		t.Fatalf("no %s in /proc/pid/status", name)
		return 0
	}
	return field("VmRSS"), field("VmHWM")
}

// TestAccuracySafetyGRPCHugeResponses: gRPC calls asking for 1 GiB each are
// written from the shared filler, not a gigabyte allocated per call. The
// clients read 32 MiB of each and then cancel, as a bounded client does.
func TestAccuracySafetyGRPCHugeResponses(t *testing.T) {
	if race.Enabled {
		t.Skip("memory bounds are measured without the race detector, whose shadow memory multiplies RSS (dev.sh runs this in the accuracy pass)")
	}
	c := startChild(t, Config{GRPC: anyPort}, 0)
	_, before := c.memory(t)
	const calls, readEach = 3, 32 << 20
	var wg sync.WaitGroup
	got := make([]int, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = readGRPCPrefix(t, c.addrs.GRPC, "/smp.target.v1.Echo/Echo", 1<<30, readEach)
		}()
	}
	wg.Wait()
	// A streamed call's messages are written the same way.
	got = append(got, readGRPCPrefix(t, c.addrs.GRPC, "/smp.target.v1.Echo/Stream", 1<<30, readEach))
	_, peak := c.memory(t)
	t.Logf("target peak RSS %.0f MB (%.0f MB at start) over %d calls of 1 GiB, %v bytes read of each", peak, before, calls+1, got)
	for i, n := range got {
		if n < readEach {
			t.Errorf("call %d: %d bytes read, want %d", i, n, readEach)
		}
	}
	if peak > 300 {
		t.Errorf("target peak RSS %.0f MB, want under 300 MB", peak)
	}
}

// TestAccuracySafetyEchoReleased: forty keep-alive connections that have each
// echoed 16 MiB hold no echo buffer once idle.
func TestAccuracySafetyEchoReleased(t *testing.T) {
	if race.Enabled {
		t.Skip("memory bounds are measured without the race detector, whose shadow memory multiplies RSS (dev.sh runs this in the accuracy pass)")
	}
	c := startChild(t, Config{HTTP: anyPort}, 0)
	const conns, size = 40, 16 << 20
	body := bytes.Repeat([]byte("e"), size)
	open := make([]net.Conn, 0, conns)
	defer func() {
		for _, nc := range open {
			nc.Close()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for i := range conns {
		nc, err := net.Dial("tcp", c.addrs.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, nc)
		_ = nc.SetDeadline(deadline)
		go func() {
			fmt.Fprintf(nc, "POST /?echo=1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
			_, _ = nc.Write(body)
		}()
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != size {
			t.Fatalf("connection %d: status %d, %d bytes echoed, %v", i, resp.StatusCode, n, err)
		}
	}
	// The Go runtime gives freed memory back to the system in the
	// background; give it a moment.
	var rss, peak float64
	for range 20 {
		time.Sleep(250 * time.Millisecond)
		if rss, peak = c.memory(t); rss < 200 {
			break
		}
	}
	t.Logf("target RSS %.0f MB with %d idle connections after a %d MiB echo each (peak %.0f MB)", rss, conns, size>>20, peak)
	if rss >= 200 {
		t.Errorf("target RSS %.0f MB, want under 200 MB", rss)
	}
}

// TestSafetySlowloris: with 1,100 connections trickling request heads into
// a target limited to 1,024 descriptors, a new client is still served
// within a second: at the connection limit the target evicts the slowest.
func TestSafetySlowloris(t *testing.T) {
	c := startChild(t, Config{HTTP: anyPort}, 1024)
	const slow = 1100
	conns := make([]net.Conn, 0, slow)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i := range slow {
		nc, err := net.DialTimeout("tcp", c.addrs.HTTP, 5*time.Second)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		conns = append(conns, nc)
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-A: "))
	}
	// Trickle a byte on each for a second, as slowloris does.
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		for _, nc := range conns {
			_, _ = nc.Write([]byte("a"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, err := client.Get("http://" + c.addrs.HTTP + "/")
	el := time.Since(start)
	if err != nil {
		t.Fatalf("normal client after %v: %v", el, err)
	}
	resp.Body.Close()
	t.Logf("normal client served in %v beside %d slow connections", el, slow)
	if resp.StatusCode != 200 || el > time.Second {
		t.Errorf("normal client: status %d after %v, want 200 within 1 s", resp.StatusCode, el)
	}
	st, err := FetchStats(context.Background(), client, c.addrs.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connections %d, evicted %d, refused %d", st.Connections, st.ConnectionsEvicted, st.ConnectionsRefused)
	if st.ConnectionsEvicted == 0 {
		t.Error("no connection evicted")
	}
	if st.Connections > 1024-connReserve {
		t.Errorf("%d connections open, over the limit %d", st.Connections, 1024-connReserve)
	}
}

// readGRPCPrefix calls method (Echo or Stream) over a bare HTTP/2
// connection asking for size bytes, reads up to limit bytes of the answer,
// checking them against the filler, and resets the stream: a gRPC client
// would buffer the whole message before handing it over. It returns the
// payload bytes read.
func readGRPCPrefix(t *testing.T, addr, method string, size, limit int) int {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	bw := bufio.NewWriter(nc)
	fr := http2.NewFramer(bw, bufio.NewReader(nc))
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", addr},
		{"content-type", "application/grpc"}, {"te", "trailers"}, {"x-smp-size", strconv.Itoa(size)}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	// The request message: Echo's is empty, Stream's asks for one message.
	msg := []byte{0, 0, 0, 0, 0}
	if strings.HasSuffix(method, "/Stream") {
		msg = []byte{0, 0, 0, 0, 2, 0x10, 1}
	}
	_, _ = bw.WriteString(http2.ClientPreface)
	_ = fr.WriteSettings()
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	_ = fr.WriteData(1, true, msg)
	if err := bw.Flush(); err != nil {
		t.Error(err)
		return 0
	}
	var payload []byte // the answer after the gRPC message header and the field's tag and length
	read := 0
	for frames := 0; read < limit && frames < 1<<20; frames++ {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Errorf("%s: %v after %d bytes", method, err, read)
			return read
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Errorf("%s: %v after %d bytes", method, f, read)
			return read
		case *http2.DataFrame:
			d := f.Data()
			if len(d) > 0 {
				_ = fr.WriteWindowUpdate(0, uint32(len(d)))
				_ = fr.WriteWindowUpdate(1, uint32(len(d)))
			}
			if len(payload) < 16 {
				take := min(len(d), 16-len(payload))
				payload = append(payload, d[:take]...)
				d = d[take:]
				if len(payload) == 16 {
					// 5 bytes of gRPC header, tag 0x0a, varint length.
					if payload[5] != 0x0a {
						t.Errorf("%s: answer starts % x", method, payload)
						return read
					}
					_, k := protowire.ConsumeVarint(payload[6:])
					d = append(payload[6+k:], d...)
				} else {
					continue
				}
			}
			for i, c := range d {
				if want := fillerByte(read + i); c != want {
					t.Errorf("%s: byte %d is %q, want %q", method, read+i, c, want)
					return read
				}
			}
			read += len(d)
		}
		_ = bw.Flush()
	}
	_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
	_ = bw.Flush()
	return read
}

// fillerByte is byte i of any response body the target generates.
func fillerByte(i int) byte {
	const pattern = "smp-target-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
	return pattern[(i%fillerSize)%len(pattern)]
}
