package livemetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smp-project/smp/livemetrics"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return mf
}

func sum(mf map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	var s float64
	f := mf[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			s += m.Counter.GetValue()
		case m.Gauge != nil:
			s += m.Gauge.GetValue()
		case m.Histogram != nil:
			s += float64(m.Histogram.GetSampleCount())
		}
	}
	return s
}

// A run against the built-in target, scraped twice while it goes: the
// request counter rises, the histogram never runs ahead of it, errors
// are counted by kind.
func TestLiveRun(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	ms, err := livemetrics.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()

	cfg := &spec.PerformanceTestConfig{Duration: "3s", Clients: []*spec.PerformanceTestConfig_Client{
		{Name: "ok", Connections: 2, Rps: 200, EndpointUrls: []string{url}},
		{Name: "failing", Connections: 1, Rps: 20, EndpointUrls: []string{url + "?status=503"}},
	}}
	so := smprun.SeriesOptions{Metrics: func(ri smprun.RunInfo, p load.Progress) { ms.Observe(ri.Variant, ri.Run, p) }}
	done := make(chan error, 1)
	go func() {
		_, err := smprun.RunSeries(context.Background(), []smprun.Variant{{Name: "base", Config: cfg}}, so)
		done <- err
	}()

	// First scrape once some requests are counted, the second a while later.
	var first map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		first = scrape(t, ms.URL())
		if sum(first, "smp_requests_total", nil) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no requests counted in 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond)
	second := scrape(t, ms.URL())
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	r1, r2 := sum(first, "smp_requests_total", nil), sum(second, "smp_requests_total", nil)
	if r2 <= r1 {
		t.Errorf("requests did not rise between scrapes: %v then %v", r1, r2)
	}
	for i, mf := range []map[string]*dto.MetricFamily{first, second} {
		req := sum(mf, "smp_requests_total", map[string]string{"variant": "base"})
		h := mf["smp_latency_seconds"]
		if h == nil || len(h.Metric) != 1 || h.Metric[0].Histogram == nil {
			t.Fatalf("scrape %d: no latency histogram: %v", i+1, h)
		}
		hist := h.Metric[0].Histogram
		if n := float64(hist.GetSampleCount()); n > req || n == 0 {
			t.Errorf("scrape %d: histogram count %v, requests %v", i+1, n, req)
		}
		if b := hist.Bucket; len(b) < len(livemetrics.Buckets) || b[len(b)-1].GetCumulativeCount() > hist.GetSampleCount() {
			t.Errorf("scrape %d: buckets %v", i+1, b)
		}
		if sum(mf, "smp_requested_rate", nil) != 220 || sum(mf, "smp_actual_rate", nil) <= 0 || sum(mf, "smp_warmup", nil) != 0 {
			t.Errorf("scrape %d: rates %v/%v, warm-up %v", i+1, sum(mf, "smp_requested_rate", nil), sum(mf, "smp_actual_rate", nil), sum(mf, "smp_warmup", nil))
		}
	}
	if ok, bad := sum(second, "smp_requests_total", map[string]string{"client": "ok"}), sum(second, "smp_requests_total", map[string]string{"client": "failing"}); ok <= bad || bad == 0 {
		t.Errorf("requests by client: ok %v, failing %v", ok, bad)
	}
	if e := sum(second, "smp_errors_total", map[string]string{"reason": "http_503"}); e == 0 {
		var b strings.Builder
		for _, m := range second["smp_errors_total"].GetMetric() {
			fmt.Fprintln(&b, m)
		}
		t.Errorf("no http_503 errors counted: %s", b.String())
	}
}

// Counters keep rising across runs of a variant; a warm-up flags it.
func TestRunsAccumulate(t *testing.T) {
	m := livemetrics.New()
	m.Observe("a", 1, load.Progress{Requests: 10, Clients: []load.ClientProgress{{Name: "c", Requests: 10}}, ErrorReasons: map[string]int64{"timeout": 2}})
	m.Observe("a", 2, load.Progress{Warmup: true})
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range mfs {
		for _, x := range f.Metric {
			switch {
			case x.Counter != nil:
				got[f.GetName()] += x.Counter.GetValue()
			case x.Gauge != nil:
				got[f.GetName()] += x.Gauge.GetValue()
			}
		}
	}
	if got["smp_requests_total"] != 10 || got["smp_errors_total"] != 2 || got["smp_warmup"] != 1 || got["smp_run"] != 2 {
		t.Errorf("after a second run's warm-up: %v", got)
	}
}
