// Package rawconn makes TCP reads and writes cheaper for the Go runtime on
// Linux: the load drivers' connections (HTTP/1.1, HTTP/2, gRPC, TCP) and
// smp proxy's, accepted and upstream.
//
// A read or write through net.Conn enters the runtime's syscall state,
// which wakes the sysmon thread whenever it had gone to sleep because
// every P was idle. A load generator whose target is the bottleneck goes
// idle between every burst of responses, so each burst paid a futex wake,
// a nanosleep and a futex wait on another thread, and two context
// switches: measured with perf against smp target over HTTP/2, 0.24 futex
// calls and 0.18 nanosleeps per request, and 0.72 context switches per
// request where h2load made 0.35. A read or write on a non-blocking socket
// never blocks, so it needs none of that: Wrap issues them as raw system
// calls through syscall.RawConn, which waits in the runtime's network
// poller exactly as net.Conn does when the socket has nothing to give. The
// wrapper keeps deadlines, Close and CloseWrite; the *net.TCPConn's other
// methods (SetLinger) are reached through Unwrap.
package rawconn
