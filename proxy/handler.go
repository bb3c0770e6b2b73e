package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/proxy/filter"
)

// maxInlineFilters is how many filters' per-request state and cost the
// handler keeps on its stack; longer chains allocate.
const maxInlineFilters = 8

// ServeHTTP runs one exchange: request filters, the upstream, response
// filters in reverse, Done for every filter that saw the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &filter.Exchange{
		Ctx: r.Context(), Method: r.Method, Path: r.URL.RequestURI(), Authority: r.Host,
		Scheme: "http", Proto: r.Proto, Header: r.Header, ID: s.nextID.Add(1),
		NoBody: r.ContentLength == 0,
	}
	if r.TLS != nil {
		x.Scheme = "https"
	}
	x.Client, _ = netip.ParseAddrPort(r.RemoteAddr)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		x.Local, _ = netip.ParseAddrPort(a.String())
	}
	// TE is hop-by-hop, but "TE: trailers" says the client takes trailers,
	// which gRPC servers ask of a request: it goes on to the upstream, as
	// the one value HTTP/2 allows.
	teTrailers := acceptsTrailers(r.Header)
	removeHop(x.Header)
	if teTrailers {
		x.Header.Set("Te", "trailers")
	}
	s.stats.requests.Add(1)
	if s.buffer {
		body, err := readAll(r.Body, s.cfg.MaxBody)
		if err != nil {
			s.stats.badRequests.Add(1)
			status := http.StatusBadRequest
			if errors.Is(err, errTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), status)
			return
		}
		x.Body, x.Buffered, x.NoBody = body, true, len(body) == 0
	}

	fs := s.cfg.Filters
	var stateBuf [maxInlineFilters]any
	var costBuf [maxInlineFilters]time.Duration
	states, costs := stateBuf[:0], costBuf[:0]
	if len(fs) > maxInlineFilters {
		states, costs = make([]any, 0, len(fs)), make([]time.Duration, 0, len(fs))
	}
	failed := -1
	for i, f := range fs {
		t0 := time.Now()
		st, err := f.Request(x)
		costs = append(costs, time.Since(t0))
		states = append(states, st)
		if err != nil {
			failed = i
			s.failExchange(x, i, err)
			break
		}
		if x.Answered {
			x.AnsweredBy = f.Name()
			s.stats.filters[i].localReplies.Add(1)
			s.stats.localReplies.Add(1)
			break
		}
	}
	// Response filters: those before the one that answered or failed, or
	// all when the upstream answered.
	respFrom := len(states) - 1
	var resp *http.Response
	var upstream time.Duration
	if !x.Answered && failed < 0 {
		t0 := time.Now()
		resp = s.forward(x, r)
		upstream = time.Since(t0)
		if resp != nil {
			defer resp.Body.Close()
		}
	} else {
		respFrom = len(states) - 2
	}
	if failed < 0 && (resp != nil || x.Answered) {
		for i := respFrom; i >= 0; i-- {
			t0 := time.Now()
			err := fs[i].Response(x, states[i])
			costs[i] += time.Since(t0)
			if err != nil {
				failed = i
				s.failExchange(x, i, err)
				break
			}
		}
	}
	for i := range states {
		t0 := time.Now()
		fs[i].Done(x, states[i])
		costs[i] += time.Since(t0)
	}
	for i, c := range costs {
		s.stats.filters[i].record(c)
	}
	var stream io.Reader
	var from *http.Response // whose trailers follow the body
	if resp != nil && failed < 0 && !x.Answered {
		if !x.Buffered {
			stream = resp.Body
		}
		from = resp
	}
	s.stats.recordOverhead(time.Since(start) - upstream)
	s.write(w, x, stream, from)
}

// acceptsTrailers reports whether a TE header lists "trailers".
func acceptsTrailers(h http.Header) bool {
	for _, v := range h.Values("Te") {
		for _, t := range strings.Split(v, ",") {
			if t, _, _ = strings.Cut(t, ";"); strings.EqualFold(strings.TrimSpace(t), "trailers") {
				return true
			}
		}
	}
	return false
}

