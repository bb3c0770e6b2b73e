package target

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"time"

	"golang.org/x/net/http2"
)

// Why a server of our own: net/http allocates a Request, a header map and a
// response writer per request and takes several locks; for a workload
// server that must never be the bottleneck on loopback that is most of the
// CPU it spends. This server parses into reused buffers and writes canned
// responses, and hands HTTP/2 (prior knowledge, Upgrade: h2c, ALPN h2) to
// x/net/http2, and the few non-workload pages (/_smp/, /metrics) to an
// ordinary http.Handler.

const (
	writeBufSize = 4 << 10
	// maxControlBody bounds the body of a request to the target's own
	// pages, which take their parameters in the query.
	maxControlBody   = 64 << 10
	handshakeTimeout = 10 * time.Second
)

// errConnDone ends a connection after its last response.
var errConnDone = errors.New("connection done")

type h1conn struct {
	s       *Server
	c       net.Conn // what we read and write (a *tls.Conn under TLS)
	raw     net.Conn // as tracked in the connSet
	w       *watchedConn
	br      *bufio.Reader
	bw      *bufio.Writer
	req     request
	timer   *time.Timer // for stalls
	sleeper sleeper     // for delays
	head    []byte
	body    []byte
	unknown unknownList
}

// serveHTTP serves one accepted connection of the HTTP listener.
func (s *Server) serveHTTP(raw net.Conn) {
	w := raw.(*watchedConn)
	c := raw
	if s.tlsConf != nil {
		tc := tls.Server(raw, s.tlsConf)
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		if tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
			w.setPhase(phaseMux)
			s.serveH2(tc, raw, &http2.ServeConnOpts{})
			return
		}
		c = tc
	}
	hc := &h1conn{
		s:     s,
		c:     c,
		raw:   raw,
		w:     w,
		br:    bufio.NewReaderSize(c, readBufSize),
		bw:    bufio.NewWriterSize(c, writeBufSize),
		timer: time.NewTimer(time.Hour),
	}
	hc.timer.Stop()
	defer hc.timer.Stop()
	hc.serve()
}

func (hc *h1conn) serve() {
	r := &hc.req
	for first := true; ; first = false {
		// The first request's head is timed from the accept; a later
		// one's from its first byte, which ends the idle wait.
		if !first {
			if hc.br.Buffered() == 0 {
				hc.w.setPhase(phaseIdle)
			} else {
				hc.w.setPhase(phaseHead)
			}
		}
		err := readRequest(hc.br, r)
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				hc.writeError(he)
			}
			return
		}
		hc.w.setPhase(phaseBody)
		// h2c is cleartext only: under TLS, HTTP/2 is chosen by ALPN, a
		// preface is refused and an Upgrade header ignored (RFC 9113 §3).
		overTLS := hc.c != hc.raw
		switch {
		case r.h2preface && overTLS:
			hc.writeError(errVersion)
			return
		case r.h2preface:
			hc.w.setPhase(phaseMux)
			hc.serveH2Preface()
			return
		case r.wantsUpgrade() && !overTLS:
			hc.serveUpgrade()
			return
		}
		if isServerPath(r.bytes(r.target)) {
			err = hc.serveHandler()
		} else {
			// The request's arrival: its head has been read.
			hc.s.gaps[listenHTTP].arrive()
			err = hc.serveWorkload()
		}
		if err != nil {
			return
		}
		if r.close {
			_ = hc.bw.Flush()
			return
		}
		// Flush only when no further request is already buffered: a
		// pipelining client gets its responses in one write.
		if hc.br.Buffered() == 0 {
			if hc.bw.Flush() != nil {
				return
			}
			// Yield before reading again: the client cannot have sent its
			// next request yet, so an immediate read would only fail with
			// EAGAIN and park. Letting the other ready connections run
			// first gives the client that time; under load this saves
			// about a third of the read system calls.
			runtime.Gosched()
		}
	}
}

// isServerPath reports the target's own pages, served by the http.Handler
// rather than the workload fast path.
func isServerPath(target []byte) bool {
	path := target
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return string(path) == "/metrics" || string(path) == "/_smp" || bytes.HasPrefix(path, []byte("/_smp/"))
}

