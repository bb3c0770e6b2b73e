package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smpBin is the smp binary the experiments' {smp} runs, built once.
var smpBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smp-lab-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	smpBin = filepath.Join(dir, "smp")
	if out, err := exec.Command("go", "build", "-o", smpBin, "github.com/smp-project/smp/cmd/smp").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build smp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func parse(t *testing.T, y string) *Experiment {
	t.Helper()
	e, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRunLevels: two variants of one target (one 3 ms slower) at two
// rates: every run counted, in the seeded order, compared, reported; the
// target process is started and stopped by the experiment.
func TestRunLevels(t *testing.T) {
	port := freePort(t)
	e := parse(t, fmt.Sprintf(`
name: levels
runs: 2
seed: 42
duration: 400ms
connections: 2
start: ["{smp} target --http 127.0.0.1:%d"]
variants:
  - name: direct
    endpoint: http://127.0.0.1:%[1]d/
  - name: delayed
    endpoint: http://127.0.0.1:%[1]d/?delay=3ms
levels:
  rates: [50, 100]
`, port))
	res, err := Run(context.Background(), e, Options{SMP: smpBin})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Levels) != 2 || res.Seed != 42 || res.Order != "random" || res.Partial {
		t.Fatalf("levels %d seed %d order %s partial %v (%s)", len(res.Levels), res.Seed, res.Order, res.Partial, res.PartialReason)
	}
	for _, lr := range res.Levels {
		if len(lr.Variants) != 2 || len(lr.cmps) != 1 {
			t.Fatalf("at %g/s: %d variants, %d comparisons", lr.Rate, len(lr.Variants), len(lr.cmps))
		}
		want := int64(lr.Rate * 0.4 * 2)
		for i := range lr.Variants {
			r, err := lr.Variants[i].SMP()
			if err != nil {
				t.Fatal(err)
			}
			if r.GetRequests().GetTotal() != want || len(r.GetRuns()) != 2 || r.GetRunOrder().GetSeed() != 42+uint64(indexOf(res.Levels, lr.Rate)) {
				t.Errorf("%s at %g/s: %d requests in %d runs (want %d in 2), order %v", lr.Variants[i].Name, lr.Rate, r.GetRequests().GetTotal(), len(r.GetRuns()), want, r.GetRunOrder())
			}
		}
		c := lr.cmps[0]
		for _, mc := range c.Metrics {
			if mc.Metric == "p50" && !(mc.Change > 300) {
				t.Errorf("at %g/s: delayed p50 change %+.0f%%, want far above +300%% (3 ms on a sub-millisecond answer)", lr.Rate, mc.Change)
			}
		}
	}
	// The target was stopped with the experiment.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("the target still listens after the experiment")
	}
	var text, page bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"at 50/s requested", "delayed vs direct", "failed p50"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	for _, want := range []string{`id="latency"`, `id="throughput"`, `id="failed"`, "<h2>At 100/s</h2>"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The result travels as JSON and its SMP results load again.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if r, err := back.Levels[1].Variants[1].SMP(); err != nil || r.GetRequests().GetTotal() != 80 {
		t.Errorf("reloaded result: %v, %v", r.GetRequests(), err)
	}
}

func indexOf(ls []LevelResult, rate float64) int {
	for i, l := range ls {
		if l.Rate == rate {
			return i
		}
	}
	return -1
}

// TestCapacitySearch: a target that admits 200 requests a second (503
// beyond) has a capacity of about 200/s, bracketed.
func TestCapacitySearch(t *testing.T) {
	port := freePort(t)
	e := parse(t, fmt.Sprintf(`
name: capacity
duration: 1s
connections: 4
start: ["{smp} target --http 127.0.0.1:%d --max-rps 200"]
variants:
  - name: app
    endpoint: http://127.0.0.1:%[1]d/
levels:
  capacity: {start: 50, max: 800, p99: 100ms, errors: 1, tolerance: 0.1, confirm: 1}
`, port))
	res, err := Run(context.Background(), e, Options{SMP: smpBin})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Capacities) != 1 {
		t.Fatalf("%d capacities", len(res.Capacities))
	}
	c := res.Capacities[0]
	t.Logf("%s; steps %+v", c.text(), c.Steps)
	if c.Capacity < 170 || c.Capacity > 205 || !(c.High > c.Capacity) || c.High > 250 || c.Confirmed != 1 {
		t.Errorf("capacity %v in [%v, %v) confirmed %d: want about 200/s, bracketed below 250/s", c.Capacity, c.Low, c.High, c.Confirmed)
	}
}

func TestExperimentBadInput(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nvarients: []\n", `field varients not found`},
		{"name: x\nlevels: {rates: [10]}\n", "variants: none"},
		{"variants: [{name: a, endpoint: 'not a url'}]\nlevels: {rates: [10]}\n", "variants[0].endpoint"},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}, {name: a, endpoint: 'http://127.0.0.1:1/'}]\nlevels: {rates: [10]}\n", `variants[1].name: "a" is used twice`},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}]\nlevels: {rates: [10, -1]}\n", "levels.rates[1]"},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}]\n", "levels: none"},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}]\nlevels: {capacity: {start: 10, max: 100}}\n", "levels.capacity.p99"},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}]\nbaseline: b\nlevels: {rates: [1]}\n", `baseline: "b" is not a variant`},
		{"duration: soon\n", "not a duration"},
		{"variants: [{name: a, endpoint: 'http://127.0.0.1:1/'}]\norder: sideways\nlevels: {rates: [1]}\n", "order"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestProcessFails: a start command that exits is reported with its
// output, not waited for until the timeout.
func TestProcessFails(t *testing.T) {
	e := parse(t, `
name: broken
variants:
  - name: a
    endpoint: http://127.0.0.1:1/
    start: ["echo cannot bind >&2; exit 3"]
levels: {rates: [10]}
`)
	start := time.Now()
	_, err := Run(context.Background(), e, Options{SMP: smpBin, ReadyTimeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "cannot bind") {
		t.Fatalf("err %v, want the exit and its output", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v to notice", took)
	}
}
