package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/smp-project/smp/internal/selfsigned"
)

// selfSigned makes a certificate for an agent that was given none, valid
// for the listen host (and localhost, 127.0.0.1 and ::1) for a year.
func selfSigned(host string) (tls.Certificate, []byte, error) {
	return selfsigned.New("smp agent", 365*24*time.Hour, host)
}

// certPool reads a PEM file of CA certificates.
func certPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
