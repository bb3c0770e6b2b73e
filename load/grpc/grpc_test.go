package grpc

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smp-project/smp/load"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url, addr, service, method string
		tls                        bool
		err                        string
	}{
		{url: "grpc://127.0.0.1:9000/a.b.Svc/Do", addr: "127.0.0.1:9000", service: "a.b.Svc", method: "Do"},
		{url: "grpcs://example.test/Svc/Do", addr: "example.test:443", service: "Svc", method: "Do", tls: true},
		{url: "grpc://127.0.0.1:9000", addr: "127.0.0.1:9000", service: "grpc.health.v1.Health", method: "Check"},
		{url: "grpc://127.0.0.1:9000/", addr: "127.0.0.1:9000", service: "grpc.health.v1.Health", method: "Check"},
		{url: "grpc://[::1]:9000/p.S/M", addr: "[::1]:9000", service: "p.S", method: "M"},
		{url: "http://127.0.0.1:9000/p.S/M", err: "unsupported URL scheme"},
		{url: "grpc:///p.S/M", err: "no host"},
		{url: "grpc://h:1/p.S", err: "must be /package.Service/Method"},
		{url: "grpc://h:1/p.S/M/x", err: "must be /package.Service/Method"},
		{url: "grpc://h:1/p..S/M", err: "must be /package.Service/Method"},
		{url: "grpc://h:1/p.S/M?x=1", err: "no query"},
		{url: "grpc://h:1/p.S/1M", err: "must be /package.Service/Method"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			e, err := parseURL(tc.url)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want error containing %q", e, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.addr != tc.addr || e.service != tc.service || e.method != tc.method || e.tls != tc.tls {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name, json string
		want       Config
		err        string
	}{
		{name: "empty", json: ""},
		{name: "null", json: "null"},
		{name: "one protoset", json: `{"protoset": "a.protoset"}`, want: Config{Protosets: StringList{"a.protoset"}}},
		{name: "lists", json: `{"proto": ["a.proto", "b.proto"], "import_paths": ["inc"], "authority": "svc.test", "server_name": "svc", "max_recv_msg_bytes": 1024}`,
			want: Config{Protos: StringList{"a.proto", "b.proto"}, ImportPaths: StringList{"inc"}, Authority: "svc.test", ServerName: "svc", MaxRecvMsgBytes: 1024}},
		{name: "unknown key", json: `{"protosets": "a"}`, err: `unknown key "protosets" (known keys: protoset, proto`},
		{name: "wrong type", json: `{"max_recv_msg_bytes": "big"}`, err: "max_recv_msg_bytes: want a int"},
		{name: "bad list", json: `{"proto": 3}`, err: "want a string or a list of strings"},
		{name: "negative", json: `{"max_recv_msg_bytes": -1}`, err: "must not be negative"},
		{name: "import paths alone", json: `{"import_paths": ["x"]}`, err: "without proto files"},
		{name: "empty name", json: `{"proto": [""]}`, err: "empty file name"},
		{name: "not an object", json: `[1]`, err: "additional_options"},
		{name: "trailing", json: `{} {}`, err: "trailing data"},
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
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// labRequest exercises nested messages, lists, maps and a well-known type,
// so that a wrong encoding shows up in what the server decodes.
const labRequest = `{"name": "lab", "size": 100, "messages": 3, "delay": "0.001s",
	"inner": {"count": 7, "tags": ["x"]}, "items": [{"count": 1}, {"tags": ["a", "b"]}],
	"byKey": {"k": {"count": 9}}}`

// TestReflection calls a server that can only be known by reflection:
// its service is built from a descriptor at run time.
func TestReflection(t *testing.T) {
	for _, version := range []string{"v1", "v1alpha", "both"} {
		t.Run(version, func(t *testing.T) {
			s := startLab(t, labOptions{reflection: version})
			checkLabCalls(t, s, Config{})
		})
	}
}

// TestDescriptorFiles takes the descriptors from files, from a server
// without reflection.
func TestDescriptorFiles(t *testing.T) {
	s := startLab(t, labOptions{})
	_, protoPath := labFiles(t, t.TempDir())
	cases := []struct {
		name string
		cfg  Config
	}{
		{"protoset with imports", Config{Protosets: StringList{writeProtoset(t, s.files, true)}}},
		{"protoset without imports", Config{Protosets: StringList{writeProtoset(t, s.files, false)}}},
		{"proto file", Config{Protos: StringList{protoPath}}},
		{"proto file under an import path", Config{Protos: StringList{protoPath}, ImportPaths: StringList{strings.TrimSuffix(protoPath, "lab.proto")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkLabCalls(t, s, tc.cfg)
		})
	}
}

func checkLabCalls(t *testing.T, s *labServer, cfg Config) {
	t.Helper()
	respSize := labRespSize(t, s.files, 100)

	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Body: []byte(labRequest)}, cfg)
	c := openConn(t, d)
	for range 3 {
		out, err := do(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if out != (load.Outcome{Bytes: respSize}) {
			t.Fatalf("unary: got %+v, want %d bytes and code OK", out, respSize)
		}
	}
	req, _ := s.lastRequest()
	for path, want := range map[string]any{
		"name": "lab", "size": int32(100), "inner.count": int32(7), "inner.tags[0]": "x",
		"items[0].count": int32(1), "items[1].tags[1]": "b", "by_key[k].count": int32(9),
		"delay.nanos": int32(1_000_000),
	} {
		if got := field(t, req, path).Interface(); got != want {
			t.Errorf("server decoded %s = %v, want %v", path, got, want)
		}
	}

	d = newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labWatch, Body: []byte(labRequest)}, cfg)
	c = openConn(t, d)
	out, err := do(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if out != (load.Outcome{Bytes: 3 * respSize}) {
		t.Fatalf("server stream: got %+v, want %d bytes (3 messages) and code OK", out, 3*respSize)
	}
}

// TestOutcomes covers what a server can answer, and what happens when it
// does not answer in time.
func TestOutcomes(t *testing.T) {
	s := startLab(t, labOptions{reflection: "v1"})
	cases := []struct {
		name    string
		body    string
		timeout time.Duration
		want    load.Outcome
		// for a call that ends in an error:
		code   codes.Code
		reason string
		is     error
	}{
		{name: "ok", body: `{"size": 10}`, want: load.Outcome{Bytes: 12}},
		{name: "unavailable from the server", body: `{"code": 14}`, want: load.Outcome{Code: int(codes.Unavailable), Failed: true}},
		{name: "deadline exceeded from the server", body: `{"code": 4}`, want: load.Outcome{Code: int(codes.DeadlineExceeded), Failed: true}},
		{name: "not found", body: `{"code": 5}`, want: load.Outcome{Code: int(codes.NotFound), Failed: true}},
		{name: "own deadline", body: `{"delay": "2s"}`, timeout: 100 * time.Millisecond,
			code: codes.DeadlineExceeded, reason: load.ReasonTimeout, is: context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Body: []byte(tc.body), Timeout: tc.timeout}, Config{})
			c := openConn(t, d)
			start := time.Now()
			out, err := do(t, c)
			if tc.code == codes.OK {
				if err != nil || out != tc.want {
					t.Fatalf("got %+v, %v; want %+v", out, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", out)
			}
			if status.Code(err) != tc.code || load.Classify(err) != tc.reason || !errors.Is(err, tc.is) {
				t.Errorf("error %q: code %s, reason %s, is %v; want %s, %s, %v", err, status.Code(err), load.Classify(err), errors.Is(err, tc.is), tc.code, tc.reason, tc.is)
			}
			if el := time.Since(start); el > tc.timeout+time.Second {
				t.Errorf("the call took %v with a %v deadline", el, tc.timeout)
			}
		})
	}
}