// serveWorkload answers a workload request, the hot path.
func (hc *h1conn) serveWorkload() error {
	s, r := hc.s, &hc.req
	st := s.defaults.Load()
	b := &st.b
	var (
		local      Behavior
		overridden bool
		paramErr   error
	)
	hc.unknown = hc.unknown[:0]
	target := r.bytes(r.target)
	query := []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		query = target[i+1:]
	}
	if r.hasSMP || len(query) > 0 {
		local, overridden = st.b, true
		b = &local
		paramErr = hc.applyOverrides(b, query)
	}
	if r.expect100 {
		if _, err := hc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return err
		}
		if err := hc.bw.Flush(); err != nil {
			return err
		}
	}
	keep := b.Echo && paramErr == nil
	held, err := hc.takeBody(keep)
	if err != nil || held < 0 {
		return err // refused, or the connection broke
	}
	var budget *byteBudget // chunked bodies take their bytes as they come
	if keep && r.chunked {
		budget = s.budget
	}
	body, err := readBody(hc.br, r, keep, hc.body[:0], s.lim.maxEcho, budget)
	if err != nil {
		s.budget.give(held)
		if err == errOverBudget {
			s.counters.overBudget[protoHTTP1].Add(1)
			s.counters.rejected[protoHTTP1].Add(1)
			s.counters.count(protoHTTP1, http.StatusServiceUnavailable)
		}
		var he *httpError
		if errors.As(err, &he) {
			hc.writeError(he)
		}
		return err
	}
	if budget != nil {
		held = int64(len(body))
	}
	hc.w.setPhase(phaseBusy)
	err = hc.admitted(st, b, overridden, body, paramErr)
	s.budget.give(held)
	// A large echo buffer goes with its request: kept, forty idle
	// connections after a 16 MiB echo each would hold 640 MiB.
	if cap(body) <= keepBodyCap {
		hc.body = body[:0]
	} else {
		hc.body = nil
	}
	return err
}

// takeBody reserves a Content-Length body to keep against the in-flight
// byte budget. It returns the bytes reserved, or -1 when the budget is
// spent: the body has then been read and dropped, so that the connection
// stays in step, and 503 answered.
func (hc *h1conn) takeBody(keep bool) (int64, error) {
	s, r := hc.s, &hc.req
	n := r.contentLength
	if !keep || r.chunked || n <= 0 || n > int64(s.lim.maxEcho) {
		return 0, nil // nothing to keep, or readBody refuses it
	}
	if s.budget.take(n) {
		return n, nil
	}
	if _, err := readBody(hc.br, r, false, nil, 0, nil); err != nil {
		return -1, err
	}
	s.counters.overBudget[protoHTTP1].Add(1)
	s.counters.rejected[protoHTTP1].Add(1)
	s.counters.count(protoHTTP1, http.StatusServiceUnavailable)
	return -1, hc.writeText(http.StatusServiceUnavailable, "smp target: "+errOverBudget.msg+"\n")
}

// admitted answers a request whose body has been read: a parameter error,
// a rejection by admission, or the answer.
func (hc *h1conn) admitted(st *defaultsState, b *Behavior, overridden bool, body []byte, paramErr error) error {
	s := hc.s
	if paramErr != nil {
		s.counters.count(protoHTTP1, http.StatusBadRequest)
		return hc.writeText(http.StatusBadRequest, paramErr.Error()+"\n")
	}

	if s.adm != nil {
		if err := hc.flushPending(); err != nil {
			return err
		}
		if !s.adm.acquire(nil, s.done) {
			s.counters.rejected[protoHTTP1].Add(1)
			s.counters.count(protoHTTP1, http.StatusServiceUnavailable)
			return hc.writeText(http.StatusServiceUnavailable, rejectMessage)
		}
	}
	s.counters.inFlight.Add(1)
	err := hc.answer(st, b, overridden, body)
	s.counters.inFlight.Add(-1)
	if s.adm != nil {
		s.adm.release()
	}
	return err
}

