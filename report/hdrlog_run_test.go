package report_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/http1"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// A real run with a stall covering a whole second: the HDR log has one
// line per interval that had answers and none for the silent one, and
// hdrhistogram-go's own log reader finds every request of the result.
func TestAccuracyHDRLogPerInterval(t *testing.T) {
	if race.Enabled {
		t.Skip("timing test: runs in the pass without the race detector")
	}
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	drv, err := http1.New(load.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	pacer, err := load.NewConstant(200)
	if err != nil {
		t.Fatal(err)
	}
	// The stall starts 0.8 s into the window and lasts 1.6 s: nothing is
	// answered from 0.8 s to 2.4 s, so the interval [1 s, 2 s) has none.
	stall := time.AfterFunc(810*time.Millisecond, func() { srv.Stall(1600 * time.Millisecond) })
	defer stall.Stop()
	res, err := load.Run(context.Background(), load.Config{
		Clients:  []load.Client{{Connections: 4, Pacer: pacer, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: 4 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := smprun.ToSMP(res, &spec.PerformanceTestConfig{}, smprun.ResultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ivs := r.GetIntervals()
	if len(ivs) != 4 || ivs[1].GetLatencies() != 0 || ivs[1].GetHistogram() != "" || ivs[1].GetP99Ms() != 0 {
		t.Fatalf("intervals %v: want 4 with the second empty", ivs)
	}
	var csv bytes.Buffer
	if err := report.WriteIntervalsCSV(&csv, []*spec.PerformanceTestResult{r}, []string{"run"}); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Split(csv.String(), "\n"); len(rows) < 3 || !strings.HasSuffix(rows[2], ",,,") {
		t.Errorf("the silent second's CSV row must have empty latencies:\n%s", csv.String())
	}
	var buf bytes.Buffer
	if err := report.WriteHDRLog(&buf, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), ",HISTF"); n != 3 {
		t.Errorf("%d histogram lines, want 3 (no line for the silent second):\n%s", n, buf.String())
	}
	reader := hdr.NewHistogramLogReader(&buf)
	var total int64
	for range 10 {
		h, err := reader.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		total += h.TotalCount()
	}
	if total != r.GetRequests().GetTotal() {
		t.Errorf("log holds %d values, the result %d requests", total, r.GetRequests().GetTotal())
	}
}
