package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/store"
	"github.com/smp-project/smp/target"
)

// The crash test runs a real load test in a child process (this test
// binary again, TestCrashChild) that saves it to the store, kills it
// with SIGKILL in the middle, and checks what the store kept.
const (
	crashEnv    = "SMP_STORE_CRASH_DSN"
	crashURLEnv = "SMP_STORE_CRASH_URL"
)

// TestCrashChild is the child: it is skipped unless the crash test
// started it.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv(crashEnv)
	if dsn == "" {
		t.Skip("the child process of TestCrashKeepsSeconds")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &spec.PerformanceTestConfig{Name: "crash", Duration: "60s", Clients: []*spec.PerformanceTestConfig_Client{
		{Connections: 2, Rps: 200, EndpointUrls: []string{os.Getenv(crashURLEnv)}}}}
	run := &store.Run{Name: "crash", Config: cfg}
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, run.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("run %s\n", run.ID)
	rec := store.NewRecorder(s, run.ID)
	// Metrics set: the engine then copies its histogram into each
	// second's progress, which the Recorder saves.
	_, err = smprun.RunSeries(ctx, []smprun.Variant{{Config: cfg}}, smprun.SeriesOptions{
		Metrics: func(ri smprun.RunInfo, p load.Progress) { rec.Progress(ri.Run, p) },
	})
	t.Fatalf("the run ended (%v) before the parent killed it", err)
}

func TestCrashKeepsSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load test for several seconds")
	}
	srv, err := target.Start(t.Context(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			dsn := e.dsn(t)
			if !store.IsPostgres(dsn) {
				dsn = filepath.Join(t.TempDir(), "crash.db")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
			cmd.Env = append(os.Environ(), crashEnv+"="+dsn, crashURLEnv+"="+url)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var id string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "run "); ok {
					id = v
					break
				}
			}
			if id == "" {
				t.Fatal("the child printed no run id")
			}
			go func() {
				for sc.Scan() { // drain, so that the child never blocks on stdout
				}
			}()
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Wait for 3 saved seconds, then kill the child at once: every
			// second seen here was committed before the kill.
			var seen []store.Second
			for len(seen) < 3 {
				if ctx.Err() != nil {
					t.Fatal("no 3 seconds saved in time")
				}
				time.Sleep(50 * time.Millisecond)
				if seen, err = s.Seconds(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code runs in the child
				t.Fatal(err)
			}
			cmd.Wait()
			r, err := s.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != store.Running {
				t.Fatalf("after the kill the run is %s, want still running until recovered", r.State)
			}
			ids, err := s.Recover(ctx)
			if err != nil || len(ids) != 1 || ids[0] != id {
				t.Fatalf("recover: %v %v", ids, err)
			}
			if r, err = s.Run(ctx, id); err != nil {
				t.Fatal(err)
			}
			res := r.Result
			if r.State != store.Partial || !res.GetPartial() || res.GetPartialReason() == "" {
				t.Fatalf("recovered run: state %s, partial %v %q", r.State, res.GetPartial(), res.GetPartialReason())
			}
			if n := len(res.GetIntervals()); n < len(seen) {
				t.Errorf("%d seconds kept, %d were saved before the kill", n, len(seen))
			}
			last := seen[len(seen)-1]
			if res.GetRequests().GetTotal() < last.Requests || res.GetDurationS() < last.OffsetS {
				t.Errorf("kept %d requests over %v s; %d over %v s were saved before the kill",
					res.GetRequests().GetTotal(), res.GetDurationS(), last.Requests, last.OffsetS)
			}
			// About 200/s: the rebuilt rate says what ran.
			if q := res.GetActualQps(); q < 150 || q > 250 {
				t.Errorf("rebuilt rate %.1f/s, want about 200", q)
			}
			h, err := hist.Decode(res.GetHistogram().GetData())
			if err != nil {
				t.Fatalf("rebuilt histogram: %v", err)
			}
			if h.Count() == 0 || res.GetLatenciesMs().GetP99() <= 0 || len(res.GetPercentilesMs()) == 0 {
				t.Errorf("rebuilt latency: %d in the histogram, %v", h.Count(), res.GetLatenciesMs())
			}
			t.Logf("%s: killed after %d saved seconds; kept %d seconds, %d requests, p99 %.3f ms",
				e.name, len(seen), len(res.GetIntervals()), res.GetRequests().GetTotal(), res.GetLatenciesMs().GetP99())
		})
	}
}
