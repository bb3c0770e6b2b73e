package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
	"github.com/smp-project/smp/store"
)

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/runs", s.postRun)
	mux.HandleFunc("GET /api/v1/runs", s.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", s.getRun)
	mux.HandleFunc("DELETE /api/v1/runs/{id}", s.deleteRun)
	mux.HandleFunc("GET /api/v1/runs/{id}/events", s.events)
	mux.HandleFunc("GET /api/v1/runs/{id}/report", s.runReport)
	mux.HandleFunc("GET /api/v1/runs/{id}/export", s.export)
	mux.HandleFunc("POST /api/v1/import", s.importDoc)
	mux.HandleFunc("POST /api/v1/compare", s.compare)
	mux.HandleFunc("GET /api/v1/compare/report", s.compareReport)
	mux.HandleFunc("GET /api/v1/comparisons/{id}", s.getComparison)
	mux.HandleFunc("GET /api/v1/profiles", s.listProfiles)
	mux.HandleFunc("POST /api/v1/profiles", s.postProfile)
	mux.HandleFunc("GET /api/v1/profiles/{id}", s.getProfile)
	mux.HandleFunc("DELETE /api/v1/profiles/{id}", s.deleteProfile)
	mux.HandleFunc("GET /api/v1/info", s.info)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no API at %s %s", r.Method, r.URL.Path))
	})
	s.ui(mux)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	// Field is the path of the field at fault, when there is one
	// (clients[0].endpoint_urls[0], runs).
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	e := apiError{Error: err.Error()}
	var fe *spec.FieldError
	var fes spec.Errors
	var fieldErr *fieldError
	switch {
	case errors.As(err, &fieldErr):
		e.Field = fieldErr.field
	case errors.As(err, &fes) && len(fes) > 0:
		e.Field = fes[0].Path
	case errors.As(err, &fe):
		e.Field = fe.Path
	}
	writeJSON(w, code, e)
}

// fieldError is bad input in one field of a request.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func badField(field string, format string, a ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, a...)}
}

// readBody reads a request body within the size limit: too large is 413,
// and the caller gets a written answer and false.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", tooBig.Limit))
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err))
		return nil, false
	}
	return b, true
}

// decodeJSON decodes a JSON request into v, refusing unknown fields; the
// error names the field or the byte offset at fault.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("bad JSON at byte %d: %v", syn.Offset, syn)
		case errors.As(err, &typ):
			return badField(typ.Field, "want a JSON %s, got %s", typ.Type, typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return badField(name, "unknown field")
		case errors.Is(err, io.EOF):
			return errors.New("empty body: want a JSON object")
		}
		return fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return errors.New("bad JSON: more than one value")
	}
	return nil
}

// runJSON is a run as the API shows it.
type runJSON struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        store.State       `json:"state"`
	Message      string            `json:"message,omitempty"`
	Partial      bool              `json:"partial"`
	Uncorrected  bool              `json:"uncorrected,omitempty"`
	Created      time.Time         `json:"created"`
	Started      *time.Time        `json:"started,omitempty"`
	Ended        *time.Time        `json:"ended,omitempty"`
	Labels       map[string]string `json:"labels"`
	Endpoint     string            `json:"endpoint"`
	Protocol     string            `json:"protocol"`
	Mesh         string            `json:"mesh,omitempty"`
	RequestedQPS float64           `json:"requested_qps"`
	ActualQPS    float64           `json:"actual_qps"`
	P50          float64           `json:"p50_ms"`
	P90          float64           `json:"p90_ms"`
	P99          float64           `json:"p99_ms"`
	Requests     int64             `json:"requests"`
	Errors       int64             `json:"errors"`
	// Config and Result are SMP documents (JSON, snake_case) in GET of
	// one run.
	Config  json.RawMessage `json:"config,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Seconds []secondJSON    `json:"seconds,omitempty"`
}

type secondJSON struct {
	Run      int     `json:"run"`
	OffsetS  float64 `json:"offset_s"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	QPS      float64 `json:"qps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(r *store.Run) runJSON {
	return runJSON{ID: r.ID, Name: r.Name, State: r.State, Message: r.Message, Partial: r.Partial, Uncorrected: r.Uncorrected,
		Created: r.Created, Started: timePtr(r.Started), Ended: timePtr(r.Ended), Labels: r.Labels,
		Endpoint: r.Endpoint, Protocol: r.Protocol, Mesh: r.Mesh, RequestedQPS: r.RequestedQPS, ActualQPS: r.ActualQPS,
		P50: r.P50, P90: r.P90, P99: r.P99, Requests: r.Requests, Errors: r.Errors}
}

// runRequest is the body of POST /api/v1/runs in its wrapped form; a body
// without "config" or "profile_id" is the SMP config itself.
type runRequest struct {
	Config    json.RawMessage   `json:"config"`
	ProfileID string            `json:"profile_id"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Runs      int               `json:"runs"`
}

