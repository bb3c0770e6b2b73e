package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// runCerts are one run's certificates: a CA made for the run, the agents'
// server certificate and the coordinator's client certificate, both
// signed by it. The CA's key never leaves the process, so nothing else can
// mint a certificate the agents or the coordinator would accept, and the
// whole set is worthless once the run ends.
type runCerts struct {
	caPEM                []byte
	serverPEM, serverKey []byte
	client               tls.Certificate
	pool                 *x509.CertPool
}

// newRunCerts makes a run's certificates, valid for lifetime. The server
// certificate names serverName, which the coordinator asks for whatever
// address it dials: the agents are reached by pod IPs that are not known
// when the certificate is made.
func newRunCerts(serverName string, lifetime time.Duration) (*runCerts, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "smp agents CA (" + serverName + ")"},
		// An hour's slack each side for clocks that differ.
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(lifetime + time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IsCA:     true, BasicConstraintsValid: true, MaxPathLenZero: true,
	}
	caDER, caCert, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("the run's CA: %w", err)
	}
	leaf := func(cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			Subject:   pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(lifetime + time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames:    dns,
		}
		der, _, err := sign(tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
	}
	rc := &runCerts{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	rc.pool.AddCert(caCert)
	if rc.serverPEM, rc.serverKey, err = leaf("smp agent", x509.ExtKeyUsageServerAuth, []string{serverName}); err != nil {
		return nil, fmt.Errorf("the agents' certificate: %w", err)
	}
	clientPEM, clientKey, err := leaf("smp coordinator", x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's certificate: %w", err)
	}
	if rc.client, err = tls.X509KeyPair(clientPEM, clientKey); err != nil {
		return nil, fmt.Errorf("the coordinator's certificate: %w", err)
	}
	return rc, nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

// clientTLS is the coordinator's side: its client certificate, trust in
// the run's CA only, and the agents' server name.
func (rc *runCerts) clientTLS(serverName string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: rc.pool,
		Certificates: []tls.Certificate{rc.client}, ServerName: serverName}
}
