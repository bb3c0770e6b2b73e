package wasm

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/proxy/filter"
)

// TestHostCalls drives the Go guest testdata/hostcheck through each
// proxy-wasm call it makes (the x-op header picks them) behind a real
// proxy and target.
func TestHostCalls(t *testing.T) {
	var log syncBuffer
	plugin := load(t, Options{Path: goModule(t, "./testdata/hostcheck"), Name: "hc", Config: []byte("cfg tick"), RootID: "root-7", Log: &log})
	if plugin.Version() != "0_2_1" || !plugin.NeedsBody() {
		t.Fatalf("version %s, needs body %v", plugin.Version(), plugin.NeedsBody())
	}
	p := startProxy(t, plugin)
	check := func(name string, a answer, status int, body ...string) {
		t.Helper()
		if a.status != status {
			t.Errorf("%s: status %d, want %d (body %q)", name, a.status, status, a.body)
		}
		for _, b := range body {
			if !strings.Contains(a.body, b) {
				t.Errorf("%s: body %q lacks %q", name, a.body, b)
			}
		}
	}
	// Header maps: pairs (pseudo-headers first, lower-case names), size,
	// one value, a missing value, no response map yet.
	a := do(t, p, "GET", "/some/path?q=1", "", "X-Op", "headers", "X-A", "1")
	check("get pairs", a, 200, "status=0 ", ":method=GET\n", ":path=/some/path?q=1\n", ":authority=127.0.0.1:", ":scheme=http\n", "x-a=1\n", "method=GET absent=1 response-map=1", "eos=true")
	if a.header.Get("X-Local") != "1" || a.header.Get("X-Smp-Local-Reply") != "hc: hostcheck" {
		t.Errorf("local response headers: %v", a.header)
	}
	// Each change reaches the upstream: the target answers x-smp-status.
	check("remove", do(t, p, "GET", "/", "", "X-Op", "remove", "X-Smp-Status", "503"), 200)
	check("add", do(t, p, "GET", "/", "", "X-Op", "add"), 202)
	check("replace", do(t, p, "GET", "/", "", "X-Op", "replace", "X-Smp-Status", "503"), 203)
	if a := do(t, p, "GET", "/?size=1", "", "X-Op", "path"); a.status != 200 || len(a.body) != 9 {
		t.Errorf(":path: status %d, %d bytes, want 9", a.status, len(a.body))
	}
	check("set pairs", do(t, p, "GET", "/", "", "X-Op", "setpairs"), 204)
	check("invalid header value refused", do(t, p, "GET", "/", "", "X-Op", "badheader"), 200, "add=2")
	// Bodies: the request body rewritten (longer), the response body
	// prepended and appended; Content-Length follows.
	a = do(t, p, "POST", "/?echo=true", "hello", "X-Op", "body")
	check("bodies", a, 200)
	if a.body != "[HELLO!]" || a.header.Get("Content-Length") != "8" {
		t.Errorf("body %q, content-length %q; want [HELLO!] and 8", a.body, a.header.Get("Content-Length"))
	}
	check("buffer status", do(t, p, "POST", "/", "abcd", "X-Op", "bodystatus2"), 200, "len=4 (0) size=4 eos=true")
	// Response headers: read :status, add, replace :status, remove.
	a = do(t, p, "GET", "/?status=201", "", "X-Op", "resp")
	if a.status != 299 || a.header.Get("X-Upstream-Status") != "201" || a.header.Get("Content-Type") != "" {
		t.Errorf("response headers: %d %v", a.status, a.header)
	}
	check("local response", do(t, p, "GET", "/", "", "X-Op", "local"), 451, "unavailable for legal reasons")
	check("local response in the response phase", do(t, p, "GET", "/", "", "X-Op", "localresp"), 502, "replaced in the response")
	check("properties", do(t, p, "GET", "/p?x=1", "", "X-Op", "props"), 200,
		"request.path=/p?x=1 (0)", "request.method=GET (0)", "request.host=127.0.0.1:", "request.scheme=http (0)",
		"request.protocol=HTTP/1.1 (0)", "plugin_root_id=root-7 (0)", "plugin_name=hc (0)", "source.address=127.0.0.1:",
		"no.such= (1)", "destination.port="+strconv.Itoa(p.Addr().(*net.TCPAddr).Port),
		"set=0 filter.state=v1 (0)")
	check("shared data", do(t, p, "GET", "/", "", "X-Op", "shared"), 200, "configured=cfg tick|root-7 missing=1 set=0 stale=8 fresh=0 value=c")
	a = do(t, p, "GET", "/", "", "X-Op", "time")
	if ns, err := strconv.ParseInt(a.body, 10, 64); err != nil || time.Since(time.Unix(0, ns)).Abs() > time.Minute {
		t.Errorf("time: %q", a.body)
	}
	check("log level", do(t, p, "GET", "/", "", "X-Op", "log"), 200, "level=2 (0)")
	check("continue", do(t, p, "GET", "/", "", "X-Op", "continue"), 200, "continue=0")
	// Ticks every 10 ms (asked in proxy_on_configure).
	time.Sleep(150 * time.Millisecond)
	a = do(t, p, "GET", "/", "", "X-Op", "ticks")
	if n, _ := strconv.Atoi(a.body); n < 3 {
		t.Errorf("%q ticks in 150 ms at 10 ms", a.body)
	}
	// on_done, on_log and on_delete ran for each of the 18 exchanges
	// before.
	before := do(t, p, "GET", "/", "", "X-Op", "counters").body
	after := do(t, p, "GET", "/", "", "X-Op", "counters").body
	var d1, l1, x1, d2, l2, x2 int
	if _, err := fscan(before, &d1, &l1, &x1); err != nil || d1 != 18 || d1 != l1 || l1 != x1 {
		t.Errorf("counters %q (%v)", before, err)
	}
	if _, err := fscan(after, &d2, &l2, &x2); err != nil || d2 != d1+1 || x2 != x1+1 {
		t.Errorf("counters %q then %q", before, after)
	}
	logs := log.String()
	for _, w := range []string{"hc [info] hostcheck: vm start", "hc [warn] hostcheck: warn line"} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
	if strings.Contains(logs, "debug line") {
		t.Errorf("a debug line passed the info level:\n%s", logs)
	}
	st := p.Stats()
	if st.FilterErrors != 0 || st.Filters[0].Cost.Count != st.Requests || st.Filters[0].Extra["traps"] != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func fscan(s string, d, l, x *int) (int, error) {
	n := 0
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		i, err := strconv.Atoi(v)
		if err != nil {
			return n, err
		}
		switch k {
		case "done":
			*d = i
		case "log":
			*l = i
		case "delete":
			*x = i
		}
		n++
	}
	return n, nil
}