func (s *Server) postRun(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, cfg, code, err := s.runConfig(r.Context(), body)
	if err != nil {
		writeError(w, code, err)
		return
	}
	run := &store.Run{Name: req.Name, Config: cfg}
	if run.Name == "" {
		run.Name = cfg.GetName()
	}
	if len(req.Labels) > 0 || len(cfg.GetLabels()) > 0 {
		run.Labels = map[string]string{}
		for k, v := range cfg.GetLabels() {
			run.Labels[k] = v
		}
		for k, v := range req.Labels {
			run.Labels[k] = v
		}
		cfg.Labels = run.Labels
	}
	if err := s.runs.start(r.Context(), run, req.Runs); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, errQueueFull) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, err)
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"id": run.ID, "state": run.State})
}

// runConfig makes the config to run from a POST body, checked as `smp
// run` checks it, plus the server's own rules; the status code says
// whose fault an error is.
func (s *Server) runConfig(ctx context.Context, body []byte) (runRequest, *spec.PerformanceTestConfig, int, error) {
	var req runRequest
	var doc []byte
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return req, nil, http.StatusBadRequest, errors.New("empty body: want an SMP test config, or {\"config\": ..., \"profile_id\": ...}")
	}
	wrapped := false
	if trimmed[0] == '{' {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return req, nil, http.StatusBadRequest, decodeJSON(trimmed, &probe)
		}
		_, hasCfg := probe["config"]
		_, hasProfile := probe["profile_id"]
		wrapped = hasCfg || hasProfile
	}
	var cfg *spec.PerformanceTestConfig
	if wrapped {
		if err := decodeJSON(trimmed, &req); err != nil {
			return req, nil, http.StatusBadRequest, err
		}
		switch {
		case len(req.Config) > 0 && req.ProfileID != "":
			return req, nil, http.StatusBadRequest, badField("profile_id", "give a config or a profile_id, not both")
		case req.ProfileID != "":
			p, err := s.st.Profile(ctx, req.ProfileID)
			if errors.Is(err, store.ErrNotFound) {
				return req, nil, http.StatusNotFound, badField("profile_id", "no profile %q", req.ProfileID)
			} else if err != nil {
				return req, nil, http.StatusInternalServerError, err
			}
			cfg = p.Config
			if req.Name == "" {
				req.Name = p.Name
			}
		default:
			doc = req.Config
		}
	} else {
		doc = trimmed
	}
	if cfg == nil {
		d, err := interop.Read(doc, "config")
		if err != nil {
			return req, nil, http.StatusBadRequest, err
		}
		if cfg, _, err = d.TestConfig(); err != nil {
			return req, nil, http.StatusBadRequest, err
		}
	}
	if req.Runs < 0 || req.Runs > s.cfg.MaxRuns {
		return req, nil, http.StatusBadRequest, badField("runs", "%d: want 1 to %d", req.Runs, s.cfg.MaxRuns)
	}
	// A config from the API must not read the server's files: the body
	// would be sent to the target, and a CA file is the server's to pick.
	for i, c := range cfg.GetClients() {
		if c.GetBodyFile() != "" {
			return req, nil, http.StatusBadRequest, badField(fmt.Sprintf("clients[%d].body_file", i), "not accepted by the server: put the body in body")
		}
		if c.GetSslCertificate() != "" {
			return req, nil, http.StatusBadRequest, badField(fmt.Sprintf("clients[%d].ssl_certificate", i), "not accepted by the server")
		}
	}
	// Defaults filled as `smp run -f` fills them, then planned as a run
	// plans: what cannot run is refused now, not in the queue.
	cfg, err := smprun.ApplySettings(cfg, smprun.Settings{})
	if err != nil {
		return req, nil, http.StatusBadRequest, err
	}
	plan, err := smprun.NewPlan(ctx, cfg, smprun.PlanOptions{})
	if err != nil {
		return req, nil, http.StatusBadRequest, err
	}
	total := plan.Load.Warmup + plan.Load.Duration
	plan.Close()
	if total > s.cfg.MaxDuration {
		return req, nil, http.StatusBadRequest, badField("duration", "warm-up and duration %v: this server runs at most %v", total, s.cfg.MaxDuration)
	}
	if err := s.allow.check(ctx, cfg); err != nil {
		var te *targetError
		if errors.As(err, &te) {
			return req, nil, http.StatusForbidden, err
		}
		return req, nil, http.StatusBadRequest, err
	}
	return req, cfg, 0, nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	runs, err := s.st.Runs(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]runJSON, len(runs))
	for i, run := range runs {
		out[i] = toJSON(run)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

// parseFilter reads ?label=k=v (repeatable), since and until (RFC 3339,
// a date, or a duration back from now: 24h), state, endpoint and limit.
func parseFilter(r *http.Request) (store.Filter, error) {
	q := r.URL.Query()
	var f store.Filter
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return f, badField("label", "%q: want key=value", l)
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	var err error
	if f.Since, err = parseTime(q.Get("since")); err != nil {
		return f, badField("since", "%v", err)
	}
	if f.Until, err = parseTime(q.Get("until")); err != nil {
		return f, badField("until", "%v", err)
	}
	if st := q.Get("state"); st != "" {
		if !slices.Contains([]store.State{store.Queued, store.Running, store.Done, store.Failed, store.Cancelled, store.Partial}, store.State(st)) {
			return f, badField("state", "%q: want queued, running, done, failed, cancelled or partial", st)
		}
		f.State = store.State(st)
	}
	f.Endpoint = q.Get("endpoint")
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 || f.Limit > store.MaxLimit {
			return f, badField("limit", "%q: want 1 to %d", l, store.MaxLimit)
		}
	}
	return f, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, a date (2006-01-02) or a duration back from now (24h)", s)
}

