package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// datagramLost is shaped like the UDP driver's loss error: a net.Error that
// times out, and says whether it is a loss.
type datagramLost struct{ lost bool }

func (datagramLost) Error() string   { return "datagram lost" }
func (datagramLost) Timeout() bool   { return true }
func (datagramLost) Temporary() bool { return true }
func (e datagramLost) Lost() bool    { return e.lost }

func TestClassify(t *testing.T) {
	op := func(op string, err error) error {
		return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: err}}
	}
	tests := []struct {
		name      string
		err       error
		want      string
		isConnect bool
	}{
		{"nil", nil, "", false},
		{"refused", fmt.Errorf("http1: %w", op("dial", syscall.ECONNREFUSED)), ReasonConnectRefused, true},
		{"reset", fmt.Errorf("http1: read: %w", op("read", syscall.ECONNRESET)), ReasonReset, false},
		{"broken pipe", op("write", syscall.EPIPE), ReasonReset, false},
		{"deadline", fmt.Errorf("http1: %w", os.ErrDeadlineExceeded), ReasonTimeout, true},
		{"context deadline", context.DeadlineExceeded, ReasonTimeout, true},
		{"dial timeout", op("dial", syscall.ETIMEDOUT), ReasonTimeout, true},
		{"unknown authority", fmt.Errorf("tls: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), ReasonTLS, true},
		{"wrong name", fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "example.org"}), ReasonTLS, true},
		{"expired", x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}, ReasonTLS, true},
		{"tls alert", fmt.Errorf("handshake: %w", tls.AlertError(40)), ReasonTLS, false},
		{"not tls", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonTLS, true},
		{"lost datagram", fmt.Errorf("udp: request 7: %w", datagramLost{lost: true}), ReasonLost, false},
		{"a loss that says it is not", datagramLost{lost: false}, ReasonTimeout, true},
		{"eof", fmt.Errorf("http1: read: %w", io.EOF), ReasonEOF, false},
		{"short body", io.ErrUnexpectedEOF, ReasonEOF, false},
		{"dns", &net.DNSError{Err: "no such host", Name: "nowhere.invalid"}, ReasonOther, true},
		{"no route", op("dial", syscall.EHOSTUNREACH), ReasonOther, true},
		{"other", errors.New("malformed status line"), ReasonOther, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
			}
			if got := IsConnectError(tt.err); got != tt.isConnect {
				t.Errorf("IsConnectError(%v) = %v, want %v", tt.err, got, tt.isConnect)
			}
		})
	}
}

// A real refused dial and a real reset, as the kernel reports them.
func TestClassifyRealErrors(t *testing.T) {
	u := refusedURL(t)
	_, err := net.DialTimeout("tcp", u[len("http://"):len(u)-1], time.Second)
	if got := Classify(err); got != ReasonConnectRefused || !IsConnectError(err) {
		t.Errorf("refused dial: Classify = %q, IsConnectError = %v (%v)", got, IsConnectError(err), err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		// Reset only once the client is connected and has written, so
		// that the reset meets its read, not its connect. Linger 0 turns
		// the close into a RST.
		c.Read(make([]byte, 1))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	if got := Classify(err); got != ReasonReset {
		t.Errorf("read after RST: Classify = %q (%v)", got, err)
	}
}
