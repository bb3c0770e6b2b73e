package target

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	targetpb "github.com/smp-project/smp/target/proto"
)

// post sends a control request with the token (none when token is "").
func post(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStall stalls through the control endpoint and checks that responses
// on every protocol wait for the stall to end, and that ending it early
// releases them.
func TestStall(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, GRPC: anyPort, TCP: anyPort, Control: true})
	c, base := httpClient(t, "http1", s)
	_, grpcc := grpcClient(t, s)
	if st, body := post(t, c, base+"/_smp/stall?for=300ms", s.ControlToken()); st != 200 {
		t.Fatalf("stall: %d %s", st, body)
	}
	if s.Stats().StalledUntil == nil {
		t.Error("stats do not show the stall")
	}
	start := time.Now()
	var wg sync.WaitGroup
	times := map[string]time.Duration{}
	var mu sync.Mutex
	for _, proto := range []string{"http1", "h2c", "grpc", "tcp"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch proto {
			case "tcp":
				c, err := net.Dial("tcp", s.Addrs().TCP)
				if err != nil {
					t.Errorf("tcp: %v", err)
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte("x")); err != nil {
					t.Errorf("tcp: %v", err)
					return
				}
				if _, err := c.Read(make([]byte, 1)); err != nil {
					t.Errorf("tcp: %v", err)
					return
				}
			case "grpc":
				if _, err := grpcc.Echo(context.Background(), &targetpb.EchoRequest{}); err != nil {
					t.Errorf("grpc: %v", err)
				}
			default:
				hc, hb := httpClient(t, proto, s)
				resp, err := hc.Get(hb + "/")
				if err != nil {
					t.Errorf("%s: %v", proto, err)
					return
				}
				resp.Body.Close()
			}
			mu.Lock()
			times[proto] = time.Since(start)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(times) != 4 {
		t.Fatalf("answers from %v", times)
	}
	for proto, el := range times {
		if el < 250*time.Millisecond {
			t.Errorf("%s answered after %v during a 300ms stall", proto, el)
		}
	}
	// Stats and metrics answer during a stall; ending it releases waiters.
	s.Stall(time.Hour)
	got := make(chan time.Duration)
	go func() {
		start := time.Now()
		resp, err := c.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		got <- time.Since(start)
	}()
	if st, _, _ := get(t, c, base+"/_smp/stats", nil); st != 200 {
		t.Errorf("stats during a stall: %d", st)
	}
	time.Sleep(50 * time.Millisecond)
	if st, body := post(t, c, base+"/_smp/stall?for=0", s.ControlToken()); st != 200 {
		t.Fatalf("end stall: %d %s", st, body)
	}
	select {
	case el := <-got:
		if el < 50*time.Millisecond {
			t.Errorf("answered after %v, before the stall ended", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ending the stall did not release the request")
	}
}

func TestCloseConnections(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, GRPC: anyPort, TCP: anyPort, Control: true})
	c, base := httpClient(t, "http1", s)
	get(t, c, base+"/", nil)
	_, grpcc := grpcClient(t, s)
	if _, err := grpcc.Echo(context.Background(), &targetpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Connections; n < 2 {
		t.Fatalf("%d connections open, want 2", n)
	}
	ctl := &http.Client{Transport: &http.Transport{}}
	st, body := post(t, ctl, base+"/_smp/close", s.ControlToken())
	if st != 200 || !strings.Contains(body, `"closed": 2`) {
		t.Errorf("close: %d %s", st, body)
	}
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Connections > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", s.Stats().Connections)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Clients reconnect.
	get(t, c, base+"/", nil)
	s.CloseConnections()
	get(t, c, base+"/", nil)
}

func TestControlDefaults(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Control: true, Defaults: Behavior{Size: 1}})
	c, base := httpClient(t, "h2c", s)
	st, body := post(t, c, base+"/_smp/defaults?size=5&status=202&delay=uniform:1ms-2ms", s.ControlToken())
	if st != 200 {
		t.Fatalf("set defaults: %d %s", st, body)
	}
	var b Behavior
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if b.Size != 5 || b.Status != 202 || b.Delay.String() != "uniform:1ms-2ms" {
		t.Errorf("defaults now %+v", b)
	}
	for _, fl := range []string{"http1", "h2c"} {
		hc, hb := httpClient(t, fl, s)
		if st, got, _ := get(t, hc, hb+"/", nil); st != 202 || len(got) != 5 {
			t.Errorf("%s after set: %d, %d bytes", fl, st, len(got))
		}
	}
	if got := s.Defaults(); got.Size != 5 {
		t.Errorf("Defaults().Size = %d", got.Size)
	}
	for _, bad := range []string{"size=-1", "sise=1", "delay=x"} {
		if st, body := post(t, c, base+"/_smp/defaults?"+bad, s.ControlToken()); st != 400 {
			t.Errorf("%s: %d %s", bad, st, body)
		}
	}
	// The Go method validates too.
	if err := s.SetDefaults(Behavior{Status: 99}); err == nil {
		t.Error("SetDefaults accepted status 99")
	}
	if err := s.SetDefaults(Behavior{Size: 2}); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := get(t, c, base+"/", nil); len(got) != 2 {
		t.Errorf("after SetDefaults: %d bytes", len(got))
	}
}

