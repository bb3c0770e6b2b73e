package target

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
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
	rc := http.NewResponseController(w)
	var body []byte
	if b.Echo {
		var held int64
		body, held, err = s.readEchoHTTP2(w, r, rc)
		defer s.budget.give(held)
		if err != nil {
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
	src := s.filler
	if b.Echo {
		src = body
	}
	// Flow control holds a stream whose client stops reading; a write
	// deadline per chunk ends the wait, and the handler's capacity slot,
	// once the client has made no progress for the write timeout.
	for left := size; left > 0; {
		n := min(left, len(src))
		if s.lim.write > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.lim.write))
		}
		if _, err := w.Write(src[:n]); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.counters.timeouts[timeoutWrite].Add(1)
			}
			return
		}
		left -= n
	}
}

// readEchoHTTP2 reads an HTTP/2 request body to echo, within MaxEcho and
// the in-flight byte budget; it returns the body and the bytes it holds
// against the budget (to give back), or an error once it has answered.
func (s *Server) readEchoHTTP2(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) ([]byte, int64, error) {
	refuse := func(status int, msg string) ([]byte, int64, error) {
		s.counters.count(protoHTTP2, status)
		http.Error(w, "smp target: "+msg, status)
		return nil, 0, errors.New(msg)
	}
	if r.ContentLength > int64(s.lim.maxEcho) {
		return refuse(http.StatusRequestEntityTooLarge, errBodyTooLarge.msg)
	}
	// A body of unknown length takes the budget for the most it may be.
	want := r.ContentLength
	if want < 0 {
		want = int64(s.lim.maxEcho) + 1
	}
	if !s.budget.take(want) {
		s.counters.overBudget[protoHTTP2].Add(1)
		s.counters.rejected[protoHTTP2].Add(1)
		return refuse(http.StatusServiceUnavailable, errOverBudget.msg)
	}
	body := make([]byte, 0, min(want, 64<<10))
	for {
		if s.lim.read > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(s.lim.read))
		}
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := r.Body.Read(body[len(body):min(cap(body), s.lim.maxEcho+1)])
		body = body[:len(body)+n]
		if len(body) > s.lim.maxEcho {
			s.budget.give(want)
			return refuse(http.StatusRequestEntityTooLarge, errBodyTooLarge.msg)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.counters.timeouts[timeoutBody].Add(1)
			}
			s.budget.give(want)
			return nil, 0, err // the client went away or stalled
		}
	}
	// Keep only what arrived reserved.
	s.budget.give(want - int64(len(body)))
	return body, int64(len(body)), nil
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
