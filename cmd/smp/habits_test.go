package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// TestRunScheduleFlags runs -n, fractional --qps, --ramp and --steps
// against the built-in target and checks the result's counts against what
// the target itself counted (one more: the probe before the schedule).
func TestRunScheduleFlags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		total     int64   // exact request count
		slack     int64   // allowed difference for schedules that end mid-slot
		requested float64 // requested_qps, 0 to skip
		duration  float64 // duration_s of the window, 0 to skip
		check     func(t *testing.T, r *spec.PerformanceTestResult)
	}{
		{name: "count open loop", args: []string{"-n", "300", "--qps", "200", "-c", "2"}, total: 300, requested: 200, duration: 1.5,
			check: func(t *testing.T, r *spec.PerformanceTestResult) {
				if c := r.GetConfig().GetClients()[0]; c.GetRequests() != 300 || c.GetRps() != 200 || r.GetConfig().GetDuration() != "1.5s" {
					t.Errorf("config: requests %d rps %d duration %q", c.GetRequests(), c.GetRps(), r.GetConfig().GetDuration())
				}
			}},
		{name: "count closed loop", args: []string{"-n", "500", "--qps", "0", "-c", "4"}, total: 500},
		{name: "count with a longer cap", args: []string{"-n", "100", "--qps", "100", "-d", "1m", "-c", "2"}, total: 100, requested: 100, duration: 1},
		{name: "fractional rate", args: []string{"--qps", "150.5", "-d", "2s", "-c", "2"}, total: 301, requested: 150.5, duration: 2,
			check: func(t *testing.T, r *spec.PerformanceTestResult) {
				if c := r.GetConfig().GetClients()[0]; c.GetQps() != 150.5 || c.GetRps() != 151 {
					t.Errorf("config: qps %v rps %d, want 150.5 and the rounded 151", c.GetQps(), c.GetRps())
				}
			}},
		{name: "ramp", args: []string{"--ramp", "100:300/2s", "-c", "2"}, total: 400, slack: 1, requested: 200, duration: 2},
		{name: "steps", args: []string{"--steps", "100,200/1s", "-c", "2"}, total: 300, slack: 1, requested: 150, duration: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"run", "http://" + srv.Addrs().HTTP + "/", "-q", "-o", out}, tc.args...)
			code, stdout, stderr := smp(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			doc, err := spec.LoadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			r := doc.Result
			got := r.GetRequests().GetTotal()
			if d := got - tc.total; d < -tc.slack || d > tc.slack {
				t.Errorf("%d requests, want %d ± %d", got, tc.total, tc.slack)
			}
			if seen := int64(srv.Stats().RequestsTotal); seen != got+1 {
				t.Errorf("the target saw %d requests, the result says %d (+1 probe)", seen, got)
			}
			if tc.requested > 0 && math.Abs(r.GetRequestedQps()-tc.requested) > tc.requested*0.01 {
				t.Errorf("requested_qps %v, want %v", r.GetRequestedQps(), tc.requested)
			}
			if tc.duration > 0 && math.Abs(r.GetDurationS()-tc.duration) > 0.3 {
				t.Errorf("duration_s %v, want %v", r.GetDurationS(), tc.duration)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestRunOKStatus: a status outside the success set is a failure, outside
// the latency figures; with no success there are no latency figures at all,
// the summary says so and a latency SLO fails; --ok-status changes the set.
func TestRunOKStatus(t *testing.T) {
	url := runTarget(t) + "?status=503"
	dir := t.TempDir()
	out := filepath.Join(dir, "r.yaml")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "100", "-d", "500ms", "-c", "1", "-o", out, "--slo", "p99<1s")
	if code != 1 || !strings.Contains(stdout, "no successful requests") || !strings.Contains(stdout+stderr, "SLO p99<1s FAILED: SLO p99<1s: no successful requests") {
		t.Errorf("all 503: exit %d, want 1 with 'no successful requests'\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "p99.99") {
		t.Errorf("all 503: the summary prints a latency table:\n%s", stdout)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Result
	if r.GetRequests().GetOk() != 0 || r.GetRequests().GetErrors() != 50 || r.LatenciesMs != nil || r.UncorrectedLatenciesMs != nil ||
		len(r.PercentilesMs) != 0 || r.GetHistogram().GetData() != "" || r.GetErrorLatenciesMs().GetP50() <= 0 || r.GetErrors()["http_503"] != 50 {
		t.Errorf("all 503: requests %v latencies %v percentiles %v errors %v error latencies %v",
			r.GetRequests(), r.LatenciesMs, r.PercentilesMs, r.GetErrors(), r.GetErrorLatenciesMs())
	}

	out2 := filepath.Join(dir, "r2.yaml")
	code, stdout, stderr = smp(t, "run", url, "-q", "--qps", "100", "-d", "500ms", "-c", "1", "-o", out2, "--ok-status", "200-299,503", "--slo", "p99<1s")
	if code != 0 {
		t.Fatalf("--ok-status 503: exit %d\n%s%s", code, stdout, stderr)
	}
	doc, err = spec.LoadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	r = doc.Result
	if r.GetRequests().GetOk() != 50 || r.GetRequests().GetErrors() != 0 || r.GetLatenciesMs().GetP50() <= 0 || r.GetConfig().GetClients()[0].GetOkStatus() != "200-299,503" {
		t.Errorf("--ok-status 503: requests %v latencies %v config %v", r.GetRequests(), r.GetLatenciesMs(), r.GetConfig().GetClients()[0])
	}
}

func TestRunScheduleFlagsBadInput(t *testing.T) {
	url := "http://127.0.0.1:1/" // never reached: the flags are refused first
	cfg := writeFile(t, "ramp.yaml", "duration: 1s\nclients:\n- endpoint_urls: ["+url+"]\n  ramp: \"100-200/1s\"\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ramp", "100/3s"}, "--ramp"},
		{[]string{"--ramp", "100:200"}, "FROM:TO/DURATION"},
		{[]string{"--ramp", "100:fast/1s"}, "is not a rate"},
		{[]string{"--steps", "100,x/1s"}, "rate 2"},
		{[]string{"--steps", "100,200/0s"}, "positive duration"},
		{[]string{"--qps", "10", "--ramp", "1:2/1s"}, "give one of --qps, --ramp and --steps"},
		{[]string{"--qps", "-1"}, "--qps must be 0"},
		{[]string{"--qps", "NaN"}, "--qps must be 0"},
		{[]string{"-n", "0"}, "-n must be at least 1"},
		{[]string{"--ok-status", "2xx"}, "--ok-status"},
		{[]string{"--ok-status", "400-200"}, "ends before it starts"},
		{[]string{"-f", cfg}, "clients[0].ramp"},
	} {
		args := append([]string{"run", "-q"}, tc.args...)
		if tc.args[0] != "-f" {
			args = append(args, url)
		}
		code, stdout, stderr := smp(t, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s%s", tc.args, code, tc.want, stdout, stderr)
		}
	}
}

// TestRunErrorMessages: the result keeps what the errors were, with counts
// that add up to the errors of their kind, and the summary gives a hint.
func TestRunErrorMessages(t *testing.T) {
	url := runTarget(t)
	refused := "http://127.0.0.1:1/" // a port nothing listens on: refused at once, on loopback
	out := filepath.Join(t.TempDir(), "r.yaml")
	code, stdout, stderr := smp(t, "run", url, refused, "-q", "--qps", "100", "-d", "400ms", "-c", "2", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"connect_refused × 20: ", "connect: connection refused", "hint       connection refused"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Result
	var n int64
	for _, s := range r.GetErrorSamples() {
		if s.GetKind() != "connect_refused" || !strings.Contains(s.GetMessage(), "127.0.0.1:1") {
			t.Errorf("sample %v", s)
		}
		n += s.GetCount()
	}
	if n != r.GetErrors()["connect_refused"] || n != 20 {
		t.Errorf("samples count %d errors, the result %d connect_refused, want 20", n, r.GetErrors()["connect_refused"])
	}
}

// TestRunPerEndpoint: with several URLs each endpoint has its own figures,
// whose counts equal what each target saw, and a slow endpoint shows.
func TestRunPerEndpoint(t *testing.T) {
	var urls []string
	var srvs []*target.Server
	for _, delay := range []string{"", "?delay=3ms"} {
		srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		srvs = append(srvs, srv)
		urls = append(urls, "http://"+srv.Addrs().HTTP+"/"+delay)
	}
	out := filepath.Join(t.TempDir(), "r.yaml")
	code, stdout, stderr := smp(t, "run", urls[0], urls[1], "-q", "--qps", "200", "-d", "1s", "-c", "4", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "endpoint") || !strings.Contains(stdout, urls[1]) {
		t.Errorf("summary has no endpoint table:\n%s", stdout)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	eps := doc.Result.GetEndpoints()
	if len(eps) != 2 {
		t.Fatalf("%d endpoint results, want 2", len(eps))
	}
	var sum int64
	for i, e := range eps {
		n := e.GetRequests().GetTotal()
		sum += n
		if e.GetName() != urls[i] {
			t.Errorf("endpoint %d is %q, want %q", i, e.GetName(), urls[i])
		}
		if seen := int64(srvs[i].Stats().RequestsTotal); seen != n+1 {
			t.Errorf("%s: the target saw %d requests, the result says %d (+1 probe)", urls[i], seen, n)
		}
	}
	if sum != doc.Result.GetRequests().GetTotal() || sum != 200 {
		t.Errorf("endpoints sum to %d requests, the result has %d, want 200", sum, doc.Result.GetRequests().GetTotal())
	}
	if fast, slow := eps[0].GetLatenciesMs().GetP50(), eps[1].GetLatenciesMs().GetP50(); !(fast < 3 && slow >= 3) {
		t.Errorf("p50 %v ms and %v ms: want the 3 ms endpoint at or above 3 ms and the other below", fast, slow)
	}
}

// TestRunReportHeader: the report says what was measured at its top, and a
// report named like another format is refused before the run.
func TestRunReportHeader(t *testing.T) {
	url := runTarget(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "r.html")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "100", "-c", "2", "-d", "300ms", "--report", page, "--name", "checkout")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	i := strings.Index(html, `<p class="headline">`)
	if i < 0 {
		t.Fatalf("no headline in the report")
	}
	head := html[i:]
	head = head[:strings.Index(head, "</p>")]
	for _, want := range []string{"checkout: ", url, "HTTP", "100/s requested", "2 connections", "0.3s"} {
		if !strings.Contains(head, want) {
			t.Errorf("headline %q lacks %q", head, want)
		}
	}
	code, _, stderr = smp(t, "run", url, "-q", "--qps", "100", "-d", "300ms", "--report", filepath.Join(dir, "r.pdf"))
	if code != 2 || !strings.Contains(stderr, "the report is HTML; name it .html") {
		t.Errorf("--report r.pdf: exit %d, want 2 with a word about HTML\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.pdf")); err == nil {
		t.Errorf("r.pdf was written")
	}
}