func TestHealthCheckByDefault(t *testing.T) {
	with := startLab(t, labOptions{health: true})
	without := startLab(t, labOptions{})
	cases := []struct {
		name, url, body string
		want            load.Outcome
	}{
		{"serving", "grpc://" + with.addr, "", load.Outcome{Bytes: 2}},
		{"with a service name", "grpc://" + with.addr + "/", `{"service": ""}`, load.Outcome{Bytes: 2}},
		{"unknown service", "grpc://" + with.addr, `{"service": "nope"}`, load.Outcome{Code: int(codes.NotFound), Failed: true}},
		{"no health service", "grpc://" + without.addr, "", load.Outcome{Code: int(codes.Unimplemented), Failed: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openConn(t, newDriver(t, load.Options{URL: tc.url, Body: []byte(tc.body)}, Config{}))
			out, err := do(t, c)
			if err != nil || out != tc.want {
				t.Fatalf("got %+v, %v; want %+v", out, err, tc.want)
			}
		})
	}
}

// TestConnectionErrors: refused at the start, and a server that goes away
// during a run.
func TestConnectionErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		addr := closedPort(t)
		d := newDriver(t, load.Options{URL: "grpc://" + addr}, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		c, err := d.Open(ctx)
		if err == nil {
			c.Close()
			t.Fatal("Open succeeded on a closed port")
		}
		checkRefused(t, err)

		// Reflection needs the server at New: the error says it is down.
		_, err = New(ctx, load.Options{URL: "grpc://" + addr + "/" + labUnary, Timeout: testTimeout}, Config{})
		checkRefused(t, err)
	})
	t.Run("server goes away", func(t *testing.T) {
		s := startLab(t, labOptions{health: true})
		c := openConn(t, newDriver(t, load.Options{URL: "grpc://" + s.addr}, Config{}))
		if _, err := do(t, c); err != nil {
			t.Fatal(err)
		}
		s.srv.Stop()
		// The broken connection, then refused reconnects: every error
		// unwraps to its cause.
		deadline := time.Now().Add(testTimeout)
		for i := 0; ; i++ {
			_, err := do(t, c)
			if err == nil {
				t.Fatal("a call succeeded on a stopped server")
			}
			if status.Code(err) != codes.Unavailable {
				t.Errorf("call %d: code %s, want Unavailable: %v", i, status.Code(err), err)
			}
			if r := load.Classify(err); r == load.ReasonConnectRefused {
				break
			} else if r == load.ReasonOther {
				t.Errorf("call %d: error %q is not classified", i, err)
			}
			if time.Now().After(deadline) || i > 1000 {
				t.Fatalf("no refused connection after %d calls: %v", i, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func checkRefused(t *testing.T, err error) {
	t.Helper()
	t.Log(err)
	if !errors.Is(err, syscall.ECONNREFUSED) || !load.IsConnectError(err) || load.Classify(err) != load.ReasonConnectRefused {
		t.Errorf("error %q: refused %v, connect error %v, reason %s", err, errors.Is(err, syscall.ECONNREFUSED), load.IsConnectError(err), load.Classify(err))
	}
}

// closedPort returns a 127.0.0.1 address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBadInput(t *testing.T) {
	s := startLab(t, labOptions{reflection: "v1", health: true})
	_, protoPath := labFiles(t, t.TempDir())
	base := "grpc://" + s.addr + "/"
	cases := []struct {
		name, url, body string
		cfg             Config
		opts            load.Options
		want            []string
	}{
		{name: "unknown service", url: base + "smptest.lab.v1.Nope/Unary",
			want: []string{"no service smptest.lab.v1.Nope", "it offers: grpc.health.v1.Health, grpc.reflection.v1.ServerReflection, smptest.lab.v1.Lab"}},
		{name: "unknown service in files", url: base + "smptest.lab.v1.Nope/Unary", cfg: Config{Protos: StringList{protoPath}},
			want: []string{"service smptest.lab.v1.Nope is not in the given descriptors", "services there: smptest.lab.v1.Lab"}},
		{name: "unknown method", url: base + "smptest.lab.v1.Lab/Nope",
			want: []string{"service smptest.lab.v1.Lab has no method Nope", "its methods: Unary (unary), Upload (client streaming, not supported), Watch (server streaming)"}},
		{name: "client streaming", url: base + "smptest.lab.v1.Lab/Upload", want: []string{"client-streaming method", "only unary and server-streaming"}},
		{name: "unknown field", url: base + labUnary, body: `{"nmae": "x"}`,
			want: []string{"does not fit message smptest.lab.v1.Req", "field nmae: no such field in smptest.lab.v1.Req; its fields: name, code, size"}},
		{name: "nested wrong type", url: base + labUnary, body: `{"name": "x", "inner": {"count": "many"}}`,
			want: []string{"field inner.count: invalid value for int32 field count"}},
		{name: "list element", url: base + labUnary, body: `{"items": [{"count": 1}, {"tags": [1]}]}`,
			want: []string{"field items[1].tags[0]:"}},
		{name: "map value", url: base + labUnary, body: `{"byKey": {"a": {"bogus": 1}}}`,
			want: []string{`field byKey["a"].bogus: no such field in smptest.lab.v1.Inner`}},
		{name: "well-known type", url: base + labUnary, body: `{"delay": "soon"}`, want: []string{"field delay:"}},
		{name: "not an object", url: base + labUnary, body: `[1, 2]`, want: []string{"(top level): want a JSON object for message smptest.lab.v1.Req"}},
		{name: "message given a scalar", url: base + labUnary, body: `{"inner": 3}`, want: []string{"field inner: want a JSON object"}},
		{name: "invalid JSON", url: base + labUnary, body: `{"name": }`, want: []string{"not valid JSON"}},
		{name: "missing proto file", url: base + labUnary, cfg: Config{Protos: StringList{"/nonexistent/x.proto"}}, want: []string{"compile /nonexistent/x.proto"}},
		{name: "bad protoset", url: base + labUnary, cfg: Config{Protosets: StringList{protoPath}}, want: []string{"is not a FileDescriptorSet"}},
		{name: "reserved header", url: base, opts: load.Options{Headers: map[string]string{"grpc-timeout": "1S"}}, want: []string{"set by gRPC itself"}},
		{name: "bad header name", url: base, opts: load.Options{Headers: map[string]string{"X Y": "1"}}, want: []string{"metadata names"}},
		{name: "bad binary header", url: base, opts: load.Options{Headers: map[string]string{"x-bin": "!!"}}, want: []string{"must be base64"}},
		{name: "TLS options on plaintext", url: base, opts: load.Options{InsecureSkipVerify: true}, want: []string{"use grpcs://"}},
		{name: "HTTP method", url: base, opts: load.Options{Method: "GET"}, want: []string{"no HTTP method"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.URL, opts.Body, opts.Timeout = tc.url, []byte(tc.body), testTimeout
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			d, err := New(ctx, opts, tc.cfg)
			if err == nil {
				d.Close()
				t.Fatal("New succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestNotGRPC points the driver at servers that are not gRPC servers. New
// finds out and says what answered: by reflection when the URL names a
// method, else by a first call (of the health check, or of a method whose
// descriptor comes from files). None of it is a connect error, so that
// smprun reports bad input rather than an unreachable target.
func TestNotGRPC(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	h1 := httptest.NewServer(hello)
	t.Cleanup(h1.Close)
	h2 := httptest.NewServer(h2c.NewHandler(hello, &http2.Server{}))
	t.Cleanup(h2.Close)
	https := func(withHTTP2 bool) *httptest.Server {
		s := httptest.NewUnstartedServer(hello)
		s.EnableHTTP2 = withHTTP2                      // else ALPN http/1.1 only
		s.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	https1, https2 := https(false), https(true)
	cert := newCerts(t).server
	grpcTLS := startLab(t, labOptions{health: true, tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	noALPN := startTLSSilent(t, cert)
	// A TLS server that answers a record it cannot read with a fatal
	// alert (protocol_version) and hangs up, and a server of another
	// protocol that speaks first.
	tlsAlert := startRaw(t, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46}, true)
	ssh := startRaw(t, []byte("SSH-2.0-OpenSSH_9.6\r\n"), false)
	_, protoPath := labFiles(t, t.TempDir())
	host := func(s *httptest.Server) string { return s.Listener.Addr().String() }

	cases := []struct {
		name, url string
		answer    []string // what the error says answered
	}{
		{"HTTP/1.1 server", "grpc://" + host(h1), []string{`an HTTP/1 server answered "HTTP/1.1 200 OK" ("hello")`, "gRPC needs HTTP/2"}},
		{"h2c server", "grpc://" + host(h2), []string{"an HTTP/2 server answered, but not with gRPC", "200 (OK)", `content-type "text/plain; charset=utf-8"`, `body "hello\n"`}},
		{"HTTPS server on grpc://", "grpc://" + host(https1), []string{"closed the connection without answering the HTTP/2 preface", "use grpcs://"}},
		{"gRPC TLS server on grpc://", "grpc://" + grpcTLS.addr, []string{"closed the connection without answering the HTTP/2 preface", "use grpcs://"}},
		{"HTTP/1.1 TLS server on grpcs://", "grpcs://" + host(https1), []string{"a TLS server that does not offer HTTP/2", "no application protocol"}},
		{"HTTP/2 TLS server on grpcs://", "grpcs://" + host(https2), []string{"an HTTP/2 server answered, but not with gRPC", `content-type "text/plain; charset=utf-8"`}},
		{"TLS server without ALPN on grpcs://", "grpcs://" + noALPN, []string{"a TLS server that does not offer HTTP/2", `chose no ALPN protocol`}},
		{"TLS alert on grpc://", "grpc://" + tlsAlert, []string{"a TLS server answered the plaintext connection: use grpcs://"}},
		{"SSH server", "grpc://" + ssh, []string{`it answered "SSH-2.0-OpenSSH_9.6\r\n", which is not HTTP/2`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tlsOpts := strings.HasPrefix(tc.url, "grpcs:")
			for _, v := range []struct {
				how, path string
				cfg       Config
			}{
				{"reflection", "/" + labUnary, Config{}},
				{"health check", "", Config{}},
				{"method from files", "/" + labUnary, Config{Protos: StringList{protoPath}}},
			} {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				start := time.Now()
				d, err := New(ctx, load.Options{URL: tc.url + v.path, Timeout: testTimeout, InsecureSkipVerify: tlsOpts}, v.cfg)
				cancel()
				if err == nil {
					d.Close()
					t.Errorf("%s: New succeeded", v.how)
					continue
				}
				checkNotGRPC(t, err, tc.answer...)
				if load.IsConnectError(err) {
					t.Errorf("%s: %v is a connect error", v.how, err)
				}
				if took := time.Since(start); took > testTimeout/2 {
					t.Errorf("%s: New took %v", v.how, took)
				}
			}
		})
	}
}

// startTLSSilent starts a TLS server on 127.0.0.1 that offers no ALPN
// protocol and, after the handshake, neither sends nor answers anything.
func startTLSSilent(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				_, _ = io.Copy(io.Discard, c) // handshakes; ends when the client hangs up
			})
		}
	})
	return ln.Addr().String()
}

// startRaw starts a TCP server on 127.0.0.1 that sends greeting to every
// connection, then ends its side of it (when hangUp is set), and reads
// until the client hangs up.
func startRaw(t *testing.T, greeting []byte, hangUp bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				if _, err := c.Write(greeting); err != nil {
					return
				}
				if hangUp {
					// A FIN, and no RST for the client's unread bytes.
					_ = c.(*net.TCPConn).CloseWrite()
				}
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	return ln.Addr().String()
}

func checkNotGRPC(t *testing.T, err error, answer ...string) {
	t.Helper()
	t.Log(err)
	if !errors.Is(err, ErrNotGRPC) || !strings.Contains(fmt.Sprint(err), "the server does not speak gRPC: ") {
		t.Errorf("error %q does not say the server is not a gRPC server", err)
	}
	for _, a := range answer {
		if !strings.Contains(fmt.Sprint(err), a) {
			t.Errorf("error %q does not say %q", err, a)
		}
	}
}

// TestNoHealthService: a gRPC server without the health service is a
// target all the same. New's first call finds UNIMPLEMENTED, a gRPC status,
// and every call of the run counts it; the connection of New's call is the
// first Open's.
func TestNoHealthService(t *testing.T) {
	s := startLab(t, labOptions{})
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr}, Config{})
	if got := s.conns.Load(); got != 1 {
		t.Errorf("New made %d connections, want 1", got)
	}
	c := openConn(t, d)
	for range 3 {
		out, err := do(t, c)
		if want := (load.Outcome{Code: int(codes.Unimplemented), Failed: true}); err != nil || out != want {
			t.Fatalf("got %+v, %v; want %+v", out, err, want)
		}
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("New, Open and calls made %d connections, want 1", got)
	}
}

// TestChannelsAndStreams: every Streams Opens share a connection, and
// the calls of those Conns run concurrently on it.
func TestChannelsAndStreams(t *testing.T) {
	s := startLab(t, labOptions{reflection: "v1"})
	const channels, streams = 2, 3
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Streams: streams, Body: []byte(`{"delay": "0.2s"}`)}, Config{})
	before := s.conns.Load() // the reflection connection
	conns := make([]load.Conn, channels*streams)
	for i := range conns {
		conns[i] = openConn(t, d)
	}
	if got := s.conns.Load() - before; got != channels {
		t.Errorf("%d Opens with %d streams made %d connections, want %d", len(conns), streams, got, channels)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if out, err := do(t, c); err != nil || out.Failed {
				t.Errorf("got %+v, %v", out, err)
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	maxFlight := s.maxFlight
	s.mu.Unlock()
	if maxFlight != len(conns) {
		t.Errorf("at most %d calls were in flight at once, want %d", maxFlight, len(conns))
	}
	// Closing every Conn closes the channels; a new Open makes a new one.
	for _, c := range conns {
		c.Close()
	}
	openConn(t, d)
	if got := s.conns.Load() - before; got != channels+1 {
		t.Errorf("after closing all Conns, an Open made %d connections in all, want %d", got, channels+1)
	}
}

func TestMetadata(t *testing.T) {
	s := startLab(t, labOptions{reflection: "v1"})
	opts := load.Options{
		URL: "grpc://" + s.addr + "/" + labUnary,
		Headers: map[string]string{
			"X-Team": "blue", "x-token-bin": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
			"Host": "lab.test", "User-Agent": "smp-test",
		},
		Cookies: map[string]string{"b": "2", "a": "1"},
	}
	c := openConn(t, newDriver(t, opts, Config{}))
	if _, err := do(t, c); err != nil {
		t.Fatal(err)
	}
	_, md := s.lastRequest()
	for key, want := range map[string]string{
		"x-team": "blue", "x-token-bin": "\x00\x01\x02", ":authority": "lab.test", "cookie": "a=1; b=2",
	} {
		if got := md.Get(key); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %q, want %q", key, got, want)
		}
	}
	if ua := md.Get("user-agent"); len(ua) != 1 || !strings.HasPrefix(ua[0], "smp-test ") {
		t.Errorf("user-agent %q, want it to start with smp-test", ua)
	}
}

func TestTLS(t *testing.T) {
	cs := newCerts(t)
	plain := startLab(t, labOptions{health: true, tls: &tls.Config{Certificates: []tls.Certificate{cs.server}}})
	mutual := startLab(t, labOptions{health: true, tls: &tls.Config{
		Certificates: []tls.Certificate{cs.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: cs.clientPool,
	}})
	cases := []struct {
		name   string
		addr   string
		opts   load.Options
		cfg    Config
		reason string // "" for success
	}{
		{name: "CA file", addr: plain.addr, opts: load.Options{CAFile: cs.serverCert}},
		{name: "server name", addr: plain.addr, opts: load.Options{CAFile: cs.serverCert}, cfg: Config{ServerName: "lab.test"}},
		{name: "skip verify", addr: plain.addr, opts: load.Options{InsecureSkipVerify: true}},
		{name: "unknown authority", addr: plain.addr, reason: load.ReasonTLS},
		{name: "wrong server name", addr: plain.addr, opts: load.Options{CAFile: cs.serverCert}, cfg: Config{ServerName: "other.test"}, reason: load.ReasonTLS},
		{name: "client certificate", addr: mutual.addr, opts: load.Options{CAFile: cs.serverCert, CertFile: cs.clientCert, KeyFile: cs.clientKey}},
		{name: "TLS to a plaintext server", addr: startLab(t, labOptions{health: true}).addr, opts: load.Options{InsecureSkipVerify: true}, reason: load.ReasonTLS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.URL = "grpcs://" + tc.addr
			d := newDriver(t, opts, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := d.Open(ctx)
			if err == nil {
				defer c.Close()
				var out load.Outcome
				out, err = c.Do(ctx)
				if err == nil && out.Failed {
					t.Fatalf("got %+v", out)
				}
			}
			if got := load.Classify(err); got != tc.reason {
				t.Errorf("error %v: reason %q, want %q", err, got, tc.reason)
			}
		})
	}
	// A client certificate the server requires but does not get: the
	// handshake fails on the server's side, after the client's.
	t.Run("missing client certificate", func(t *testing.T) {
		d := newDriver(t, load.Options{URL: "grpcs://" + mutual.addr, CAFile: cs.serverCert}, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		c, err := d.Open(ctx)
		if err == nil {
			defer c.Close()
			_, err = c.Do(ctx)
		}
		if err == nil {
			t.Fatal("a call without the required client certificate succeeded")
		}
	})
}

func TestClosedDriverAndConn(t *testing.T) {
	s := startLab(t, labOptions{health: true})
	d := newDriver(t, load.Options{URL: "grpc://" + s.addr}, Config{})
	c := openConn(t, d)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Error("Do on a closed Conn succeeded")
	}
	// Closing the driver closes the channels of the Conns still open.
	c2 := openConn(t, d)
	d.Close()
	if _, err := d.Open(context.Background()); err == nil {
		t.Error("Open on a closed Driver succeeded")
	}
	if _, err := do(t, c2); err == nil {
		t.Error("Do on a Conn of a closed Driver succeeded")
	}
	if err := c2.Close(); err != nil {
		t.Errorf("Close after the driver's: %v", err)
	}
}

// TestRunStopped: a call cut short by the run's context says so.
func TestRunStopped(t *testing.T) {
	s := startLab(t, labOptions{reflection: "v1"})
	c := openConn(t, newDriver(t, load.Options{URL: "grpc://" + s.addr + "/" + labUnary, Body: []byte(`{"delay": "5s"}`)}, Config{}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the run context's error", err)
	}
}
