// Package load is the load engine: it paces requests (open loop at a fixed
// schedule, or closed loop), drives them through protocol drivers over a set
// of connections, and records latency without coordinated omission.
//
// The seam between the engine and a protocol is the Driver/Conn pair below:
// protocol packages (load/http1, load/http2, ...) implement them and know
// nothing about pacing or recording.
package load

import (
	"context"
	"time"
)

// Outcome is what a driver reports for one completed request/response
// exchange. A transport failure is reported as an error instead.
type Outcome struct {
	// Code is the protocol's status: the HTTP status code, the gRPC status
	// code, 0 for protocols without one.
	Code int
	// Failed marks an application-level failure (HTTP status >= 400, gRPC
	// code != OK). The engine counts it as an error and by Code.
	Failed bool
	// Bytes is the number of response body bytes read.
	Bytes int64
	// Connect is the set-up time (dial, TLS and protocol handshakes) when
	// this Do had to open a new connection first — a reconnect after the
	// previous connection failed or was closed (or every request, for a
	// connection-per-request mode); 0 when it reused one. It is set when
	// the Do failed too, whether the reconnect itself failed or the request
	// after it, so the engine can count reconnects and time them apart from
	// requests.
	Connect time.Duration
}

// Conn sends requests one at a time. A Conn is used by one goroutine only, so
// it needs no locking. Do is the hot path: in the steady state (keep-alive,
// no reconnect) the HTTP/1.1, HTTP/2, TCP and UDP drivers and gRPC unary
// calls allocate nothing; gRPC server-streaming calls, still on grpc-go,
// allocate about 100 objects a call.
type Conn interface {
	// Do performs one request to the endpoint the Conn was opened for and
	// reads the whole response. A request is sent once: Do never re-sends
	// it on its own, on a new connection or otherwise. ctx is the run's context: it is cancelled
	// when the run stops. A per-request timeout is the driver's business
	// (set at Open from Options.Timeout). After an error the Conn must
	// reconnect on the next Do by itself.
	Do(ctx context.Context) (Outcome, error)
	// Close releases the connection.
	Close() error
}

// Protocol says what a driver speaks, so that results say it too.
type Protocol struct {
	// Name names the protocol in results: http (HTTP/1.1), http2, grpc,
	// tcp, udp.
	Name string
	// Codes names what Outcome.Code is, in the keys of failed responses
	// ("http_503", "grpc_14"): http for HTTP/1.1 and HTTP/2 alike, grpc
	// for gRPC. It is "" for a protocol without status codes (TCP, UDP):
	// the engine then counts no codes for its requests.
	Codes string
}

// Driver opens Conns for one endpoint of one protocol.
type Driver interface {
	// Open returns a new Conn, connected: the engine opens every Conn
	// before the schedule starts so that no handshake falls inside the
	// measured window, and it times Open as the connection's set-up. A
	// connection that cannot be made is an error here.
	Open(ctx context.Context) (Conn, error)
	// Close releases what the driver shares between its Conns.
	Close() error
	// Protocol says what the driver speaks.
	Protocol() Protocol
}

// Options are the protocol-independent request settings a driver gets.
type Options struct {
	URL         string            // endpoint URL, e.g. http://127.0.0.1:8080/path
	Method      string            // HTTP method; "" means GET, or POST when Body is set
	Headers     map[string]string // extra request headers (Host may be overridden here)
	Cookies     map[string]string
	Body        []byte
	ContentType string
	Timeout     time.Duration // per request; 0 means the driver's default (30s)
	// TLS
	InsecureSkipVerify bool
	CAFile             string // PEM bundle to trust (the SMP ssl_certificate)
	CertFile, KeyFile  string // client certificate
	// Streams is the number of concurrent streams per connection for
	// multiplexing protocols (HTTP/2, gRPC), and the number of Conns
	// sharing one socket for UDP (their datagrams matched by sequence
	// number); 1 otherwise.
	Streams int
}
