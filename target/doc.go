// Package target is the built-in workload server of smp (`smp target`): a
// service whose behaviour is known and controllable, to measure a mesh
// against and to test the load generator with. Users put it behind a mesh
// as the service under test; every other package's tests start it in
// process with Start.
//
// # Listeners
//
// HTTP/1.1 and HTTP/2 share one port: HTTP/2 by prior knowledge or by
// "Upgrade: h2c", or, with TLS, HTTP/1.1 and HTTP/2 by ALPN. gRPC serves
// smp.target.v1.Echo (unary Echo and server-streaming Stream, see
// proto/echo.proto), the standard health service and server reflection.
// TCP echoes what it reads; UDP echoes datagrams. A listener given only a
// port binds 127.0.0.1.
//
// HTTP/1.1 is served by a lean server of our own (parse into reused
// buffers, write canned responses), so that the target is not the
// bottleneck on loopback; HTTP/2 goes to golang.org/x/net/http2.
//
// # Behaviour
//
// The defaults (Config.Defaults, the flags) can be overridden per request,
// by HTTP query parameters, by x-smp-* headers, and by gRPC metadata of the
// same x-smp-* names; a query parameter wins over a header:
//
//	delay=D      response delay, see below
//	size=N       response body of N bytes (0 to 1 GiB)
//	status=S     HTTP status, 200 to 599; gRPC maps it to a code
//	             (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
//	             404 NOT_FOUND, 409 ABORTED, 412 FAILED_PRECONDITION,
//	             416 OUT_OF_RANGE, 429 RESOURCE_EXHAUSTED, 499 CANCELLED,
//	             500 INTERNAL, 501 UNIMPLEMENTED, 503 UNAVAILABLE,
//	             504 DEADLINE_EXCEEDED, other 2xx OK, anything else UNKNOWN)
//	error=P      fail with probability P in [0,1]: status 500 (gRPC INTERNAL)
//	error=reset:P  fail by resetting the connection (HTTP/2: the stream)
//	echo=true    answer with the request body instead of size bytes
//
// for example /?delay=2ms&size=1024&status=200. Unknown parameters (and
// unknown x-smp-* headers) are ignored and listed in the
// X-Smp-Unknown-Params response header (gRPC: response header metadata), so
// that a typo does not go unnoticed. A malformed value is answered with
// 400 (gRPC INVALID_ARGUMENT) saying what is allowed.
//
// A delay is a Go duration or a distribution, sampled per response:
//
//	2ms                 fixed
//	uniform:1ms-3ms     uniform between the bounds
//	exp:2ms             exponential with mean 2ms
//	lognormal:2ms,10ms  lognormal with median 2ms and 99th percentile 10ms
//	1ms:90,50ms:10      weighted list of fixed delays (weights are relative)
//
// On Linux a delay is timed by a timerfd and is answered within a few tens
// of microseconds of its due time; elsewhere Go's timers may add up to a
// millisecond on an idle server.
//
// TCP and UDP have no per-request parameters: each read (TCP) or datagram
// (UDP) follows the defaults' delay and error rate; a TCP error is always a
// reset, a UDP error is a missing echo.
//
// # Capacity
//
// Config.Capacity bounds concurrent requests and Config.MaxRPS the rate (a
// token bucket with 100 ms of burst). Beyond them up to Config.Queue
// requests wait in FIFO order and the rest are rejected at once: HTTP 503,
// gRPC UNAVAILABLE, a TCP reset, no UDP echo. A request holds its slot for
// its whole delay, so "capacity 100 at 10 ms" is a 10 000 rps service.
//
// # Limits
//
// Whatever clients ask, memory stays bounded: response bodies are cut from
// one shared buffer (gRPC included, by reference); echoed bodies are
// capped by Config.MaxEcho and, over all connections, by
// Config.MaxInFlightBytes (beyond it 503, gRPC RESOURCE_EXHAUSTED); an
// HTTP/2 or gRPC connection carries at most Config.MaxStreams streams.
// Header, read, write and idle timeouts apply on every listener (see
// Config), and at Config.MaxConns a new connection evicts the one waiting
// longest for a request head. Stats.Timeouts, ConnectionsEvicted,
// OverBudget and InFlightBytes count them.
//
// # Control and counters
//
// /_smp/stats (JSON) and /metrics (Prometheus) are always served on the
// HTTP listener. With Config.Control, clients holding the control token
// (Server.ControlToken, sent in the X-Smp-Token header) can also POST
// /_smp/stall?for=1s, POST /_smp/close, POST /_smp/stats/reset and GET or
// POST /_smp/defaults?delay=...; a request carrying an Origin header (a
// browser) is refused, and so is a non-loopback client unless
// Config.ControlRemote. Loopback is no protection behind a proxy or mesh
// sidecar, where every client is 127.0.0.1: the token is. Tests call
// Server.Stall, Server.CloseConnections, Server.ResetArrivalGaps and
// Server.SetDefaults instead. FetchStats and ResetRemoteArrivalGaps do the
// same from another process.
//
// # Arrival gaps
//
// Every listener records the gaps between consecutive workload request
// arrivals, over all its connections: how evenly a load generator, smp or
// another, spaces its requests, as the server sees them. An arrival is, on
// the HTTP listener, an HTTP/1.1 request whose head has been read or an
// HTTP/2 request whose handler starts (one series for both); a gRPC Echo or
// Stream call whose handler starts; a TCP read; a UDP datagram, echoed or
// not. The target's own pages (/_smp/, /metrics) are not arrivals.
// Arrivals are timed by the monotonic clock when the server gets to them,
// so a busy server adds its own scheduling to the gaps, and pipelined
// HTTP/1.1 requests read in one go arrive back to back.
//
// /_smp/stats has them under "arrival_gap_us", by listener (http, grpc,
// tcp, udp): count, sum, min, p1, p10, p50, p90, p99, p999, max, mean and
// stddev, in microseconds to the nanosecond (HdrHistogram of nanoseconds,
// 3 significant digits; count, sum, min, max and mean exact). /metrics has
// the summary smp_target_arrival_gap_seconds{listener, quantile} with the
// same percentiles, quantile 0 and 1 for the minimum and maximum. Both
// cover the time since the start or the last POST /_smp/stats/reset, which
// answers the gaps it discarded, so that resetting before and after a run
// gives exactly that run's. The request counters are never reset.
//
// Recording an arrival is a monotonic clock read, then a histogram
// increment under a lock per listener; it allocates nothing. Measured on
// the 2-core development VM while it was shared with other work (figures
// move by ±20%): 55 ns per arrival, 37 ns of it the clock read
// (BenchmarkArrivalGap, BenchmarkMonoNow); the HTTP/1.1 fast path without
// system calls went from 270 to 304 ns per request
// (BenchmarkHTTP1ServeArrivalGaps); a CPU profile of the target under wrk
// (64 connections, one core) put recording at 1.2% of the server's CPU
// time. In TestAccuracyArrivalGaps (requests paced 2 ms, 250 µs and 100 µs
// apart on each listener) 35 medians of 5 runs were within 1.5% of the
// client's own, most within 0.3%.
package target
