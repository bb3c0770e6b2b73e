package smprun

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/target"
)

// Each kind of failure at the start gets its own explanation, naming the
// address and what to do.
func TestEndpointFailureExplain(t *testing.T) {
	dial := func(err error) error {
		return fmt.Errorf("http1: connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}})
	}
	verify := func(err error) error {
		return fmt.Errorf("http1: tls: %w", &tls.CertificateVerificationError{Err: err})
	}
	cert := &x509.Certificate{DNSNames: []string{"localhost"}}
	tests := []struct {
		name string
		f    EndpointFailure
		want []string
	}{
		{"untrusted", EndpointFailure{URL: "https://127.0.0.1:8443/", Err: verify(x509.UnknownAuthorityError{})},
			[]string{"certificate of the target at 127.0.0.1:8443 is not trusted (x509: certificate signed by unknown authority)",
				"pass --cacert FILE with the CA that signed it, or -k to skip verification (not for production measurements)"}},
		{"untrusted by the CA given", EndpointFailure{URL: "https://127.0.0.1:8443/", CAFile: "ca.pem", Err: verify(x509.UnknownAuthorityError{})},
			[]string{"not signed by a CA in ca.pem", "--cacert FILE", "-k"}},
		{"another name", EndpointFailure{URL: "https://example.org/", Err: verify(x509.HostnameError{Certificate: cert, Host: "example.org"})},
			[]string{"target at example.org is not valid for that name", "valid for localhost, not example.org", "a name the certificate lists", "-k"}},
		{"expired", EndpointFailure{URL: "grpcs://127.0.0.1:8079", Err: verify(x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired})},
			[]string{"is not valid (x509: certificate has expired", "-k"}},
		{"https to plaintext", EndpointFailure{URL: "https://127.0.0.1:8080/x", Protocol: ProtoHTTP, Err: fmt.Errorf("http1: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"})},
			[]string{"127.0.0.1:8080 does not speak TLS", "use http://127.0.0.1:8080/x"}},
		{"grpcs to plaintext", EndpointFailure{URL: "grpcs://127.0.0.1:8079", Protocol: ProtoGRPC, Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}},
			[]string{"does not speak TLS", "use grpc://127.0.0.1:8079"}},
		{"refused", EndpointFailure{URL: "http://127.0.0.1:1/", Err: dial(syscall.ECONNREFUSED)},
			[]string{"connection refused at 127.0.0.1:1: is the target running and listening on that address? check the URL"}},
		{"no such host", EndpointFailure{URL: "http://nowhere.invalid/", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}},
			[]string{"cannot resolve nowhere.invalid", "no such host", "check the host name"}},
		{"no route", EndpointFailure{URL: "http://10.1.2.3:80/", Err: dial(syscall.EHOSTUNREACH)},
			[]string{"no route to 10.1.2.3:80", "no route to host"}},
		{"no answer", EndpointFailure{URL: "tcp://127.0.0.1:9", Timeout: 2 * time.Second, Err: fmt.Errorf("tcp: read: %w", os.ErrDeadlineExceeded)},
			[]string{"no answer from 127.0.0.1:9 within 2s: the target is not answering (check it, or raise --timeout)"}},
		{"no answer in time, gRPC", EndpointFailure{URL: "grpc://127.0.0.1:9", Timeout: time.Second, Err: fmt.Errorf("grpc: %w", context.DeadlineExceeded)},
			[]string{"no answer from 127.0.0.1:9 within 1s"}},
		{"something else", EndpointFailure{URL: "http://127.0.0.1:9/", Err: errors.New("http://127.0.0.1:9/: http1: the moon is wrong")},
			[]string{"could not start: http://127.0.0.1:9/: http1: the moon is wrong"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.f.Explain()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

// startFailure runs a 200 ms test of url with the settings and returns its
// error, which must be a *StartError wrapping load.ErrUnreachable.
func startFailure(t *testing.T, url string, s Settings) *StartError {
	t.Helper()
	s.URLs = []string{url}
	s.Duration = ptr(200 * time.Millisecond)
	cfg, err := ApplySettings(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err = Execute(ctx, cfg, PlanOptions{}, ResultOptions{})
	var se *StartError
	if !errors.As(err, &se) || !errors.Is(err, load.ErrUnreachable) {
		t.Fatalf("err = %v (%T), want a *StartError wrapping ErrUnreachable", err, err)
	}
	t.Log(err)
	return se
}

func wantIn(t *testing.T, msg string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%q lacks %q", msg, w)
		}
	}
}

// The built-in target over TLS with its self-signed certificate: HTTPS,
// HTTP/2 and gRPC without -k or --cacert stop at the start, saying how to
// trust it; with the certificate as --cacert, or with -k, they run.
func TestExecuteUntrustedTarget(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", GRPC: "127.0.0.1:0", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ca := filepath.Join(t.TempDir(), "target.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	a := srv.Addrs()
	for _, tc := range []struct{ name, url, protocol string }{
		{"https", "https://" + a.HTTP + "/", ""},
		{"http2", "https://" + a.HTTP + "/", ProtoHTTP2},
		{"grpcs health check", "grpcs://" + a.GRPC, ""},
		{"grpcs method by reflection", "grpcs://" + a.GRPC + "/smp.target.v1.Echo/Echo", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Settings{}
			if tc.protocol != "" {
				s.Protocol = ptr(tc.protocol)
			}
			se := startFailure(t, tc.url, s)
			wantIn(t, se.Error(), "is not trusted (x509: certificate signed by unknown authority)", "--cacert FILE", "-k to skip verification")
			if len(se.Failures) != 1 || se.Failures[0].URL != tc.url {
				t.Errorf("failures %+v", se.Failures)
			}
			for _, trust := range []Settings{{CACert: ptr(ca)}, {Insecure: ptr(true)}} {
				trust.URLs, trust.Duration, trust.Protocol = []string{tc.url}, ptr(200*time.Millisecond), s.Protocol
				cfg, err := ApplySettings(nil, trust)
				if err != nil {
					t.Fatal(err)
				}
				res, _, err := Execute(context.Background(), cfg, PlanOptions{}, ResultOptions{})
				if err != nil || res.Total.Errors != 0 || res.Total.Requests == 0 {
					t.Errorf("trusting the target (%v): err %v, result %+v", trust, err, res)
				}
			}
		})
	}
}