// TestTrapFailsOnlyThatRequest: a module that traps (a Go panic; a wasm
// unreachable) fails that request with a 500, counted, and the proxy
// serves the next one with a fresh VM.
func TestTrapFailsOnlyThatRequest(t *testing.T) {
	var log syncBuffer
	hc := load(t, Options{Path: goModule(t, "./testdata/hostcheck"), Name: "hc", Log: &log})
	p := startProxy(t, hc)
	for i, op := range []string{"trap", "trapbody"} {
		a := do(t, p, "POST", "/", "body", "X-Op", op)
		if a.status != 500 || a.header.Get("X-Smp-Filter-Error") != "hc" {
			t.Errorf("%s: %d %v", op, a.status, a.header)
		}
		if a := do(t, p, "GET", "/", "", "X-Op", "time"); a.status != 200 {
			t.Errorf("after %s: status %d", op, a.status)
		}
		st := p.Stats()
		if st.FilterErrors != int64(i+1) || st.Filters[0].Errors != int64(i+1) || st.Filters[0].Extra["traps"] != int64(i+1) || st.Filters[0].Extra["vm_restarts"] != int64(i+1) {
			t.Errorf("after %s: stats %+v", op, st)
		}
	}
	if !strings.Contains(log.String(), "trap, VM replaced") {
		t.Errorf("log: %s", log.String())
	}

	wat := load(t, Options{Path: watModule(t, "trap"), Name: "trap", Log: &log})
	p = startProxy(t, wat)
	for range 3 {
		if a := do(t, p, "GET", "/", "", "X-Trap", "1"); a.status != 500 {
			t.Errorf("unreachable: status %d", a.status)
		}
		if a := do(t, p, "GET", "/", ""); a.status != 200 {
			t.Errorf("after unreachable: status %d", a.status)
		}
	}
	if st := p.Stats(); st.FilterErrors != 3 || st.Forwarded != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestABI010AndUnknownImports: a 0.1.0 module with imports no host
// defines loads; unimplemented calls answer 12, unknown ones their zero.
func TestABI010AndUnknownImports(t *testing.T) {
	plugin := load(t, Options{Path: watModule(t, "abi010"), Name: "abi010", Config: []byte("Z")})
	if plugin.Version() != "0_1_0" || plugin.NeedsBody() {
		t.Fatalf("version %s, needs body %v", plugin.Version(), plugin.NeedsBody())
	}
	p := startProxy(t, plugin)
	a := do(t, p, "GET", "/", "", "A", "1")
	want := []byte{
		0,   // proxy_continue_request
		12,  // proxy_http_call: unimplemented
		12,  // foo.bar: an unknown module's stub
		0,   // env.proxy_future_call (i64, f32) -> f64: an unknown name's stub, zero
		12,  // proxy_log imported with a wrong signature: a stub
		0,   // proxy_get_configuration
		'Z', // its first byte
		12,  // proxy_get_status
		12,  // proxy_define_metric
		0,   // proxy_done
		0,   // proxy_set_effective_context of the current stream
	}
	if a.status != 200 || len(a.body) != 12 || a.body[:11] != string(want) || a.body[11] < 5 {
		t.Errorf("status %d body %v, want %v and a header count", a.status, []byte(a.body), want)
	}
	if n := plugin.Stats()["unimplemented_calls"]; n != 6 {
		t.Errorf("%d unimplemented calls counted, want 6 (the stubs called)", n)
	}
}

// TestRefusedAtStart: what cannot run is refused by Load with a
// *LoadError naming the file and the reason.
func TestRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"missing file", Options{Path: filepath.Join(dir, "none.wasm")}, "no such file"},
		{"empty", Options{Path: write("empty.wasm", nil)}, "not a valid WebAssembly module"},
		{"garbage", Options{Path: write("garbage.wasm", []byte("\x00asm\x01\x00\x00\x00\xff\xff\xff"))}, "not a valid WebAssembly module"},
		{"text", Options{Path: write("text.wasm", []byte("(module)"))}, "not a valid WebAssembly module"},
		{"refused configuration", Options{Path: goModule(t, "./testdata/hostcheck"), Config: []byte("refuse")}, `proxy_on_configure returned false: the module refused its configuration "refuse"`},
		{"ratelimit without a rate", Options{Path: goModule(t, "../../lab/wasm/ratelimit"), Config: []byte("burst=3")}, "proxy_on_configure returned false"},
	}
	if _, err := os.Stat("/usr/bin/wat2wasm"); err == nil || os.Getenv("CI") == "true" {
		cases = append(cases,
			struct {
				name string
				opts Options
				want string
			}{"no ABI version", Options{Path: watModule(t, "noabi")}, "not a proxy-wasm module: it exports none of"},
			struct {
				name string
				opts Options
				want string
			}{"vm start false", Options{Path: watModule(t, "vmstart_false")}, "proxy_on_vm_start returned false"})
	}
	for _, c := range cases {
		c.opts.Cache = testEnv.cache
		c.opts.Log = &syncBuffer{}
		p, err := Load(context.Background(), c.opts)
		var le *LoadError
		if err == nil || !errors.As(err, &le) || le.Path != c.opts.Path || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a LoadError with %q", c.name, err, c.want)
		}
		if p != nil {
			p.Close()
		}
	}
}

