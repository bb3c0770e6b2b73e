package target

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// controlHelp is served at /_smp/.
const controlHelp = `smp target control endpoints
GET  /_smp/stats                    counters and arrival gaps (JSON); always on
POST /_smp/stats/reset              empty the arrival gaps (counters stay), answering what they held
GET  /_smp/defaults                 the default behaviour (JSON)
POST /_smp/defaults?delay=..&size=..&status=..&error=..&echo=..
                                    change the defaults; parameters not given keep their value
POST /_smp/stall?for=1s             hold every response back for the duration (0 ends a stall)
POST /_smp/close                    close every open connection
GET  /metrics                       Prometheus metrics; always on
Every endpoint but stats needs --control, the control token in the X-Smp-Token
header, no Origin header (browsers are refused), and a loopback client unless
--control-remote. Loopback is no protection behind a proxy or mesh sidecar,
where every client comes from 127.0.0.1; the token is.
`

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/_smp"), "/")
	switch name {
	case "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, controlHelp)
		return
	case "stats":
		if !allowMethod(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
		return
	case "stall", "close", "defaults", "stats/reset":
	default:
		http.Error(w, "smp target: no such endpoint; see /_smp/", http.StatusNotFound)
		return
	}
	if !s.cfg.Control {
		http.Error(w, "smp target: control endpoints are off; start the target with --control", http.StatusForbidden)
		return
	}
	if msg := s.controlRefusal(r); msg != "" {
		http.Error(w, "smp target: "+msg, http.StatusForbidden)
		return
	}
	switch name {
	case "stall":
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		s.controlStall(w, r)
	case "close":
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		except, _ := r.Context().Value(connKey{}).(net.Conn)
		n := s.conns.closeAll(except)
		// Ours closes after this response: a GOAWAY on HTTP/2.
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusOK, map[string]int{"closed": n})
	case "defaults":
		s.controlDefaults(w, r)
	case "stats/reset":
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		writeJSON(w, http.StatusOK, ArrivalGapsReset{ArrivalGaps: s.ResetArrivalGaps()})
	}
}

func (s *Server) controlStall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := q.Get("for")
	if !q.Has("for") {
		http.Error(w, "smp target: stall needs ?for=DURATION (e.g. 1s; 0 ends a stall)", http.StatusBadRequest)
		return
	}
	d, err := parseDuration(v)
	if err != nil {
		http.Error(w, "smp target: stall for: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.Stall(d)
	resp := map[string]any{"stalled_for": d.String()}
	if d > 0 {
		resp["stalled_until"] = time.Now().Add(d).UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) controlDefaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, s.Defaults())
		return
	case http.MethodPost, http.MethodPut:
	default:
		allowMethod(w, r, http.MethodGet, http.MethodPost, http.MethodPut)
		return
	}
	b := s.Defaults()
	// Strict, unlike a workload request: a control call with a typo must
	// fail rather than change nothing.
	for name, vals := range r.URL.Query() {
		if paramIndex(name) < 0 {
			http.Error(w, fmt.Sprintf("smp target: unknown parameter %q (allowed: delay, size, status, error, echo)", name), http.StatusBadRequest)
			return
		}
		if err := b.Set(name, vals[len(vals)-1]); err != nil {
			http.Error(w, "smp target: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	if err := s.SetDefaults(b); err != nil {
		http.Error(w, "smp target: "+err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func allowMethod(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "smp target: method not allowed", http.StatusMethodNotAllowed)
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "smp target: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func isLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

// TokenHeader is the request header that carries the control token.
const TokenHeader = "X-Smp-Token"

// minTokenLen is the shortest control token accepted: 16 characters of a
// generated token are 64 bits, beyond guessing over a network.
const minTokenLen = 16

// controlRefusal says why a control request is refused, or "" to serve it.
func (s *Server) controlRefusal(r *http.Request) string {
	if _, ok := r.Header["Origin"]; ok {
		// Browsers send Origin with every cross-origin request and every
		// POST; a "simple" text/plain POST from any web page needs no
		// CORS preflight, so without this check a page could drive the
		// target through the operator's browser.
		return "control requests carrying an Origin header (from a browser) are refused"
	}
	if !s.cfg.ControlRemote && !isLoopback(r.RemoteAddr) {
		return errNotLoopback.Error()
	}
	got := r.Header.Get(TokenHeader)
	if got == "" {
		return "control requests need the control token in the " + TokenHeader + " header (printed at start, or --control-token)"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		return "wrong control token in " + TokenHeader
	}
	return ""
}

// newToken returns a random control token: 128 bits in hex.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("target: control token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validToken accepts what travels in a header unchanged and is long enough
// not to be guessed.
func validToken(t string) error {
	if len(t) < minTokenLen {
		return fmt.Errorf("the control token must have at least %d characters", minTokenLen)
	}
	for _, c := range []byte(t) {
		if c <= ' ' || c >= 0x7f {
			return errors.New("the control token must be printable ASCII without spaces")
		}
	}
	return nil
}
