package target

import (
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"github.com/smp-project/smp/internal/selfsigned"
)

// loadTLS returns the server TLS configuration and the certificate in PEM,
// from files or, when none are given, freshly self-signed.
func loadTLS(certFile, keyFile string) (*tls.Config, []byte, error) {
	var (
		cert    tls.Certificate
		certPEM []byte
		err     error
	)
	if certFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, &ConfigError{Field: "CertFile", Err: fmt.Errorf("load %s and %s: %w", certFile, keyFile, err)}
		}
		if certPEM, err = os.ReadFile(certFile); err != nil {
			return nil, nil, &ConfigError{Field: "CertFile", Err: err}
		}
	} else {
		cert, certPEM, err = selfSigned()
		if err != nil {
			return nil, nil, fmt.Errorf("target: self-signed certificate: %w", err)
		}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, certPEM, nil
}

// selfSigned makes a certificate for localhost, 127.0.0.1 and ::1. It is
// its own CA, so a client can trust exactly it (Server.CertPEM).
func selfSigned() (tls.Certificate, []byte, error) {
	return selfsigned.New("smp target", 90*24*time.Hour, "")
}