func TestControlGuards(t *testing.T) {
	off := startTarget(t, Config{HTTP: anyPort})
	c, base := httpClient(t, "http1", off)
	if st, body := post(t, c, base+"/_smp/stall?for=1s", "0123456789abcdef"); st != 403 || !strings.Contains(body, "--control") {
		t.Errorf("control off: %d %s", st, body)
	}
	on := startTarget(t, Config{HTTP: anyPort, Control: true})
	c, base = httpClient(t, "http1", on)
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/_smp/stall?for=1s", 405},
		{"POST", "/_smp/stall", 400},
		{"POST", "/_smp/stall?for=soon", 400},
		{"GET", "/_smp/nothing", 404},
		{"GET", "/_smp/", 200},
		{"GET", "/_smp/defaults", 200},
		{"DELETE", "/_smp/defaults", 405},
		{"POST", "/_smp/stats", 405},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, base+tt.path, nil)
		req.Header.Set(TokenHeader, on.ControlToken())
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:5", true}, {"[::1]:5", true}, {"[::ffff:127.0.0.1]:5", true}, {"10.0.0.1:5", false}, {"junk", false}} {
		if got := isLoopback(tt.addr); got != tt.ok {
			t.Errorf("isLoopback(%q) = %v", tt.addr, got)
		}
	}
}

// TestControlToken: a control request without the token, with a wrong one,
// or from a browser (an Origin header, even with the token) is refused
// with 403 and changes nothing; the token opens it.
func TestControlToken(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Control: true})
	tok := s.ControlToken()
	if len(tok) != 32 {
		t.Fatalf("generated token %q: want 32 hex digits", tok)
	}
	var out strings.Builder
	s.WriteListeners(&out)
	if !strings.Contains(out.String(), "control token: "+tok) {
		t.Errorf("WriteListeners does not print the token:\n%s", out.String())
	}
	c, base := httpClient(t, "http1", s)
	for _, tc := range []struct {
		name    string
		hdr     map[string]string
		ctype   string
		wantMsg string
	}{
		{"no token", nil, "", "X-Smp-Token"},
		{"wrong token", map[string]string{TokenHeader: tok[:31] + "x"}, "", "wrong control token"},
		{"cross-origin text/plain", map[string]string{"Origin": "http://evil.example"}, "text/plain", "Origin"},
		{"origin with the token", map[string]string{"Origin": "http://evil.example", TokenHeader: tok}, "text/plain", "Origin"},
		{"same-origin browser", map[string]string{"Origin": base, TokenHeader: tok}, "", "Origin"},
	} {
		for _, flavour := range []string{"http1", "h2c"} {
			hc, hb := httpClient(t, flavour, s)
			req, _ := http.NewRequest(http.MethodPost, hb+"/_smp/stall?for=1h", strings.NewReader("x"))
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !strings.Contains(string(body), tc.wantMsg) {
				t.Errorf("%s over %s: %d %q, want 403 naming %q", tc.name, flavour, resp.StatusCode, body, tc.wantMsg)
			}
		}
	}
	if s.Stats().StalledUntil != nil {
		t.Fatal("a refused request stalled the target")
	}
	if st, _, _ := get(t, c, base+"/_smp/defaults", nil); st != 403 {
		t.Errorf("GET /_smp/defaults without the token: %d, want 403", st)
	}
	if st, body := post(t, c, base+"/_smp/stall?for=0", tok); st != 200 {
		t.Errorf("with the token: %d %s", st, body)
	}
	// Stats and metrics stay open: they change nothing.
	if st, _, _ := get(t, c, base+"/_smp/stats", nil); st != 200 {
		t.Errorf("stats without the token: %d", st)
	}

	// A token given is used as is; a short one is refused.
	given := startTarget(t, Config{HTTP: anyPort, Control: true, ControlToken: "a-token-of-20-chars!"})
	if given.ControlToken() != "a-token-of-20-chars!" {
		t.Errorf("ControlToken() = %q", given.ControlToken())
	}
	var ce *ConfigError
	if _, err := Start(context.Background(), Config{HTTP: anyPort, Control: true, ControlToken: "short"}); !errors.As(err, &ce) || ce.Field != "ControlToken" {
		t.Errorf("short token: %v", err)
	}
	if off := startTarget(t, Config{HTTP: anyPort}); off.ControlToken() != "" {
		t.Error("a token without --control")
	}
}
