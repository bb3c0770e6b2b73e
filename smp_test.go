package smp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smp-project/smp"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

func startTarget(t *testing.T) string {
	t.Helper()
	srv, err := target.Start(t.Context(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addrs().HTTP + "/"
}

func TestConfig(t *testing.T) {
	cfg, err := smp.Test{
		URL: "https://127.0.0.1:1/x", Protocol: "http2", Rate: 0, Duration: 3 * time.Second,
		Warmup: time.Second, Connections: 2, Streams: 4, Method: "PUT",
		Headers: map[string]string{"X-A": "1", "X-B": "two"}, Body: []byte("hi"),
		Timeout: 5 * time.Second, Insecure: true, CAFile: "ca.pem",
	}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetDuration() != "3s" || cfg.GetWarmup() != "1s" || len(cfg.GetClients()) != 1 {
		t.Fatalf("config: %v", cfg)
	}
	c := cfg.GetClients()[0]
	switch {
	case c.GetRps() != 0, c.GetConnections() != 2, c.GetStreams() != 4, c.GetMethod() != "PUT",
		c.GetBody() != "hi", c.GetTimeout() != "5s", !c.GetInsecureSkipVerify(), c.GetSslCertificate() != "ca.pem",
		c.GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, !c.GetHttp2(),
		len(c.GetEndpointUrls()) != 1 || c.GetEndpointUrls()[0] != "https://127.0.0.1:1/x",
		c.GetHeaders()["X-A"] != "1", c.GetHeaders()["X-B"] != "two":
		t.Errorf("client: %v", c)
	}

	// The zero values are the defaults; the scheme chooses the protocol.
	cfg, err = smp.Test{URL: "grpc://127.0.0.1:1/pkg.Svc/Method"}.Config()
	if err != nil {
		t.Fatal(err)
	}
	c = cfg.GetClients()[0]
	if cfg.GetDuration() != "10s" || cfg.GetWarmup() != "" || c.GetConnections() != 8 || c.GetRps() != 0 ||
		c.GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_INVALID || c.GetBody() != "" {
		t.Errorf("defaults: %v", cfg)
	}
}

func TestInvalid(t *testing.T) {
	url := "http://127.0.0.1:1/" // never reached: every case fails before sending
	for name, tc := range map[string]smp.Test{
		"no URL":           {},
		"negative rate":    {URL: url, Rate: -1},
		"negative time":    {URL: url, Duration: -time.Second},
		"negative warm-up": {URL: url, Warmup: -time.Second},
		"connections":      {URL: url, Connections: -1},
		"streams":          {URL: url, Streams: -1},
		"timeout":          {URL: url, Timeout: -time.Second},
		"protocol":         {URL: url, Protocol: "smtp"},
		"header name":      {URL: url, Headers: map[string]string{"X:Y": "1"}},
		"header value":     {URL: url, Headers: map[string]string{"X": "1\r\nY: 2"}},
		"scheme":           {URL: "ftp://127.0.0.1:1/"},
		"not a URL":        {URL: "127.0.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := smp.Run(t.Context(), tc)
			if !errors.Is(err, smp.ErrInvalid) || res != nil {
				t.Errorf("Run = %v, %v; want ErrInvalid", res, err)
			}
		})
	}
	if _, err := smp.RunConfig(t.Context(), nil, smp.Options{}); !errors.Is(err, smp.ErrInvalid) {
		t.Errorf("RunConfig(nil) = %v; want ErrInvalid", err)
	}
}

// A cancelled test returns what it measured, marked partial, and no
// error; the intervals still end with the last one and add up to the
// result.
func TestCancel(t *testing.T) {
	url := startTarget(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	timer := time.AfterFunc(1300*time.Millisecond, cancel)
	defer timer.Stop()
	var ivs []smp.Interval
	res, err := smp.Run(ctx, smp.Test{URL: url, Rate: 100, Duration: 10 * time.Second,
		OnInterval: func(iv smp.Interval) { ivs = append(ivs, iv) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Load.Partial || !res.SMP.GetPartial() {
		t.Errorf("partial = %v, %v; want true", res.Load.Partial, res.SMP.GetPartial())
	}
	total := res.Load.Total
	if total.Requests < 50 || total.Requests >= 1000 || total.Errors != total.ErrorReasons[load.ReasonCancelled] {
		t.Errorf("requests %d, errors %v; want some requests of a 1.3 s run, no errors but those cut short", total.Requests, total.ErrorReasons)
	}
	checkIntervals(t, ivs, total.Requests, total.Errors)
}

// A slow OnInterval holds up neither the test nor the count: every call
// is made, one at a time, before Run returns.
func TestSlowOnInterval(t *testing.T) {
	url := startTarget(t)
	var inside, overlap atomic.Int32
	var ivs []smp.Interval // no lock: Run returns after the last call
	res, err := smp.Run(t.Context(), smp.Test{URL: url, Rate: 100, Duration: 2 * time.Second,
		OnInterval: func(iv smp.Interval) {
			if inside.Add(1) > 1 {
				overlap.Add(1)
			}
			time.Sleep(700 * time.Millisecond)
			ivs = append(ivs, iv)
			inside.Add(-1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if overlap.Load() != 0 {
		t.Error("OnInterval calls overlapped")
	}
	total := res.Load.Total
	if total.Requests != 200 || total.Scheduled != 200 || total.Unsent != 0 || res.Load.Partial {
		t.Errorf("requests %d of %d scheduled, unsent %d, partial %v; want all 200 sent", total.Requests, total.Scheduled, total.Unsent, res.Load.Partial)
	}
	checkIntervals(t, ivs, total.Requests, total.Errors)
}

func checkIntervals(t *testing.T, ivs []smp.Interval, requests, errs int64) {
	t.Helper()
	if len(ivs) < 2 {
		t.Fatalf("%d intervals; want one per second and the last", len(ivs))
	}
	var sumR, sumE int64
	var end time.Duration
	for i, iv := range ivs {
		if iv.Offset != end {
			t.Errorf("interval %d starts at %v; want %v, the end of the one before", i, iv.Offset, end)
		}
		end = iv.Offset + iv.Length
		sumR += iv.Requests
		sumE += iv.Errors
		if iv.TotalRequests != sumR || iv.TotalErrors != sumE {
			t.Errorf("interval %d: totals %d, %d; want %d, %d", i, iv.TotalRequests, iv.TotalErrors, sumR, sumE)
		}
		if iv.Last != (i == len(ivs)-1) {
			t.Errorf("interval %d: Last = %v", i, iv.Last)
		}
	}
	if sumR != requests || sumE != errs {
		t.Errorf("intervals count %d requests, %d errors; the result %d, %d", sumR, sumE, requests, errs)
	}
}

func TestClosedLoop(t *testing.T) {
	url := startTarget(t)
	res, err := smp.Run(t.Context(), smp.Test{URL: url, Duration: 300 * time.Millisecond, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	total := res.Load.Total
	if total.OpenLoop || total.Scheduled != 0 || total.Requests == 0 || total.Errors != 0 {
		t.Errorf("closed loop: open %v, scheduled %d, requests %d, errors %d", total.OpenLoop, total.Scheduled, total.Requests, total.Errors)
	}
}

// Notes say what the config asked for that the test ignored.
func TestNotes(t *testing.T) {
	url := startTarget(t)
	cfg, err := smp.Test{URL: url, Rate: 50, Duration: 200 * time.Millisecond}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clients[0].AdditionalOptions = `{"anything": 1}`
	res, err := smp.RunConfig(t.Context(), cfg, smp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "ignored") {
		t.Errorf("notes %q; want the ignored additional_options", res.Notes)
	}
	if res.Load.Total.Requests != 10 {
		t.Errorf("%d requests; want 50/s × 0.2 s = 10", res.Load.Total.Requests)
	}
}

func TestConfigSchedules(t *testing.T) {
	tests := []struct {
		name  string
		test  smp.Test
		check func(*spec.PerformanceTestConfig) bool
	}{
		{"ramp", smp.Test{Ramp: "100:300/2s"}, func(c *spec.PerformanceTestConfig) bool {
			cl := c.GetClients()[0]
			return cl.GetRamp() == "100:300/2s" && cl.GetQps() == 0 && cl.GetRps() == 0 && c.GetDuration() == ""
		}},
		{"steps", smp.Test{Steps: "100,200/1s", Duration: 5 * time.Second}, func(c *spec.PerformanceTestConfig) bool {
			return c.GetClients()[0].GetSteps() == "100,200/1s" && c.GetDuration() == "5s"
		}},
		{"requests", smp.Test{Rate: 150.5, Requests: 300}, func(c *spec.PerformanceTestConfig) bool {
			cl := c.GetClients()[0]
			return cl.GetRequests() == 300 && cl.GetQps() == 150.5 && c.GetDuration() == ""
		}},
		{"ok status", smp.Test{OKStatus: "200-299,503"}, func(c *spec.PerformanceTestConfig) bool {
			return c.GetClients()[0].GetOkStatus() == "200-299,503" && c.GetDuration() == "10s"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.test.URL = "http://127.0.0.1:1/"
			cfg, err := tt.test.Config()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("config: %v", cfg)
			}
		})
	}
}

func TestConfigBadSchedules(t *testing.T) {
	tests := []struct {
		test smp.Test
		want string
	}{
		{smp.Test{Rate: 100, Ramp: "1:2/1s"}, "Test.Rate is set with Test.Ramp"},
		{smp.Test{Ramp: "1:2/1s", Steps: "1,2/1s"}, "Test.Ramp and Test.Steps"},
		{smp.Test{Ramp: "fast"}, "Test.Ramp"},
		{smp.Test{Steps: "1,x/1s"}, "Test.Steps"},
		{smp.Test{Requests: -1}, "Test.Requests must not be negative"},
		{smp.Test{OKStatus: "2xx"}, "Test.OKStatus"},
	}
	for _, tt := range tests {
		tt.test.URL = "http://127.0.0.1:1/"
		_, err := tt.test.Config()
		if !errors.Is(err, smp.ErrInvalid) || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%+v: %v; want ErrInvalid saying %q", tt.test, err, tt.want)
		}
	}
}

// TestRunSchedules: the counts the target saw for a request count, a
// ramp and a success set given through the Go API.
func TestRunSchedules(t *testing.T) {
	srv, err := target.Start(t.Context(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	before := srv.Stats().RequestsTotal
	res, err := smp.Run(t.Context(), smp.Test{URL: url, Rate: 200, Requests: 300, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := srv.Stats().RequestsTotal - before
	if got := res.Load.Total.Requests; got != 300 || seen != 301 { // 301: the connection probe
		t.Errorf("-n 300: %d requests, the target saw %d; want 300 and 301", got, seen)
	}

	before = srv.Stats().RequestsTotal
	res, err = smp.Run(t.Context(), smp.Test{URL: url, Ramp: "100:300/1s", Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen = srv.Stats().RequestsTotal - before
	if got := res.Load.Total.Requests; got < 199 || got > 201 || seen != uint64(got)+1 {
		t.Errorf("ramp 100→300/s over 1 s: %d requests, the target saw %d; want 200 ± 1 and one more", got, seen)
	}

	// Every answer 503: failures by default, successes when 503 is in the set.
	url503 := url + "?status=503"
	res, err = smp.Run(t.Context(), smp.Test{URL: url503, Rate: 100, Requests: 50, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Load.Total; tot.Requests != 50 || tot.Errors != 50 {
		t.Errorf("503s by default: %d requests, %d errors; want 50 and 50", tot.Requests, tot.Errors)
	}
	res, err = smp.Run(t.Context(), smp.Test{URL: url503, Rate: 100, Requests: 50, Connections: 1, OKStatus: "200-299,503"})
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Load.Total; tot.Requests != 50 || tot.Errors != 0 {
		t.Errorf("503 in OKStatus: %d requests, %d errors; want 50 and 0", tot.Requests, tot.Errors)
	}
}
