// Package server serves the results store over HTTP: a JSON API under
// /api/v1/ that starts runs, streams their progress, lists, compares,
// imports and exports results and keeps profiles, and the web UI,
// embedded in the binary.
//
// It is built not to become an attack tool: it sends load only to
// targets in its allow-list (loopback by default), it requires a token
// whenever it listens beyond loopback, and it bounds every request body.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/store"
)

// Defaults of Config.
const (
	DefaultListen      = "127.0.0.1:8090"
	DefaultMaxBody     = spec.MaxFileSize // the largest document spec.Load reads
	DefaultMaxDuration = time.Hour
	DefaultMaxRuns     = 100
	// QueueLimit bounds the runs waiting for the one that is running.
	QueueLimit = 100
)

// Config says how a Server serves.
type Config struct {
	// Listen is the address ("" for DefaultListen; port 0 for any).
	Listen string
	// Store holds the runs; the server does not close it.
	Store store.Store
	// Token, when set, is required of every API request (Authorization:
	// Bearer, or the cookie that /?token= sets for a browser). It must be
	// set when Listen is not a loopback address.
	Token string
	// AllowTargets are the targets runs may send load to: CIDRs
	// ("10.1.0.0/16"), IP addresses or host names. Empty means loopback
	// only (127.0.0.0/8, ::1, localhost).
	AllowTargets []string
	// MaxBody bounds a request body (DefaultMaxBody if 0); more is 413.
	MaxBody int64
	// MaxDuration bounds a run's warm-up plus duration (DefaultMaxDuration
	// if 0); MaxRuns its repetitions (DefaultMaxRuns if 0).
	MaxDuration time.Duration
	MaxRuns     int
	// Demo is a URL the UI offers as the target of a first test (the
	// built-in target that `smp serve` starts).
	Demo string
}

// Server is a running API and UI server.
type Server struct {
	cfg   Config
	st    store.Store
	allow *allowList
	ln    net.Listener
	http  *http.Server
	runs  *runner
	done  chan struct{}
	err   error
}

// Start recovers the runs a previous process left unfinished (they
// become partial), listens and serves until ctx is done or Close.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = DefaultMaxRuns
	}
	loop, err := loopbackAddr(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if !loop && cfg.Token == "" {
		return nil, fmt.Errorf("server: listening on %s, beyond loopback, needs a token (--token or SMP_TOKEN): anyone who reaches the port could start load tests", cfg.Listen)
	}
	allow, err := newAllowList(cfg.AllowTargets)
	if err != nil {
		return nil, err
	}
	if _, err := cfg.Store.Recover(ctx); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, st: cfg.Store, allow: allow, ln: ln, done: make(chan struct{})}
	s.runs = newRunner(cfg.Store)
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL, for a browser.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close cancels the runs (each is stored as cancelled, with what it
// measured), then stops serving.
func (s *Server) Close() error {
	s.runs.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close() // SSE streams do not end by themselves
		err = nil
	}
	<-s.done
	return errors.Join(err, s.err)
}

// Wait blocks until the server has stopped.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// loopbackAddr reports whether a listen address is on loopback only.
func loopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("server: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

const tokenCookie = "smp_token"

// handler wraps the routes with the checks every request passes.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	loop, _ := loopbackAddr(s.cfg.Listen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A page on another site must not drive this API from a user's
		// browser: a cross-origin request that changes something is
		// refused, and without a token (loopback) so is a Host that is
		// not loopback (DNS rebinding).
		if origin := r.Header.Get("Origin"); origin != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(origin, r.Host) {
				writeError(w, http.StatusForbidden, fmt.Errorf("cross-origin request from %s refused", origin))
				return
			}
		}
		if s.cfg.Token == "" && loop && !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q is not loopback: this server answers only to 127.0.0.1, [::1] and localhost", r.Host))
			return
		}
		if s.cfg.Token != "" {
			if tok := r.URL.Query().Get("token"); tok != "" && r.URL.Path == "/" && s.tokenOK(tok) {
				// A browser opened the URL that `smp serve` printed:
				// keep the token in a cookie and drop it from the URL.
				http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return
			}
			if strings.HasPrefix(r.URL.Path, "/api/") && !s.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="smp"`)
				writeError(w, http.StatusUnauthorized, errors.New("a token is required: Authorization: Bearer TOKEN"))
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
}

func (s *Server) authorized(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.tokenOK(strings.TrimSpace(tok)) {
		return true
	}
	if c, err := r.Cookie(tokenCookie); err == nil && s.tokenOK(c.Value) {
		return true
	}
	return false
}

func sameOrigin(origin, host string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(rest, host)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
