package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/server"
	"github.com/smp-project/smp/stats"
	"github.com/smp-project/smp/store"
	"github.com/smp-project/smp/target"
)

// env is a server on 127.0.0.1 over a fresh SQLite store, with the
// built-in target as the thing to load.
type env struct {
	srv    *server.Server
	st     store.Store
	base   string // http://127.0.0.1:port
	target string // http://127.0.0.1:port/
	token  string
}

func start(t *testing.T, cfg server.Config) *env {
	t.Helper()
	tg, err := target.Start(t.Context(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "smp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.Store = st
	srv, err := server.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, port, _ := strings.Cut(srv.Addr(), "]:")
	if port == "" {
		port = srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:]
	}
	return &env{srv: srv, st: st, base: "http://127.0.0.1:" + port, target: "http://" + tg.Addrs().HTTP + "/", token: cfg.Token}
}

// do sends a request and returns the status and body.
func (e *env) do(t *testing.T, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // the client sends req.Host, not a Host header
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) config(qps int, duration string) string {
	return fmt.Sprintf(`{"name": "t", "duration": %q, "clients": [{"connections": 2, "rps": %d, "endpoint_urls": [%q]}]}`, duration, qps, e.target)
}

// waitFinal polls a run until its state is final.
func (e *env) waitFinal(t *testing.T, id string) map[string]any {
	t.Helper()
	for range 600 {
		code, b := e.do(t, "GET", "/api/v1/runs/"+id, "")
		if code != 200 {
			t.Fatalf("GET run: %d %s", code, b)
		}
		var r map[string]any
		json.Unmarshal(b, &r)
		if st := r["state"].(string); st != "queued" && st != "running" {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish in 60 s", id)
	return nil
}

func TestBadRequests(t *testing.T) {
	e := start(t, server.Config{MaxBody: 64 << 10})
	cfg := e.config(100, "1s")
	tests := []struct {
		name, method, path, body string
		code                     int
		field, msg               string // in the JSON error
	}{
		{"bad JSON", "POST", "/api/v1/runs", `{"config": {"clients": [}`, 400, "", "bad JSON"},
		{"wrong type", "POST", "/api/v1/runs", `{"config": ` + cfg + `, "runs": "two"}`, 400, "runs", "want a JSON int"},
		{"unknown field", "POST", "/api/v1/runs", `{"config": ` + cfg + `, "rnus": 2}`, 400, "rnus", "unknown field"},
		{"bad config field", "POST", "/api/v1/runs", `{"config": {"duration": "10 parsecs", "clients": [{"rps": 1, "endpoint_urls": ["` + e.target + `"]}]}}`, 400, "duration", ""},
		{"bad client field", "POST", "/api/v1/runs", `{"duration": "1s", "clients": [{"connections": -3, "endpoint_urls": ["` + e.target + `"]}]}`, 400, "clients[0].connections", ""},
		{"body_file refused", "POST", "/api/v1/runs", `{"duration": "1s", "clients": [{"body_file": "/etc/passwd", "endpoint_urls": ["` + e.target + `"]}]}`, 400, "clients[0].body_file", "not accepted"},
		{"too many runs", "POST", "/api/v1/runs", `{"config": ` + cfg + `, "runs": 100000}`, 400, "runs", ""},
		{"too long", "POST", "/api/v1/runs", e.config(1, "2h"), 400, "duration", "at most 1h0m0s"},
		{"target outside the allow-list", "POST", "/api/v1/runs", `{"duration": "1s", "clients": [{"endpoint_urls": ["` + e.target + `", "http://192.0.2.1/"]}]}`, 403, "", "clients[0].endpoint_urls[1]: 192.0.2.1 is not in the allowed targets"},
		{"oversize", "POST", "/api/v1/runs", `{"config": ` + cfg + `, "name": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "", "over 65536 bytes"},
		{"oversize import", "POST", "/api/v1/import", strings.Repeat(" ", 65<<10) + "{}", 413, "", ""},
		{"unknown run", "GET", "/api/v1/runs/nope", "", 404, "", "not found"},
		{"unknown run events", "GET", "/api/v1/runs/nope/events", "", 404, "", "not found"},
		{"unknown run delete", "DELETE", "/api/v1/runs/nope", "", 404, "", "not found"},
		{"unknown profile", "POST", "/api/v1/runs", `{"profile_id": "nope"}`, 404, "profile_id", ""},
		{"unknown compare id", "POST", "/api/v1/compare", `{"ids": ["nope", "nada"]}`, 404, "ids[0]", ""},
		{"compare one", "POST", "/api/v1/compare", `{"ids": ["a"]}`, 400, "ids", "needs a baseline"},
		{"bad label filter", "GET", "/api/v1/runs?label=mesh", "", 400, "label", "key=value"},
		{"bad since", "GET", "/api/v1/runs?since=yesterday", "", 400, "since", ""},
		{"bad limit", "GET", "/api/v1/runs?limit=0", "", 400, "limit", ""},
		{"unknown API", "GET", "/api/v1/nothing", "", 404, "", "no API"},
		{"cross-origin POST", "POST", "/api/v1/runs", cfg, 403, "", "cross-origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.name == "cross-origin POST" {
				hdr = []string{"Origin", "http://evil.example"}
			}
			code, b := e.do(t, tt.method, tt.path, tt.body, hdr...)
			var ae struct{ Error, Field string }
			if err := json.Unmarshal(b, &ae); err != nil {
				t.Fatalf("%d, not a JSON error: %s", code, b)
			}
			if code != tt.code || ae.Field != tt.field || !strings.Contains(ae.Error, tt.msg) || ae.Error == "" {
				t.Errorf("got %d %+v, want %d field %q message with %q", code, ae, tt.code, tt.field, tt.msg)
			}
		})
	}
	if runs, _ := e.st.Runs(t.Context(), store.Filter{}); len(runs) != 0 {
		t.Errorf("a refused request stored %d runs", len(runs))
	}
}

func TestAuthBeyondLoopback(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "smp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// 0.0.0.0 is beyond loopback: without a token the server refuses to
	// start. (The test connects over 127.0.0.1 only.)
	if _, err := server.Start(t.Context(), server.Config{Listen: "0.0.0.0:0", Store: st}); err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Fatalf("started beyond loopback without a token: %v", err)
	}
	e := start(t, server.Config{Listen: "0.0.0.0:0", Token: "s3cret-token"})
	for _, c := range []struct {
		name string
		hdr  []string
		code int
	}{
		{"no token", nil, 401},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401},
		{"right token", []string{"Authorization", "Bearer s3cret-token"}, 200},
		{"cookie", []string{"Cookie", "smp_token=s3cret-token"}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", e.base+"/api/v1/runs", nil)
			for i := 0; i+1 < len(c.hdr); i += 2 {
				req.Header.Set(c.hdr[i], c.hdr[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%d, want %d", resp.StatusCode, c.code)
			}
		})
	}
	// Without a token on loopback, a Host that is not loopback (DNS
	// rebinding) is refused.
	lo := start(t, server.Config{})
	code, _ := lo.do(t, "GET", "/api/v1/runs", "", "Host", "attacker.example:8090")
	if code != 403 {
		t.Errorf("a foreign Host got %d, want 403", code)
	}
}

// TestRunLifecycle starts a run, follows it over SSE, lists, exports,
// imports, compares and deletes.
func TestRunLifecycle(t *testing.T) {
	e := start(t, server.Config{})
	code, b := e.do(t, "POST", "/api/v1/runs", `{"config": `+e.config(200, "3s")+`, "name": "base", "labels": {"mesh": "none"}}`)
	if code != 201 {
		t.Fatalf("POST run: %d %s", code, b)
	}
	var created struct{ ID, State string }
	json.Unmarshal(b, &created)
	if created.ID == "" || created.State != "queued" {
		t.Fatalf("created %s", b)
	}
	// Live progress over SSE: at least two progress events with growing
	// counts, then the final state.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.base+"/api/v1/runs/"+created.ID+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	var progress []map[string]any
	var final string
	sc := bufio.NewScanner(resp.Body)
	var name string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			var m map[string]any
			json.Unmarshal([]byte(v), &m)
			if name == "progress" {
				progress = append(progress, m)
			}
			if name == "state" && m["state"] != "running" {
				final = m["state"].(string)
			}
		}
	}
	resp.Body.Close()
	if final != "done" || len(progress) < 2 {
		t.Fatalf("stream: final %q after %d progress events", final, len(progress))
	}
	if a, z := progress[0]["requests"].(float64), progress[len(progress)-1]["requests"].(float64); z <= a || z < 400 {
		t.Errorf("progress requests went %v to %v", a, z)
	}
	run := e.waitFinal(t, created.ID)
	res := run["result"].(map[string]any)
	if run["state"] != "done" || res["requests"].(map[string]any)["total"].(float64) < 500 || len(run["seconds"].([]any)) < 2 ||
		run["labels"].(map[string]any)["mesh"] != "none" {
		t.Fatalf("finished run: %v", run)
	}

	// Export as SMP and as Fortio JSON, import both back.
	code, smpDoc := e.do(t, "GET", "/api/v1/runs/"+created.ID+"/export", "")
	if code != 200 || !bytes.Contains(smpDoc, []byte(`"latencies_ms"`)) {
		t.Fatalf("export: %d %.200s", code, smpDoc)
	}
	code, fortio := e.do(t, "GET", "/api/v1/runs/"+created.ID+"/export?format=fortio", "")
	if code != 200 || !bytes.Contains(fortio, []byte(`"DurationHistogram"`)) {
		t.Fatalf("fortio export: %d %.200s", code, fortio)
	}
	code, b = e.do(t, "POST", "/api/v1/import?name=fortio", string(fortio))
	if code != 201 || !strings.Contains(string(b), `"runs"`) {
		t.Fatalf("import fortio: %d %s", code, b)
	}
	code, b = e.do(t, "POST", "/api/v1/runs", `{"config": `+e.config(200, "3s")+`, "name": "mesh", "labels": {"mesh": "istio"}}`)
	if code != 201 {
		t.Fatalf("second run: %d %s", code, b)
	}
	var second struct{ ID string }
	json.Unmarshal(b, &second)
	e.waitFinal(t, second.ID)

	// List with filters.
	for _, c := range []struct {
		query string
		want  int
	}{
		{"", 3}, {"?label=mesh=istio", 1}, {"?label=mesh=none&since=1h", 1}, {"?state=done&limit=2", 2}, {"?until=2001-01-01", 0},
	} {
		code, b := e.do(t, "GET", "/api/v1/runs"+c.query, "")
		var l struct{ Runs []map[string]any }
		json.Unmarshal(b, &l)
		if code != 200 || len(l.Runs) != c.want {
			t.Errorf("list %q: %d, %d runs, want %d: %.300s", c.query, code, len(l.Runs), c.want, b)
		}
	}

	// Compare: the verdicts are those of stats.CompareSides with smp
	// compare's defaults on the same results.
	code, b = e.do(t, "POST", "/api/v1/compare", fmt.Sprintf(`{"ids": [%q, %q], "save": true}`, created.ID, second.ID))
	if code != 200 {
		t.Fatalf("compare: %d %s", code, b)
	}
	var cmp struct {
		ID          string
		Comparisons json.RawMessage
		Text        string
	}
	json.Unmarshal(b, &cmp)
	r1, _ := e.st.Run(t.Context(), created.ID)
	r2, _ := e.st.Run(t.Context(), second.ID)
	cs, err := stats.CompareSides([]stats.Side{{Name: "base", Result: r1.Result}, {Name: "mesh", Result: r2.Result}}, stats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	stats.WriteComparisons(&want, cs, "json")
	if !jsonEqual(t, cmp.Comparisons, want.Bytes()) {
		t.Errorf("API comparison differs from stats':\n got %s\nwant %s", cmp.Comparisons, want.Bytes())
	}
	if cmp.ID == "" || !strings.Contains(cmp.Text, "base") {
		t.Errorf("compare answer: id %q text %q", cmp.ID, cmp.Text)
	}
	if code, b := e.do(t, "GET", "/api/v1/comparisons/"+cmp.ID, ""); code != 200 || !bytes.Contains(b, []byte(second.ID)) {
		t.Errorf("saved comparison: %d %s", code, b)
	}
	if code, b := e.do(t, "GET", "/api/v1/compare/report?ids="+created.ID+","+second.ID, ""); code != 200 || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("compare report: %d %.100s", code, b)
	}
	if code, b := e.do(t, "GET", "/api/v1/runs/"+created.ID+"/report", ""); code != 200 || !bytes.Contains(b, []byte("<html")) {
		t.Errorf("run report: %d %.100s", code, b)
	}

	// Delete a finished run: gone.
	if code, _ := e.do(t, "DELETE", "/api/v1/runs/"+second.ID, ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := e.do(t, "GET", "/api/v1/runs/"+second.ID, ""); code != 404 {
		t.Errorf("deleted run: %d", code)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func TestCancelAndProfiles(t *testing.T) {
	e := start(t, server.Config{})
	code, b := e.do(t, "POST", "/api/v1/profiles", `{"name": "long", "config": `+e.config(100, "60s")+`}`)
	if code != 201 {
		t.Fatalf("profile: %d %s", code, b)
	}
	var p struct{ ID string }
	json.Unmarshal(b, &p)
	code, b = e.do(t, "POST", "/api/v1/runs", fmt.Sprintf(`{"profile_id": %q}`, p.ID))
	if code != 201 {
		t.Fatalf("run from profile: %d %s", code, b)
	}
	var run struct{ ID string }
	json.Unmarshal(b, &run)
	// Queued behind it: a second run, cancelled before it starts.
	_, b = e.do(t, "POST", "/api/v1/runs", e.config(100, "60s"))
	var queued struct{ ID string }
	json.Unmarshal(b, &queued)
	for range 100 { // until the first has measured a second or two
		if secs, _ := e.st.Seconds(t.Context(), run.ID); len(secs) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range []string{queued.ID, run.ID} {
		if code, b := e.do(t, "DELETE", "/api/v1/runs/"+id, ""); code != 202 {
			t.Fatalf("cancel: %d %s", code, b)
		}
	}
	got := e.waitFinal(t, run.ID)
	if got["state"] != "cancelled" || got["name"] != "long" || got["result"] == nil || got["partial"] != true {
		t.Errorf("cancelled run: state %v name %v partial %v result %v", got["state"], got["name"], got["partial"], got["result"] != nil)
	}
	if got := e.waitFinal(t, queued.ID); got["state"] != "cancelled" || got["result"] != nil {
		t.Errorf("cancelled queued run: %v", got)
	}
	if code, b := e.do(t, "GET", "/api/v1/profiles", ""); code != 200 || !bytes.Contains(b, []byte(`"long"`)) {
		t.Errorf("profiles: %d %s", code, b)
	}
	if code, _ := e.do(t, "DELETE", "/api/v1/profiles/"+p.ID, ""); code != 204 {
		t.Errorf("delete profile: %d", code)
	}
	if code, _ := e.do(t, "GET", "/api/v1/profiles/"+p.ID, ""); code != 404 {
		t.Errorf("deleted profile: %d", code)
	}
	// Meshery's files import: its profiles as profiles (the malformed one
	// named), its results export as runs.
	for _, c := range []struct{ file, key string }{
		{"meshery-profiles-one-bad.json", `"profiles"`},
		{"meshery-results-export.json", `"runs"`},
	} {
		doc, err := os.ReadFile(filepath.Join("..", "interop", "testdata", "shapes", c.file))
		if err != nil {
			t.Fatal(err)
		}
		code, b := e.do(t, "POST", "/api/v1/import?name="+c.file, string(doc))
		if code != 201 || !strings.Contains(string(b), c.key) {
			t.Errorf("import %s: %d %s", c.file, code, b)
		}
	}
}
