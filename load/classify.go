package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Error reasons, the keys of Figures.ErrorReasons. Drivers wrap the
// net/syscall errors they meet (with %w) so that Classify can see them.
const (
	ReasonConnectRefused = "connect_refused"
	ReasonTimeout        = "timeout"
	ReasonReset          = "reset"
	ReasonTLS            = "tls"
	ReasonEOF            = "eof"
	// ReasonLost is a request of a connectionless protocol (UDP) whose
	// reply never came: a lost datagram rather than a slow one.
	ReasonLost = "lost"
	// ReasonCancelled is a request in flight when the caller stopped the
	// run (Ctrl-C, SIGTERM): sent, never answered, not the target's fault
	// as far as anyone knows.
	ReasonCancelled = "cancelled"
	ReasonOther     = "other"
)

// lostError is implemented by errors that mean a lost datagram (the UDP
// driver's ErrLost), so that the engine can tell a loss from a timeout
// without importing the driver. Lost must return true.
type lostError interface {
	error
	Lost() bool
}

// Reason indexes: counters are arrays indexed by them.
const (
	reasonConnectRefused = iota
	reasonTimeout
	reasonReset
	reasonTLS
	reasonEOF
	reasonLost
	reasonCancelled
	reasonOther
	numReasons
)

// Classify names the kind of a transport error: connect_refused, timeout,
// reset, tls, eof, lost or other; "" for nil. It is the same function the
// engine counts errors with. An error is lost when it (or one it wraps) has
// a method Lost() bool that returns true; that is checked before timeout,
// since a lost datagram is also a timeout.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	return reasonName(classify(err))
}

func reasonName(r int) string {
	switch r {
	case reasonConnectRefused:
		return ReasonConnectRefused
	case reasonTimeout:
		return ReasonTimeout
	case reasonReset:
		return ReasonReset
	case reasonTLS:
		return ReasonTLS
	case reasonEOF:
		return ReasonEOF
	case reasonLost:
		return ReasonLost
	case reasonCancelled:
		return ReasonCancelled
	}
	return ReasonOther
}

func classify(err error) int {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonConnectRefused
	case isTLS(err):
		return reasonTLS
	case isLost(err):
		return reasonLost
	case isTimeout(err):
		return reasonTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return reasonReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reasonEOF
	}
	return reasonOther
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isLost(err error) bool {
	var le lostError
	return errors.As(err, &le) && le.Lost()
}

func isTLS(err error) bool {
	var (
		rh  tls.RecordHeaderError
		ae  tls.AlertError
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		ech *tls.ECHRejectionError
	)
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &ech)
}

// IsConnectError reports whether err means that no exchange with the
// endpoint took place, so that a test against it cannot run: the
// connection could not be established (refused, no route, DNS failure,
// dial timeout), the TLS handshake failed on the server's certificate
// (untrusted, for another name, expired) or because the other side does
// not speak TLS, or no answer came within the timeout. The start-up probe
// uses it to tell a target that cannot be measured from one that answers,
// if badly. A lost datagram (UDP) is no connect error: datagrams are lost
// at random, and the next one may get its echo.
func IsConnectError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	if isHandshakeFailure(err) {
		return true
	}
	if isTimeout(err) && !isLost(err) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isHandshakeFailure reports whether err is a TLS handshake that failed on
// our side: the server's certificate did not verify, or what answered is
// not TLS. (An alert the server sends is not counted: a TLS server that
// does not offer the application protocol asked for, HTTP/2 for gRPC,
// says so with one, and that is the wrong server rather than no server.)
func isHandshakeFailure(err error) bool {
	var (
		rh tls.RecordHeaderError
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
