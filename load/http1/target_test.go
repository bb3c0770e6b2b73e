package http1

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/target"
)

// startResettingTarget starts the built-in target on 127.0.0.1 with the
// error setting given as `smp target --error` takes it, e.g. "reset:0.2".
func startResettingTarget(t *testing.T, errorSpec string) *target.Server {
	t.Helper()
	var b target.Behavior
	if err := b.Set("error", errorSpec); err != nil {
		t.Fatal(err)
	}
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", Defaults: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestTargetResetsCounted is the measurement users made, as a test: the
// target resets 20% of HTTP/1.1 requests (`smp target --error reset:0.2`)
// and one Conn sends n requests in a row. Every request reaches the target
// exactly once, so the target counts n arrivals, and every reset it made is
// a Do error classified as a reset, no more and no fewer. The Do after a
// reset reconnects and reports its connect time; a Do on a kept-alive
// connection reports none.
func TestTargetResetsCounted(t *testing.T) {
	const n = 1000
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			srv := startResettingTarget(t, "reset:0.2")
			opts := load.Options{URL: "http://" + srv.Addrs().HTTP + "/", Method: method}
			if method == http.MethodPost {
				opts.Body = []byte(`{"a request":"with a body"}`)
			}
			c := openConn(t, newDriver(t, opts))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var ok, resets, reconnects uint64
			reconnect := false // the previous Do failed: this one must connect
			for i := range n {
				out, err := c.Do(ctx)
				if reconnect != (out.Connect > 0) {
					t.Errorf("request %d: connect time %v after a failure: %v", i, out.Connect, reconnect)
				}
				if out.Connect > 0 {
					reconnects++
				}
				switch {
				case err == nil && out.Code == http.StatusOK:
					ok++
				case load.Classify(err) == load.ReasonReset:
					resets++
				default:
					t.Fatalf("request %d: %+v, %v (%q), want 200 or a reset", i, out, err, load.Classify(err))
				}
				reconnect = err != nil
			}
			st := srv.Stats()
			answered := st.Requests["http1"]["200"]
			arrivals := st.RequestsTotal + st.Resets["http1"]
			t.Logf("%s: smp: %d ok, %d resets, %d reconnects; target: %d arrivals, %d answered, %d resets",
				method, ok, resets, reconnects, arrivals, answered, st.Resets["http1"])
			if arrivals != n {
				t.Errorf("the target saw %d requests, want %d: a request was sent twice or not at all", arrivals, n)
			}
			if resets != st.Resets["http1"] {
				t.Errorf("smp counted %d resets, the target made %d", resets, st.Resets["http1"])
			}
			if ok != answered {
				t.Errorf("smp counted %d answers, the target answered %d", ok, answered)
			}
			if resets == 0 || resets == n {
				t.Errorf("%d resets of %d requests at a 20%% rate", resets, n)
			}
			if want := resets - boolToUint(reconnect); reconnects != want {
				t.Errorf("%d reconnects, want one per reset but the last: %d", reconnects, want)
			}
		})
	}
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
