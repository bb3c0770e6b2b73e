package http2

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/target"
)

func startTarget(t *testing.T, b target.Behavior) *target.Server {
	t.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", Defaults: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestTargetStreamResetsCounted: the target's injected reset is, over
// HTTP/2, a stream reset (RST_STREAM). With 20% of the requests reset
// (`smp target --error reset:0.2`), each of n requests reaches the target
// once, each reset is one Do error, and the connection stays: no Do
// reconnects.
func TestTargetStreamResetsCounted(t *testing.T) {
	const n = 500
	var b target.Behavior
	if err := b.Set("error", "reset:0.2"); err != nil {
		t.Fatal(err)
	}
	srv := startTarget(t, b)
	c := openConn(t, newDriver(t, load.Options{URL: "http://" + srv.Addrs().HTTP + "/"}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ok, failed uint64
	for i := range n {
		out, err := c.Do(ctx)
		if out.Connect != 0 {
			t.Errorf("request %d: connect time %v; a stream reset leaves the connection up", i, out.Connect)
		}
		switch {
		case err == nil && out.Code == http.StatusOK:
			ok++
		case err != nil:
			failed++
		default:
			t.Fatalf("request %d: %+v", i, out)
		}
	}
	st := srv.Stats()
	answered, resets := st.Requests["http2"]["200"], st.Resets["http2"]
	t.Logf("smp: %d ok, %d errors; target: %d arrivals, %d answered, %d resets", ok, failed, answered+resets, answered, resets)
	if answered+resets != n {
		t.Errorf("the target saw %d requests, want %d", answered+resets, n)
	}
	if failed != resets || ok != answered {
		t.Errorf("smp counted %d errors and %d answers; the target made %d resets and %d answers", failed, ok, resets, answered)
	}
}

// TestTargetCloseConnections: when the target closes its connections (as
// POST /_smp/close does), the next Do dials a new connection and reports
// the time that took; the Do after it reuses that connection and reports
// none. No request is sent twice: the target counts the answered ones
// only.
func TestTargetCloseConnections(t *testing.T) {
	const rounds = 5
	srv := startTarget(t, target.Behavior{})
	c := openConn(t, newDriver(t, load.Options{URL: "http://" + srv.Addrs().HTTP + "/"}))
	var ok uint64
	do := func(what string, wantConnect bool) {
		t.Helper()
		out, err := c.Do(context.Background())
		if err != nil || out.Code != http.StatusOK {
			t.Fatalf("%s: %+v, %v", what, out, err)
		}
		if (out.Connect > 0) != wantConnect {
			t.Errorf("%s: connect time %v, want one: %v", what, out.Connect, wantConnect)
		}
		ok++
	}
	do("first request, on Open's connection", false)
	for range rounds {
		srv.CloseConnections()
		waitUnusable(t, c)
		do("request after the close", true)
		do("request on the new connection", false)
	}
	if got := srv.Stats().Requests["http2"]["200"]; got != ok {
		t.Errorf("the target answered %d requests, smp sent %d", got, ok)
	}
}

// TestTargetTLS: smp target serving HTTPS, trusted through its certificate
// (CAFile): requests on 4 streams of a connection negotiate h2 and the
// target answers each of them once, over HTTP/2.
func TestTargetTLS(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Addrs().HTTP)
	d := newDriver(t, load.Options{URL: "https://127.0.0.1:" + port + "/", CAFile: ca, Streams: 4})
	ok, errs := runConns(t, d, 4, 50)
	for _, err := range errs {
		t.Error(err)
	}
	if got := srv.Stats().Requests["http2"]["200"]; got != uint64(ok) || ok != 200 {
		t.Errorf("smp counted %d answers, the target %d over HTTP/2; want 200", ok, got)
	}
}
