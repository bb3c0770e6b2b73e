package target

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config says which listeners to open and how the target behaves.
type Config struct {
	// Listen addresses; "" leaves a listener off. A bare port (":8080" or
	// "8080") binds 127.0.0.1; "127.0.0.1:0" picks any free port.
	HTTP, GRPC, TCP, UDP string
	// TLS serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on the HTTP listener
	// and TLS on the gRPC listener, with CertFile/KeyFile or, when they are
	// empty, a self-signed certificate for localhost, 127.0.0.1 and ::1.
	// Giving CertFile and KeyFile implies TLS.
	TLS               bool
	CertFile, KeyFile string
	// Defaults is the behaviour of a request that overrides nothing.
	Defaults Behavior
	// Capacity bounds the requests served at once; 0 is unlimited.
	Capacity int
	// MaxRPS admits at most this many requests per second (a token bucket
	// holding max(1, MaxRPS/10) tokens, i.e. 100 ms of burst); 0 is unlimited.
	MaxRPS float64
	// Queue is how many requests may wait for Capacity or MaxRPS; the rest
	// are rejected at once (503, gRPC UNAVAILABLE). 0 rejects at once.
	Queue int
	// Control enables the /_smp/ control endpoints (stall, close, defaults,
	// stats/reset). Every control request must carry ControlToken in the
	// X-Smp-Token header, and none may carry an Origin header: a browser
	// sends Origin, so a web page the operator visits cannot drive the
	// target even with the token guessed.
	Control bool
	// ControlToken is the secret control requests carry; with Control and
	// no token, Start generates one (Server.ControlToken). At least 16
	// printable ASCII characters.
	ControlToken string
	// ControlRemote accepts control requests from any client, not only
	// loopback ones. Loopback is no protection behind a proxy or a mesh
	// sidecar, where every client connects from 127.0.0.1: the token is.
	ControlRemote bool
	// UDPDrop is the probability that a UDP datagram gets no echo, for loss
	// tests.
	UDPDrop float64

	// Timeouts, each 0 for its default and negative for none. A
	// connection past one is closed and counted (Stats.Timeouts).
	//
	// HeaderTimeout bounds the time from a connection's accept, or a
	// request's first byte, to the end of the request head (HTTP/1.1; TLS
	// handshake included; the gRPC connection preface).
	HeaderTimeout time.Duration
	// ReadTimeout bounds a wait for more of a request body (HTTP/1.1).
	ReadTimeout time.Duration
	// WriteTimeout bounds a write that makes no progress: a client that
	// stops reading loses its connection, and so its capacity slot (every
	// listener; an HTTP/2 stream is reset, a gRPC stream's connection
	// closed).
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for a next request (HTTP/1.1, HTTP/2,
	// gRPC) or, on TCP, for more bytes to echo.
	IdleTimeout time.Duration

	// MaxConns bounds the open connections over all TCP listeners; at the
	// bound a new connection evicts the one that has waited longest for
	// its client to send a request head, or is refused when none does.
	// 0 derives it from the descriptor limit (RLIMIT_NOFILE less 64);
	// negative is unlimited.
	MaxConns int
	// MaxStreams bounds the concurrent streams of an HTTP/2 or gRPC
	// connection; 0 is DefaultMaxStreams.
	MaxStreams int
	// MaxEcho bounds an echoed request body or gRPC request message, in
	// bytes; 0 is DefaultMaxEcho. A larger body gets 413 (gRPC
	// RESOURCE_EXHAUSTED).
	MaxEcho int
	// MaxInFlightBytes bounds the request bytes held at once over all
	// connections (echo bodies, mostly); a request that would exceed it
	// gets 503 (gRPC RESOURCE_EXHAUSTED). 0 is DefaultMaxInFlightBytes,
	// negative unlimited.
	MaxInFlightBytes int64
}

// Addrs are the host:port addresses actually bound; "" for a listener that
// is off.
type Addrs struct {
	HTTP, GRPC, TCP, UDP string
}

// maxQueue bounds Config.Queue: a queue is for studying saturation, and a
// million waiting requests is already a memory test.
const maxQueue = 1_000_000

// ConfigError reports a Config field that is out of range. Field is the Go
// field name (Capacity, Defaults, HTTP...), so that a command can name the
// flag it came from.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return "target: " + e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ListenError reports a listener that could not be opened, most often a
// port in use (errors.Is(err, syscall.EADDRINUSE)).
type ListenError struct {
	Protocol string // http, grpc, tcp or udp
	Addr     string
	Err      error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("target: %s listener on %s: %v", e.Protocol, e.Addr, e.Err)
}
func (e *ListenError) Unwrap() error { return e.Err }

func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if c.HTTP == "" && c.GRPC == "" && c.TCP == "" && c.UDP == "" {
		return bad("HTTP", "no listener configured: set at least one of HTTP, GRPC, TCP, UDP")
	}
	for _, l := range []struct{ field, addr string }{{"HTTP", c.HTTP}, {"GRPC", c.GRPC}, {"TCP", c.TCP}, {"UDP", c.UDP}} {
		if l.addr == "" {
			continue
		}
		if _, err := NormalizeAddr(l.addr); err != nil {
			return &ConfigError{Field: l.field, Err: err}
		}
	}
	if err := c.Defaults.Validate(); err != nil {
		return &ConfigError{Field: "Defaults", Err: err}
	}
	if c.Capacity < 0 {
		return bad("Capacity", "%d: must be 0 (unlimited) or a positive number of concurrent requests", c.Capacity)
	}
	if math.IsNaN(c.MaxRPS) || math.IsInf(c.MaxRPS, 0) || c.MaxRPS < 0 {
		return bad("MaxRPS", "%v: must be 0 (unlimited) or a positive rate", c.MaxRPS)
	}
	if c.Queue < 0 || c.Queue > maxQueue {
		return bad("Queue", "%d: must be from 0 to %d", c.Queue, maxQueue)
	}
	if math.IsNaN(c.UDPDrop) || c.UDPDrop < 0 || c.UDPDrop > 1 {
		return bad("UDPDrop", "%v: must be a probability from 0 to 1", c.UDPDrop)
	}
	if c.ControlToken != "" {
		if err := validToken(c.ControlToken); err != nil {
			return &ConfigError{Field: "ControlToken", Err: err}
		}
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return bad("CertFile", "give both the certificate file and its key file")
	}
	return nil
}

// NormalizeAddr turns a listen address into host:port, with 127.0.0.1 when
// only a port is given (":8080" or "8080"): a workload server should not be
// reachable from the network unless asked to be.
func NormalizeAddr(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("empty address")
	}
	if _, err := strconv.Atoi(addr); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: want HOST:PORT or :PORT", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("address %q: port must be a number from 0 to 65535", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
