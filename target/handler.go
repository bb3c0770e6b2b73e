package target

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// connKey is the request-context key of the connection (as tracked in the
// connSet) a request arrived on: /_smp/close spares it so that it can
// still answer.
type connKey struct{}

// httpHandler serves what the HTTP/1.1 fast path does not: every HTTP/2
// request, and the target's own pages on both versions.
type httpHandler struct{ s *Server }

func (h httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/metrics":
		h.s.metrics.ServeHTTP(w, r)
	case p == "/_smp" || strings.HasPrefix(p, "/_smp/"):
		h.s.serveControl(w, r)
	default:
		h.s.serveWorkloadHTTP2(w, r)
	}
}

// serveWorkloadHTTP2 is the workload for HTTP/2 requests (h2c and TLS):
// the same behaviour as the HTTP/1.1 fast path, through net/http's API.
func (s *Server) serveWorkloadHTTP2(w http.ResponseWriter, r *http.Request) {
	s.gaps[listenHTTP].arrive()
	b := s.defaults.Load().b
	var unknown unknownList
	err := resolveHTTP(&b, r, &unknown)
	if len(unknown) > 0 {
		w.Header().Set(unknownHeader, unknown.String())
	}
	if err != nil {
		s.counters.count(protoHTTP2, http.StatusBadRequest)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var body []byte
	if b.Echo {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxEchoBody+1))
		if err != nil {
			return // the client went away
		}
		if len(body) > maxEchoBody {
			s.counters.count(protoHTTP2, http.StatusRequestEntityTooLarge)
			http.Error(w, errBodyTooLarge.msg, http.StatusRequestEntityTooLarge)
			return
		}
	}
	cancel := r.Context().Done()
	if s.adm != nil && !s.adm.acquire(cancel, s.done) {
		s.counters.rejected[protoHTTP2].Add(1)
		s.counters.count(protoHTTP2, http.StatusServiceUnavailable)
		http.Error(w, strings.TrimSpace(rejectMessage), http.StatusServiceUnavailable)
		return
	}
	s.counters.inFlight.Add(1)
	defer func() {
		s.counters.inFlight.Add(-1)
		if s.adm != nil {
			s.adm.release()
		}
	}()
	o := b.draw()
	if !s.clock.sleep(o.delay, cancel, s.done, nil) || !s.stall.wait(cancel, s.done, nil) {
		return
	}
	if o.reset {
		s.counters.resets[protoHTTP2].Add(1)
		// ErrAbortHandler is net/http's documented way to abort a
		// response: HTTP/2 resets the stream (RST_STREAM), the closest
		// a multiplexed connection has to a connection reset.
		panic(http.ErrAbortHandler)
	}
	if o.fail {
		s.counters.count(protoHTTP2, http.StatusInternalServerError)
		http.Error(w, "smp target: injected error", http.StatusInternalServerError)
		return
	}
	status := b.status()
	s.counters.count(protoHTTP2, status)
	size := b.Size
	if b.Echo {
		size = len(body)
	}
	if noBodyStatus(status) {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(size))
	if size > 0 {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if b.Echo {
		_, _ = w.Write(body)
		return
	}
	for left := size; left > 0; {
		n := min(left, len(s.filler))
		if _, err := w.Write(s.filler[:n]); err != nil {
			return
		}
		left -= n
	}
}

// resolveHTTP applies x-smp-* headers, then the query parameters.
func resolveHTTP(b *Behavior, r *http.Request, unknown *unknownList) error {
	for name, vals := range r.Header {
		if len(vals) == 0 {
			continue
		}
		if err := applyHeader(b, name, vals[len(vals)-1], unknown); err != nil {
			return err
		}
	}
	if err := applyQuery(b, r.URL.RawQuery, unknown); err != nil {
		return err
	}
	return nil
}

// errNotLoopback refuses a control request from another host.
var errNotLoopback = errors.New("control endpoints accept loopback clients only (Config.ControlRemote / --control-remote lifts this)")
