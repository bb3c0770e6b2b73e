package target

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNormalizeAddr(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{":8080", "127.0.0.1:8080", ""},
		{"8080", "127.0.0.1:8080", ""},
		{"0.0.0.0:80", "0.0.0.0:80", ""},
		{"[::1]:0", "[::1]:0", ""},
		{"localhost:1", "localhost:1", ""},
		{"", "", "empty"},
		{"host", "", "HOST:PORT"},
		{":99999", "", "0 to 65535"},
		{":http", "", "0 to 65535"},
	}
	for _, tt := range tests {
		got, err := NormalizeAddr(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NormalizeAddr(%q) = %q, %v; want error mentioning %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no listener", Config{}, "HTTP"},
		{"bad address", Config{HTTP: "nowhere"}, "HTTP"},
		{"negative size", Config{HTTP: anyPort, Defaults: Behavior{Size: -1}}, "Defaults"},
		{"bad status", Config{HTTP: anyPort, Defaults: Behavior{Status: 700}}, "Defaults"},
		{"bad error rate", Config{HTTP: anyPort, Defaults: Behavior{ErrorRate: 1.5}}, "Defaults"},
		{"negative capacity", Config{HTTP: anyPort, Capacity: -1}, "Capacity"},
		{"NaN rate", Config{HTTP: anyPort, MaxRPS: math.NaN()}, "MaxRPS"},
		{"negative queue", Config{HTTP: anyPort, Queue: -1}, "Queue"},
		{"bad drop", Config{UDP: anyPort, UDPDrop: 2}, "UDPDrop"},
		{"cert without key", Config{HTTP: anyPort, CertFile: "x.pem"}, "CertFile"},
		{"missing cert", Config{HTTP: anyPort, CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key"}, "CertFile"},
	}
	for _, tt := range tests {
		s, err := Start(context.Background(), tt.cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: no error", tt.name)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("%s: %v, want a ConfigError on %s", tt.name, err, tt.field)
		}
	}
}

func TestPortInUse(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, UDP: anyPort})
	for _, cfg := range []Config{
		{HTTP: s.Addrs().HTTP},
		{GRPC: s.Addrs().HTTP},
		{TCP: anyPort, UDP: s.Addrs().UDP}, // the TCP listener opened first is closed again
	} {
		_, err := Start(context.Background(), cfg)
		var le *ListenError
		if !errors.As(err, &le) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%+v: %v, want a ListenError with EADDRINUSE", cfg, err)
			continue
		}
		if !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("message %q", err)
		}
	}
}

func TestStopOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{HTTP: anyPort, TCP: anyPort, UDP: anyPort, GRPC: anyPort})
	if err != nil {
		t.Fatal(err)
	}
	c, base := httpClient(t, "http1", s)
	get(t, c, base+"/", nil)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", s.Addrs().HTTP)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening after the context was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

// TestCloseWhileBusy closes a server with requests waiting in a delay, in
// the queue and in a stall: Close must not hang.
func TestCloseWhileBusy(t *testing.T) {
	s, err := Start(context.Background(), Config{HTTP: anyPort, GRPC: anyPort, TCP: anyPort, Capacity: 1, Queue: 5,
		Defaults: Behavior{Delay: FixedDelay(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range []string{"http1", "h2c"} {
		c, base := httpClient(t, fl, s)
		for range 2 {
			go func() {
				if resp, err := c.Get(base + "/"); err == nil {
					resp.Body.Close()
				}
			}()
		}
	}
	s.Stall(time.Minute)
	for deadline := time.Now().Add(5 * time.Second); s.Stats().QueueLength < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with busy requests")
	}
}

func TestTLSFromFiles(t *testing.T) {
	cert, certPEM, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("key is %T", cert.PrivateKey)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// CertFile and KeyFile imply TLS.
	s := startTarget(t, Config{HTTP: anyPort, CertFile: certFile, KeyFile: keyFile})
	if string(s.CertPEM()) != string(certPEM) {
		t.Error("CertPEM is not the given certificate")
	}
	c, base := httpClient(t, "h2", s)
	if st, _, _ := get(t, c, base+"/", nil); st != http.StatusOK {
		t.Errorf("status %d", st)
	}
}

// WriteListeners names every listener with its address and the defaults;
// a certificate file implies TLS.
func TestWriteListeners(t *testing.T) {
	srv, err := Start(context.Background(), Config{HTTP: "127.0.0.1:0", UDP: "127.0.0.1:0", Capacity: 10, Defaults: Behavior{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var b strings.Builder
	srv.WriteListeners(&b)
	a := srv.Addrs()
	for _, want := range []string{"http  " + a.HTTP + " (loopback only)  HTTP/1.1 and h2c", "udp   " + a.UDP + " (loopback only)  echo",
		"loopback only: other machines and pods cannot reach such a listener", "size 64, status 200", "capacity 10,"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "grpc") || strings.Contains(b.String(), "tcp ") {
		t.Errorf("names a listener that is not there:\n%s", b.String())
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:1": true, "[::1]:80": true,
		"[::]:8080": false, "0.0.0.0:80": false, "10.0.0.1:80": false, "localhost:80": false, "junk": false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
}