// rejectMessage is the body of a capacity rejection.
const rejectMessage = "smp target: over capacity\n"

// answer runs an admitted request: delay, stall, injected error, response.
func (hc *h1conn) answer(st *defaultsState, b *Behavior, overridden bool, body []byte) error {
	s, r := hc.s, &hc.req
	o := b.draw()
	if o.delay > 0 || s.stall.until.Load() != 0 {
		if err := hc.flushPending(); err != nil {
			return err
		}
	}
	if !s.clock.sleep(o.delay, nil, s.done, &hc.sleeper) || !s.stall.wait(nil, s.done, hc.timer) {
		return errConnDone
	}
	if o.reset {
		s.counters.resets[protoHTTP1].Add(1)
		_ = hc.bw.Flush() // earlier pipelined responses still go out
		resetConn(hc.c)
		return errConnDone
	}
	if o.fail {
		s.counters.count(protoHTTP1, http.StatusInternalServerError)
		return hc.writeText(http.StatusInternalServerError, "smp target: injected error\n")
	}
	status := b.status()
	s.counters.count(protoHTTP1, status)
	head := r.isMethod(http.MethodHead)
	if !overridden && !b.Echo && !r.close && r.minor == 1 && !head {
		if _, err := hc.bw.Write(st.canned); err != nil {
			return err
		}
		if !st.inline {
			return writeFiller(hc.bw, s.filler, b.Size)
		}
		return nil
	}
	size := b.Size
	if b.Echo {
		size = len(body)
	}
	noBody := noBodyStatus(status)
	hc.head = appendHead(hc.head[:0], headOptions{
		status:        status,
		contentLength: size,
		noBody:        noBody,
		close:         r.close,
		keepAlive10:   r.minor == 0,
		unknown:       hc.unknown.String(),
	})
	if _, err := hc.bw.Write(hc.head); err != nil {
		return err
	}
	if head || noBody {
		return nil
	}
	if b.Echo {
		_, err := hc.bw.Write(body)
		return err
	}
	return writeFiller(hc.bw, s.filler, size)
}

// flushPending sends the responses to earlier pipelined requests before
// this one waits, so that they do not wait with it.
func (hc *h1conn) flushPending() error {
	if hc.bw.Buffered() == 0 {
		return nil
	}
	return hc.bw.Flush()
}

// applyOverrides applies x-smp-* headers, then query parameters.
func (hc *h1conn) applyOverrides(b *Behavior, query []byte) error {
	r := &hc.req
	if r.hasSMP {
		for _, f := range r.fields {
			name := r.bytes(f.name)
			if len(name) <= len(headerPrefix) || !bytes.EqualFold(name[:len(headerPrefix)], []byte(headerPrefix)) {
				continue
			}
			if err := applyHeader(b, string(name), string(r.bytes(f.value)), &hc.unknown); err != nil {
				return err
			}
		}
	}
	if len(query) > 0 {
		return applyQuery(b, string(query), &hc.unknown)
	}
	return nil
}

// writeText writes a short text response, e.g. a rejection or an error.
func (hc *h1conn) writeText(status int, msg string) error {
	r := &hc.req
	hc.head = appendHead(hc.head[:0], headOptions{
		status:        status,
		contentLength: len(msg),
		contentType:   "text/plain; charset=utf-8",
		close:         r.close,
		keepAlive10:   r.minor == 0,
		unknown:       hc.unknown.String(),
	})
	if !r.isMethod(http.MethodHead) {
		hc.head = append(hc.head, msg...)
	}
	_, err := hc.bw.Write(hc.head)
	return err
}

// writeError answers a request the parser refused and ends the connection.
func (hc *h1conn) writeError(he *httpError) {
	msg := "smp target: " + he.msg + "\n"
	hc.head = appendHead(hc.head[:0], headOptions{status: he.status, contentLength: len(msg), contentType: "text/plain; charset=utf-8", close: true})
	hc.head = append(hc.head, msg...)
	_, _ = hc.bw.Write(hc.head)
	_ = hc.bw.Flush()
}
