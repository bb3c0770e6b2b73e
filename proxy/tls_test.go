package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths.
func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smp proxy test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, keyf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, keyf
}

func TestTLSListener(t *testing.T) {
	cert, key := selfSigned(t)
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", Upstream: "http://" + startTarget(t), CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, h2 := range []bool{true, false} {
		var p http.Protocols
		p.SetHTTP1(!h2)
		p.SetHTTP2(h2)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		a := do(t, c, "GET", "https://"+srv.Addr().String()+"/?size=5", "")
		want := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[h2]
		if a.status != 200 || len(a.body) != 5 || a.proto != want {
			t.Errorf("status %d, %d bytes, %s; want 200, 5, %s", a.status, len(a.body), a.proto, want)
		}
	}
	if _, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:1", CertFile: cert}); err == nil {
		t.Error("a certificate without a key started")
	}
}