// failExchange answers 500 for a filter that failed (a WebAssembly trap),
// counts it and logs nothing per request: the count is in the stats.
func (s *Server) failExchange(x *filter.Exchange, i int, err error) {
	s.stats.filters[i].errors.Add(1)
	s.stats.filterErrors.Add(1)
	s.stats.setLastError(fmt.Errorf("%s: %w", s.cfg.Filters[i].Name(), err))
	h := http.Header{"Content-Type": {"text/plain"}, "X-Smp-Filter-Error": {s.cfg.Filters[i].Name()}}
	x.Respond(http.StatusInternalServerError, h, []byte("filter failed: "+s.cfg.Filters[i].Name()+"\n"))
	x.AnsweredBy = s.cfg.Filters[i].Name()
}

// forward sends the request upstream and returns the response (its body
// read into x.RespBody when buffering), or nil after answering x with a
// 502/504 itself.
func (s *Server) forward(x *filter.Exchange, r *http.Request) *http.Response {
	target := s.base + x.Path
	var body io.Reader = http.NoBody
	length := int64(0)
	if x.Buffered {
		if len(x.Body) > 0 {
			body, length = bytes.NewReader(x.Body), int64(len(x.Body))
		}
	} else if r.Body != nil && r.ContentLength != 0 {
		body, length = r.Body, r.ContentLength
	}
	out, err := http.NewRequestWithContext(x.Ctx, x.Method, target, body)
	if err != nil {
		s.upstreamFailed(x, http.StatusBadGateway, fmt.Errorf("request to upstream: %w", err))
		return nil
	}
	out.Header = x.Header
	out.Header.Del("Content-Length")
	out.ContentLength = length
	if !x.Buffered && len(r.Trailer) > 0 {
		// Filled by the server once the body is read, which is when the
		// transport sends them.
		out.Trailer = r.Trailer
	}
	out.Host = x.Authority
	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		status := http.StatusBadGateway
		if isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		s.upstreamFailed(x, status, err)
		return nil
	}
	s.stats.forwarded.Add(1)
	removeHop(resp.Header)
	x.Status, x.RespHeader = resp.StatusCode, resp.Header
	if x.Buffered {
		b, err := readAll(resp.Body, s.cfg.MaxBody)
		if err != nil {
			resp.Body.Close()
			s.upstreamFailed(x, http.StatusBadGateway, fmt.Errorf("upstream body: %w", err))
			return nil
		}
		x.RespBody = b
	}
	return resp
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Server) upstreamFailed(x *filter.Exchange, status int, err error) {
	s.stats.upstreamErrors.Add(1)
	s.stats.setLastError(err)
	h := http.Header{"Content-Type": {"text/plain"}, "X-Smp-Upstream-Error": {"1"}}
	x.Respond(status, h, []byte("upstream: "+err.Error()+"\n"))
}

// write sends x's response. A buffered or local body gets its own
// Content-Length, since filters may have changed it; a streamed one keeps
// the upstream's framing and, without a Content-Length (gRPC, server-sent
// events, any stream), is flushed as it arrives, so that a streaming call
// through the proxy sees each message when the upstream sends it. The
// upstream's trailers (gRPC's status) follow the body: HTTP/2 always
// carries them, HTTP/1.1 only in a chunked response.
func (s *Server) write(w http.ResponseWriter, x *filter.Exchange, stream io.Reader, from *http.Response) {
	h := w.Header()
	for k, v := range x.RespHeader {
		h[k] = v
	}
	if stream == nil {
		h.Set("Content-Length", strconv.Itoa(len(x.RespBody)))
	}
	status := x.Status
	if status < 100 || status > 999 {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	if x.Method == http.MethodHead {
		return
	}
	switch {
	case stream == nil:
		_, _ = w.Write(x.RespBody)
	case h.Get("Content-Length") == "":
		flushCopy(w, stream)
	default:
		_, _ = io.Copy(w, stream)
	}
	if from == nil {
		return
	}
	// resp.Trailer is complete, or even made, only once the body is read.
	for k, v := range from.Trailer {
		h[http.TrailerPrefix+k] = v
	}
}

// flushCopy copies a streamed body, flushing after each read.
func flushCopy(w http.ResponseWriter, r io.Reader) {
	rc := http.NewResponseController(w)
	var buf [32 << 10]byte
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

var errTooLarge = errors.New("body larger than the proxy's limit")

// readAll reads at most limit bytes of r; more is errTooLarge.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLarge, limit)
	}
	return b, nil
}