// lookup answers 404 for an unknown run and 500 for a store failure;
// nil means it answered.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *store.Run {
	run, err := s.st.Run(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return nil
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return nil
	}
	return run
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run := s.lookup(w, r)
	if run == nil {
		return
	}
	out := toJSON(run)
	if run.Config != nil {
		b, _ := spec.Encode(run.Config, "json")
		out.Config = b
	}
	if run.Result != nil {
		b, _ := spec.Encode(run.Result, "json")
		out.Result = b
	}
	secs, err := s.st.Seconds(r.Context(), run.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	for _, sec := range secs {
		out.Seconds = append(out.Seconds, secondJSON{Run: sec.Run, OffsetS: sec.OffsetS, Requests: sec.Requests, Errors: sec.Errors,
			QPS: sec.ActualQPS, P50: sec.P50, P99: sec.P99, Max: sec.Max})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteRun cancels a run that is queued or running (202: it ends as
// cancelled, with what it measured) and deletes a finished one (204).
func (s *Server) deleteRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.runs.cancel(id) {
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "state": "cancelling"})
		return
	}
	err := s.st.DeleteRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// events streams a run's progress as Server-Sent Events: "progress" once
// a second while it runs, then one "state" with its final state, and the
// stream ends. A finished run gets its state at once.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rc := http.NewResponseController(w)
	send := func(e event) error {
		b, _ := json.Marshal(e.Data)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Name, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	final := func() {
		if run, err := s.st.Run(context.WithoutCancel(r.Context()), id); err == nil {
			send(event{"state", stateEvent{State: run.State, Message: run.Message}})
		}
	}
	ch, unsubscribe, ok := s.runs.subscribe(id)
	if !ok {
		run := s.lookup(w, r)
		if run == nil {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		send(event{"state", stateEvent{State: run.State, Message: run.Message}})
		return
	}
	defer unsubscribe()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	// A comment every 15 s keeps proxies from closing an idle stream
	// during a warm-up or a queue wait.
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case e, open := <-ch:
			if !open {
				final() // the final state, even if this stream missed it
				return
			}
			if e.Name == "state" {
				if st := e.Data.(stateEvent).State; st.Final() {
					continue // sent by final(), from the store
				}
			}
			if send(e) != nil {
				return
			}
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// result answers 409 for a run without a result yet.
func (s *Server) result(w http.ResponseWriter, r *http.Request) *store.Run {
	run := s.lookup(w, r)
	if run == nil {
		return nil
	}
	if run.Result == nil {
		writeError(w, http.StatusConflict, fmt.Errorf("run %s is %s and has no result", run.ID, run.State))
		return nil
	}
	return run
}

func (s *Server) runReport(w http.ResponseWriter, r *http.Request) {
	run := s.result(w, r)
	if run == nil {
		return
	}
	var b bytes.Buffer
	if err := report.WriteHTML(&b, []*spec.PerformanceTestResult{run.Result}, report.Options{Title: reportTitle(run)}); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func reportTitle(run *store.Run) string {
	if run.Name != "" {
		return run.Name
	}
	return "run " + run.ID
}

// export answers a run's result as an SMP document (format json, the
// default, or yaml) or as Fortio's result JSON (fortio).
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if !slices.Contains([]string{"json", "yaml", "fortio"}, format) {
		writeError(w, http.StatusBadRequest, badField("format", "%q: want json, yaml or fortio", format))
		return
	}
	run := s.result(w, r)
	if run == nil {
		return
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "fortio":
		err = report.Write(&b, "fortio", []*spec.PerformanceTestResult{run.Result}, report.Options{})
		w.Header().Set("Content-Type", "application/json")
	default:
		var out []byte
		out, err = spec.Encode(run.Result, format)
		b.Write(out)
		w.Header().Set("Content-Type", map[string]string{"json": "application/json", "yaml": "application/yaml"}[format])
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	ext := map[string]string{"json": "json", "yaml": "yaml", "fortio": "fortio.json"}[format]
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="smp-%s.%s"`, run.ID, ext))
	w.Write(b.Bytes())
}

// importDoc stores an outside document: results (SMP, Fortio, Meshery)
// become runs, test configs (SMP, Meshery profiles) become profiles.
func (s *Server) importDoc(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "import"
	}
	doc, err := interop.Read(body, name)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	out := map[string]any{"kind": string(doc.Kind), "notes": doc.Notes}
	if len(doc.Invalid) > 0 {
		out["invalid"] = doc.Invalid.Error()
	}
	if len(doc.Results) > 0 {
		var ids []string
		for _, res := range doc.Results {
			id, err := s.st.SaveResult(r.Context(), res, store.SaveOptions{Uncorrected: doc.Uncorrected})
			if err != nil {
				writeError(w, http.StatusInternalServerError, err)
				return
			}
			ids = append(ids, id)
		}
		out["runs"] = ids
		writeJSON(w, http.StatusCreated, out)
		return
	}
	var ids []string
	for i, cfg := range doc.Configs {
		p := &store.Profile{Name: cfg.GetName(), Config: cfg}
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s %d", name, i+1)
		}
		if err := s.st.SaveProfile(r.Context(), p); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, errors.New("the document holds no result and no test config"))
		return
	}
	out["profiles"] = ids
	writeJSON(w, http.StatusCreated, out)
}

// compareRequest is the body of POST /api/v1/compare: runs by id, the
// baseline first, and the options of `smp compare` (zero: its defaults).
type compareRequest struct {
	IDs            []string `json:"ids"`
	Confidence     float64  `json:"confidence"`
	Alpha          float64  `json:"alpha"`
	Correction     string   `json:"correction"`
	IncludePartial bool     `json:"include_partial"`
	Save           bool     `json:"save"`
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req compareRequest
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	opts := stats.Options{Confidence: req.Confidence, Alpha: req.Alpha, IncludePartial: req.IncludePartial}
	var err error
	if opts.Correction, err = stats.ParseCorrection(req.Correction); err != nil {
		writeError(w, http.StatusBadRequest, badField("correction", "%v", err))
		return
	}
	runs, code, err := s.comparedRuns(r.Context(), req.IDs)
	if err != nil {
		writeError(w, code, err)
		return
	}
	cs, err := compareRuns(runs, opts)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var b bytes.Buffer
	if err := stats.WriteComparisons(&b, cs, "json"); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	var text bytes.Buffer
	stats.WriteComparisons(&text, cs, "text")
	out := map[string]any{"ids": req.IDs, "comparisons": json.RawMessage(b.Bytes()), "text": text.String()}
	var warnings []string
	for _, c := range cs {
		for _, wn := range c.Warnings {
			warnings = append(warnings, c.OtherName+" vs "+c.BaseName+": "+wn)
		}
	}
	out["warnings"] = warnings
	if req.Save {
		c := &store.Comparison{RunIDs: req.IDs, Output: b.Bytes()}
		if err := s.st.SaveComparison(r.Context(), c); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		out["id"] = c.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// comparedRuns loads the runs of a comparison: two or more distinct ids,
// each with a result.
func (s *Server) comparedRuns(ctx context.Context, ids []string) ([]*store.Run, int, error) {
	if len(ids) < 2 {
		return nil, http.StatusBadRequest, badField("ids", "%d given: a comparison needs a baseline and another run", len(ids))
	}
	if len(ids) > 20 {
		return nil, http.StatusBadRequest, badField("ids", "%d given: at most 20", len(ids))
	}
	var runs []*store.Run
	for i, id := range ids {
		if slices.Index(ids, id) != i {
			return nil, http.StatusBadRequest, badField(fmt.Sprintf("ids[%d]", i), "%s is given twice: a run compared with itself shows nothing", id)
		}
		run, err := s.st.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, http.StatusNotFound, badField(fmt.Sprintf("ids[%d]", i), "%v", err)
		}
		if err != nil {
			return nil, http.StatusInternalServerError, err
		}
		if run.Result == nil {
			return nil, http.StatusConflict, badField(fmt.Sprintf("ids[%d]", i), "run %s is %s and has no result", id, run.State)
		}
		runs = append(runs, run)
	}
	return runs, 0, nil
}

// compareRuns compares as `smp compare` does: the same sides (names,
// uncorrected latency) through stats.CompareSides.
func compareRuns(runs []*store.Run, opts stats.Options) ([]*stats.Comparison, error) {
	results := make([]*spec.PerformanceTestResult, len(runs))
	given := make([]string, len(runs))
	for i, run := range runs {
		results[i] = run.Result
		given[i] = run.Name
	}
	names := report.ResultNames(results, given)
	sides := make([]stats.Side, len(runs))
	for i, run := range runs {
		sides[i] = stats.Side{Name: names[i], Result: run.Result, Uncorrected: run.Uncorrected}
	}
	return stats.CompareSides(sides, opts)
}

// compareReport is the HTML report of several runs (?ids=a,b,c, the
// baseline first): overlaid percentile spectra and the comparison.
func (s *Server) compareReport(w http.ResponseWriter, r *http.Request) {
	var ids []string
	for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	runs, code, err := s.comparedRuns(r.Context(), ids)
	if err != nil {
		writeError(w, code, err)
		return
	}
	results := make([]*spec.PerformanceTestResult, len(runs))
	names := make([]string, len(runs))
	for i, run := range runs {
		results[i], names[i] = run.Result, run.Name
	}
	var b bytes.Buffer
	if err := report.WriteHTML(&b, results, report.Options{Title: "Comparison", Names: names}); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (s *Server) getComparison(w http.ResponseWriter, r *http.Request) {
	c, err := s.st.Comparison(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "created": c.Created, "ids": c.RunIDs, "comparisons": json.RawMessage(c.Output)})
}

type profileJSON struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
	Config  json.RawMessage `json:"config"`
}

func profileOut(p *store.Profile) profileJSON {
	b, _ := spec.Encode(p.Config, "json")
	return profileJSON{ID: p.ID, Name: p.Name, Created: p.Created, Updated: p.Updated, Config: b}
}

func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request) {
	ps, err := s.st.Profiles(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]profileJSON, len(ps))
	for i, p := range ps {
		out[i] = profileOut(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"profiles": out})
}

// postProfile saves {"name", "config"} (an SMP config, or a Meshery
// profile), or replaces the profile "id".
func (s *Server) postProfile(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		ID     string          `json:"id"`
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
	}
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		writeError(w, http.StatusBadRequest, badField("name", "empty"))
		return
	}
	if len(req.Config) == 0 {
		writeError(w, http.StatusBadRequest, badField("config", "missing"))
		return
	}
	doc, err := interop.Read(req.Config, "config")
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	cfg, _, err := doc.TestConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p := &store.Profile{ID: req.ID, Name: req.Name, Config: cfg}
	if err := s.st.SaveProfile(r.Context(), p); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, profileOut(p))
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.st.Profile(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOut(p))
}

func (s *Server) deleteProfile(w http.ResponseWriter, r *http.Request) {
	err := s.st.DeleteProfile(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// info tells the UI what it needs to offer: the demo target and limits.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"demo": s.cfg.Demo, "engine": s.st.Engine(), "version": smprun.Version(),
		"max_duration_s": s.cfg.MaxDuration.Seconds(), "max_runs": s.cfg.MaxRuns,
	})
}
