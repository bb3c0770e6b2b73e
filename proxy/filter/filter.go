// Package filter defines what a filter of smp proxy sees of one exchange
// (Exchange), the Filter interface, the native filters (rate limit, header
// rules, fault injection, auth check) and the --filter syntax that makes them.
package filter

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
)

// Exchange is one request and, once the upstream (or a filter) has
// answered, its response. Filters read and change it in place. Header
// keys are canonical (net/http); the pseudo-headers of HTTP/2 are fields.
type Exchange struct {
	Ctx context.Context

	// The request.
	Method, Path, Authority, Scheme string
	// Proto is the downstream protocol: "HTTP/1.1" or "HTTP/2.0".
	Proto  string
	Header http.Header
	// Body is the request body when Buffered (every filter that wants
	// bodies gets them whole); otherwise nil and streamed.
	Body     []byte
	Buffered bool
	// NoBody says the request has no body (Content-Length 0), so that a
	// filter seeing headers knows they end the stream.
	NoBody bool
	// Client is the downstream peer address; Local the proxy's.
	Client, Local netip.AddrPort
	// ID numbers the exchange (from 1), unique in the proxy.
	ID uint64

	// The response, set by the upstream or by Respond.
	Status     int
	RespHeader http.Header
	RespBody   []byte
	// Answered is set by Respond: a filter answered locally and the
	// request goes no further.
	Answered bool
	// AnsweredBy names the filter that answered locally ("" otherwise).
	AnsweredBy string
}

// Respond answers the exchange locally: the request is not forwarded and
// no later filter sees it. A nil header is an empty one.
func (x *Exchange) Respond(status int, h http.Header, body []byte) {
	if h == nil {
		h = http.Header{}
	}
	x.Status, x.RespHeader, x.RespBody, x.Answered = status, h, body, true
	x.RespHeader.Set("Content-Length", strconv.Itoa(len(body)))
}

// Filter is one link of the chain. For every exchange the chain calls
// Request, then (unless an earlier filter answered or the upstream failed)
// Response in reverse chain order, then Done, always, with the state
// Request returned. A returned error fails the exchange with a 500 and is
// counted against the filter; a filter must not panic.
type Filter interface {
	// Name identifies the filter in stats: kind and position, e.g.
	// "ratelimit#1".
	Name() string
	Request(x *Exchange) (state any, err error)
	Response(x *Exchange, state any) error
	Done(x *Exchange, state any)
}

// BodyFilter is implemented by filters that need whole bodies; the proxy
// buffers bodies only when some filter of the chain does.
type BodyFilter interface {
	NeedsBody() bool
}

// Closer is implemented by filters holding resources (a WebAssembly VM).
type Closer interface {
	Close() error
}