// TestRateLimitMatchesNative sends the same requests through the native
// rate limiter and the WebAssembly one (lab/wasm/ratelimit), with the same
// configuration: each passes the burst and answers the rest 429.
func TestRateLimitMatchesNative(t *testing.T) {
	// A token per 10 s: no refill within the test.
	const cfg = "rate=0.1,burst=5,key=header:x-user"
	native, err := filter.Parse("ratelimit:"+cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	rl := goModule(t, "../../lab/wasm/ratelimit")
	for _, c := range []struct {
		name string
		f    filter.Filter
	}{
		{"native", native},
		{"wasm", load(t, Options{Path: rl, Config: []byte(cfg), Log: &syncBuffer{}})},
		{"wasm, 3 VMs", load(t, Options{Path: rl, Config: []byte(cfg), Instances: 3, Log: &syncBuffer{}})},
	} {
		p := startProxy(t, c.f)
		for _, user := range []string{"ann", "bob"} {
			ok := 0
			for range 20 {
				a := do(t, p, "GET", "/", "", "X-User", user)
				switch a.status {
				case 200:
					ok++
				case 429:
					if a.body != "rate limited\n" {
						t.Errorf("%s: 429 body %q", c.name, a.body)
					}
				default:
					t.Fatalf("%s: status %d", c.name, a.status)
				}
			}
			if ok != 5 {
				t.Errorf("%s, user %s: %d of 20 passed; want the burst, 5", c.name, user, ok)
			}
		}
	}
}

// TestCallTimeout: with CallTimeout, a module that loops forever on a
// request fails that request (500) once the timeout has passed, its VM is
// replaced, the log says why, and the next request is served.
func TestCallTimeout(t *testing.T) {
	var log syncBuffer
	// No shared compilation cache: this load compiles with termination
	// checks, the others without.
	plugin, err := Load(context.Background(), Options{Path: watModule(t, "loop"), Name: "loop", Log: &log, CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plugin.Close() })
	p := startProxy(t, plugin)
	for i := range 2 {
		start := time.Now()
		a := do(t, p, "GET", "/", "", "X-Loop", "1")
		took := time.Since(start)
		if a.status != 500 || a.header.Get("X-Smp-Filter-Error") != "loop" {
			t.Errorf("looping request %d: %d %v", i, a.status, a.header)
		}
		if took < 200*time.Millisecond || took > 5*time.Second {
			t.Errorf("looping request %d answered after %v, want just over the 200ms timeout", i, took)
		}
		if a := do(t, p, "GET", "/", ""); a.status != 200 {
			t.Errorf("after looping request %d: status %d", i, a.status)
		}
	}
	if st := p.Stats(); st.FilterErrors != 2 || st.Forwarded != 2 || st.Filters[0].Extra["traps"] != 2 || st.Filters[0].Extra["vm_restarts"] != 2 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(log.String(), "still running after the 200ms call timeout") {
		t.Errorf("log: %s", log.String())
	}
}