// A certificate that a CA given vouches for, but for other names than
// the URL's; a plaintext server on an https URL; a server that accepts
// connections but never answers.
func TestExecuteStartFailures(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	tlsSrv := httptest.NewUnstartedServer(hello)        // for example.com and 127.0.0.1, not localhost
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	t.Run("another name", func(t *testing.T) {
		se := startFailure(t, "https://localhost:"+port+"/", Settings{CACert: ptr(ca)})
		wantIn(t, se.Error(), "target at localhost:"+port+" is not valid for that name", "not localhost", "-k")
	})

	plain := httptest.NewServer(hello)
	t.Cleanup(plain.Close)
	t.Run("not TLS", func(t *testing.T) {
		u := "https://" + plain.Listener.Addr().String() + "/"
		se := startFailure(t, u, Settings{})
		wantIn(t, se.Error(), "does not speak TLS", "use http://"+plain.Listener.Addr().String()+"/")
	})

	silent := silentServer(t)
	for _, u := range []string{"http://" + silent + "/", "https://" + silent + "/", "tcp://" + silent} {
		t.Run("no answer "+u[:strings.Index(u, ":")], func(t *testing.T) {
			start := time.Now()
			se := startFailure(t, u, Settings{Timeout: ptr(300 * time.Millisecond)})
			wantIn(t, se.Error(), "no answer from "+silent+" within 300ms", "raise --timeout")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v with a 300ms timeout", took)
			}
		})
	}
}

// silentServer accepts connections on 127.0.0.1 and never reads or writes.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// Several endpoints that all fail: one line each.
func TestExecuteSeveralUnreachable(t *testing.T) {
	a, b := freeAddr(t), freeAddr(t)
	cfg, err := ApplySettings(nil, Settings{URLs: []string{"http://" + a + "/", "http://" + b + "/"}, Duration: ptr(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Execute(context.Background(), cfg, PlanOptions{}, ResultOptions{})
	var se *StartError
	if !errors.As(err, &se) || len(se.Failures) != 2 {
		t.Fatalf("err = %v, want a *StartError with two failures", err)
	}
	wantIn(t, err.Error(), "none of the 2 endpoints answered at the start:\n", "connection refused at "+a+":", "connection refused at "+b+":")
}

// freeAddr returns a loopback address nothing listens on: a port that was
// free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// An engine error that cannot be told apart by endpoint is explained as a
// whole.
func TestStartErrorWithoutEndpoints(t *testing.T) {
	err := fmt.Errorf("%w: %w", load.ErrUnreachable, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: syscall.ECONNREFUSED})
	eps := []endpointInfo{{url: "http://a/"}, {url: "http://b/"}}
	se := &StartError{Failures: endpointFailures(err, eps), Err: err}
	if len(se.Failures) != 0 {
		t.Fatalf("failures %+v", se.Failures)
	}
	wantIn(t, se.Error(), "connection refused at 127.0.0.1:1")
}
