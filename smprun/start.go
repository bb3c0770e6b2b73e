package smprun

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/grpc"
	"github.com/smp-project/smp/load/http1"
	"github.com/smp-project/smp/load/http2"
	"github.com/smp-project/smp/load/tcp"
	"github.com/smp-project/smp/load/udp"
)

// StartError is a test that could not start: no endpoint answered at the
// start (the engine's probe, or a gRPC driver that had to ask the server
// for a method's descriptor). It wraps load.ErrUnreachable, and its
// message says, for each endpoint, what happened and what to do, in terms
// of smp run's flags.
type StartError struct {
	// Failures are the endpoints' failures, in the order of the config.
	// They are empty when the engine's error could not be told apart by
	// endpoint; the message then explains Err as a whole.
	Failures []EndpointFailure
	// Err is the error as the engine (or driver) reported it.
	Err error
}

func (e *StartError) Unwrap() error { return e.Err }

func (e *StartError) Error() string {
	if len(e.Failures) == 0 {
		return EndpointFailure{Err: e.Err}.Explain()
	}
	var lines []string
	seen := map[string]bool{}
	for _, f := range e.Failures {
		if l := f.Explain(); !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("none of the %d endpoints answered at the start:\n  %s", len(e.Failures), strings.Join(lines, "\n  "))
}

// EndpointFailure is why one endpoint could not be used at the start.
type EndpointFailure struct {
	URL string
	// Protocol is the client's (ProtoHTTP...), for the plaintext scheme to
	// suggest when the target does not speak TLS.
	Protocol string
	// Timeout is the request timeout the endpoint had.
	Timeout time.Duration
	// CAFile is the file of CAs the client trusted (--cacert); "" for the
	// system's.
	CAFile string
	// Err is the driver's error.
	Err error
}

// notForProduction is the caveat every hint to skip verification carries.
const notForProduction = "or -k to skip verification (not for production measurements)"

// Explain says what happened and what to do about it, in one line.
func (f EndpointFailure) Explain() string {
	err := f.Err
	at := f.addr()
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		dns *net.DNSError
	)
	switch {
	case errors.As(err, &ua):
		if f.CAFile != "" {
			return fmt.Sprintf("the certificate of the target at %s is not signed by a CA in %s (%s): pass --cacert FILE with the CA that signed it, %s",
				at, f.CAFile, ua.Error(), notForProduction)
		}
		return fmt.Sprintf("the certificate of the target at %s is not trusted (%s): pass --cacert FILE with the CA that signed it, %s",
			at, ua.Error(), notForProduction)
	case errors.As(err, &he):
		return fmt.Sprintf("the certificate of the target at %s is not valid for that name (%s): put a name the certificate lists in the URL, %s",
			at, he.Error(), notForProduction)
	case errors.As(err, &ci):
		return fmt.Sprintf("the certificate of the target at %s is not valid (%s): renew or fix it on the target, %s",
			at, ci.Error(), notForProduction)
	case errors.As(err, &cv):
		return fmt.Sprintf("the certificate of the target at %s did not verify (%v): pass --cacert FILE with the CA that signed it, %s",
			at, cv.Err, notForProduction)
	case errors.As(err, &rh):
		return fmt.Sprintf("the target at %s does not speak TLS (%s): for a plaintext target use %s, else check the port",
			at, rh.Error(), f.plaintextURL())
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused at %s: is the target running and listening on that address? check the URL", at)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve %s (%v): check the host name in the URL", at, dns)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("no route to %s (%v): check the address in the URL, and the network", at, rootCause(err))
	case isTimeout(err):
		within := ""
		if f.Timeout > 0 {
			within = " within " + f.Timeout.String()
		}
		return fmt.Sprintf("no answer from %s%s: the target is not answering (check it, or raise --timeout)", at, within)
	}
	if f.URL == "" {
		return fmt.Sprintf("the test could not start: %v", err)
	}
	return fmt.Sprintf("the test could not start: %s: %v", f.URL, strings.TrimPrefix(err.Error(), f.URL+": "))
}

// addr is the host:port the failure is about: the URL's, else the one the
// error names, else "the target".
func (f EndpointFailure) addr() string {
	if u, err := url.Parse(f.URL); err == nil && u.Host != "" {
		return u.Host
	}
	var op *net.OpError
	if errors.As(f.Err, &op) && op.Addr != nil {
		return op.Addr.String()
	}
	return "the target"
}

// plaintextURL is the endpoint's URL with the plaintext scheme of its
// protocol.
func (f EndpointFailure) plaintextURL() string {
	scheme := "http"
	if f.Protocol == ProtoGRPC {
		scheme = "grpc"
	}
	if _, rest, ok := strings.Cut(f.URL, "://"); ok {
		return scheme + "://" + rest
	}
	return scheme + "://"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rootCause is the innermost error of a chain of single wraps.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// endpointInfo is what a plan knows of an endpoint to explain a failure
// at the start.
type endpointInfo struct {
	url, protocol, caFile string
	timeout               time.Duration
}

func (e endpointInfo) failure(err error) EndpointFailure {
	return EndpointFailure{URL: e.url, Protocol: e.protocol, Timeout: e.timeout, CAFile: e.caFile, Err: err}
}

// defaultTimeout is a driver's request timeout when the config gives none.
func defaultTimeout(proto string) time.Duration {
	switch proto {
	case ProtoHTTP:
		return http1.DefaultTimeout
	case ProtoHTTP2:
		return http2.DefaultTimeout
	case ProtoGRPC:
		return grpc.DefaultTimeout
	case ProtoTCP:
		return tcp.DefaultTimeout
	case ProtoUDP:
		return udp.DefaultTimeout
	}
	return 0
}

// run runs the plan. When no endpoint answered at the start, the error is
// a *StartError.
// Run runs the plan on the engine. A target that no endpoint could reach
// at the start is a *StartError.
func (p *Plan) Run(ctx context.Context) (*load.Result, error) { return p.run(ctx) }

func (p *Plan) run(ctx context.Context) (*load.Result, error) {
	res, err := load.Run(ctx, p.Load)
	if err != nil && errors.Is(err, load.ErrUnreachable) {
		return res, &StartError{Failures: endpointFailures(err, p.endpoints), Err: err}
	}
	return res, err
}

// endpointFailures finds each endpoint's error in the engine's: the
// engine joins one error per failed endpoint, each "URL: driver error".
// It returns nil when it finds none of them.
func endpointFailures(err error, eps []endpointInfo) []EndpointFailure {
	var out []EndpointFailure
	var walk func(error)
	walk = func(e error) {
		if multi, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range multi.Unwrap() {
				walk(c)
			}
			return
		}
		msg := e.Error()
		for _, ep := range eps {
			if strings.HasPrefix(msg, ep.url+": ") {
				out = append(out, ep.failure(e))
				return
			}
		}
		if next := errors.Unwrap(e); next != nil {
			walk(next)
		}
	}
	walk(err)
	if len(out) == 0 && len(eps) == 1 {
		return []EndpointFailure{eps[0].failure(err)}
	}
	return out
}
