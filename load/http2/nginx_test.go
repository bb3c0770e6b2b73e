package http2

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// nginx is a Debian nginx started for a test on 127.0.0.1: h2c with prior
// knowledge on one port, TLS with ALPN h2 on another.
type nginx struct {
	h2c, tls string // base URLs
	caFile   string
	bigSize  int
}

// findNginx returns the nginx binary. Without one the test skips, except
// in CI (CI=true), where nginx is required: .ci/run installs Debian's.
func findNginx(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			return "/usr/sbin/nginx" // not on a non-root user's PATH
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("required in CI (CI=true): nginx not found: %v", err)
		}
		t.Skipf("skipped: nginx not found (install Debian's nginx to run the HTTP/2 tests against it): %v", err)
	}
	return path
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNginx writes a configuration into a temporary directory and runs
// nginx in the foreground on it, until the test ends. keepalive_requests
// is 100, so that nginx sends GOAWAY after every 100 requests on a
// connection.
func startNginx(t *testing.T) *nginx {
	t.Helper()
	bin := findNginx(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	n := &nginx{caFile: certFile, bigSize: 1 << 20}
	big := bytes.Repeat([]byte("0123456789abcdef"), n.bigSize/16)
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	h2cAddr, tlsAddr := freePort(t), freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	keepalive_requests 100;
	client_max_body_size 4m;
	server {
		listen %[2]s http2;
		listen %[3]s ssl http2;
		ssl_certificate %[4]s;
		ssl_certificate_key %[5]s;
		location = / { return 200 "hello"; }
		location = /big { alias %[1]s/big; }
		location = /post { client_body_in_single_buffer on; return 200 "got it"; }
	}
}
`, dir, h2cAddr, tlsAddr, certFile, keyFile)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "error.log"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s", err, stderr.Bytes(), log)
		default:
		}
		if up(h2cAddr) && up(tlsAddr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start listening")
		}
	}
	n.h2c, n.tls = "http://"+h2cAddr, "https://localhost:"+strings.Split(tlsAddr, ":")[1]
	return n
}

func up(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// writeCert writes a self-signed certificate for localhost and 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestNginx: Debian's nginx over h2c and over TLS gives the status and body
// sizes net/http's HTTP/2 client gets (the oracle, over h2c), takes request
// bodies, and its GOAWAY after keepalive_requests (100) moves the requests
// to a new connection, failing only the streams it did not process.
func TestNginx(t *testing.T) {
	n := startNginx(t)
	for _, base := range []struct{ name, url string }{{"h2c", n.h2c}, {"TLS", n.tls}} {
		t.Run(base.name, func(t *testing.T) {
			opts := func(path string) load.Options { return nginxOptions(base.url+path, base.name == "TLS", n.caFile) }
			for _, tc := range []struct {
				path   string
				method string
				body   []byte
			}{
				{path: "/"},
				{path: "/big"},
				{path: "/missing"},
				{path: "/", method: "HEAD"},
				{path: "/post", body: bytes.Repeat([]byte("x"), 300<<10)},
			} {
				var want load.Outcome
				if tc.body == nil {
					code, size := netHTTPDo(t, n.h2c+tc.path, cmp(tc.method, "GET"))
					want = load.Outcome{Code: code, Failed: code >= 400, Bytes: size}
				} else {
					want = load.Outcome{Code: 200, Bytes: int64(len("got it"))}
				}
				o := opts(tc.path)
				o.Method, o.Body = tc.method, tc.body
				c := openConn(t, newDriver(t, o))
				for i := range 3 {
					if out, err := c.Do(context.Background()); err != nil || out != want {
						t.Errorf("%s %s, request %d: %+v, %v; want %+v", cmp(tc.method, "GET"), tc.path, i, out, err, want)
					}
				}
			}
		})
		t.Run(base.name+" GOAWAY after 100 requests", func(t *testing.T) {
			const conns, perConn = 4, 100
			o := nginxOptions(base.url+"/", base.name == "TLS", n.caFile)
			o.Streams = conns
			d := newDriver(t, o)
			ok, errs := runConns(t, d, conns, perConn)
			for _, err := range errs {
				var ge *h2.GoAwayError
				if !errors.As(err, &ge) {
					t.Errorf("unexpected error: %v", err)
				}
			}
			// One connection carries 100 requests, so at least 3 GOAWAYs
			// came; each can leave at most the other 3 streams unprocessed.
			if ok < conns*perConn-3*(conns*perConn/100) {
				t.Errorf("%d of %d requests answered (%d errors)", ok, conns*perConn, len(errs))
			}
			t.Logf("%d answered, %d not processed after a GOAWAY", ok, len(errs))
		})
	}
}

// nginxOptions trusts nginx's certificate over TLS.
func nginxOptions(url string, tls bool, caFile string) load.Options {
	o := load.Options{URL: url}
	if tls {
		o.CAFile = caFile
	}
	return o
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
